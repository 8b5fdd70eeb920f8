package cqlservertest

import (
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tollgate/tollgate/internal/cassandra"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestKeyspace(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		ks := Keyspace(t)
		if !cassandra.ValidKeyspace(ks) {
			t.Fatalf("%q is not a valid keyspace name", ks)
		}
		if seen[ks] {
			t.Fatalf("%q handed out twice", ks)
		}
		seen[ks] = true
	}
}

func TestStart(t *testing.T) {
	t.Setenv(EnvCassandra, "")
	addr, srv := Start(t)
	if srv == nil {
		t.Fatal("no server started")
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("server at %s not accepting: %v", addr, err)
	}
	_ = c.Close()
}

func TestStartRealCassandra(t *testing.T) {
	t.Setenv(EnvCassandra, "cassandra.example:9042")
	addr, srv := Start(t)
	if addr != "cassandra.example:9042" || srv != nil {
		t.Fatalf("Start = %q, %v; want the configured address and no server", addr, srv)
	}
}
