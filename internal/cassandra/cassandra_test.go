package cassandra_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/cassandra"
	"github.com/tollgate/tollgate/internal/cqlserver"
)

func TestValidateNamesEveryBadField(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*cassandra.Config)
		want   []string
	}{
		{"defaults", func(*cassandra.Config) {}, nil},
		{"host with port", func(c *cassandra.Config) { c.Hosts = []string{"db1:9043", "db2"} }, nil},
		{"no hosts", func(c *cassandra.Config) { c.Hosts = nil }, []string{"cassandra_hosts"}},
		{"bad port", func(c *cassandra.Config) { c.Hosts = []string{"db:ninety"} }, []string{`cassandra_hosts: "db:ninety"`}},
		{"everything", func(c *cassandra.Config) {
			c.Consistency = "SOMETIMES"
			c.SerialConsistency = "QUORUM"
			c.Keyspace = "1st"
		}, []string{"cassandra_consistency", "cassandra_serial_consistency", "cassandra_keyspace"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cassandra.DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v does not name %s", err, w)
				}
			}
		})
	}
}

// TestLazyConnectsWhenCassandraArrives: a Lazy made while nothing listens
// fails fast, waits its retry delay, and connects once the server is up.
func TestLazyConnectsWhenCassandraArrives(t *testing.T) {
	srv := cqlserver.New(cqlserver.Options{})
	t.Cleanup(func() { srv.Close() })
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	srv.Stop()

	c := cassandra.DefaultConfig()
	c.Hosts = []string{addr}
	c.Keyspace = ""
	l := cassandra.NewLazy(c, 200*time.Millisecond)
	defer l.Close()
	_, first := l.Session()
	if first == nil {
		t.Fatal("connected to a stopped server")
	}
	// Within the retry delay the last error comes back without a dial.
	if _, again := l.Session(); again != first {
		t.Fatalf("second attempt within the retry delay: %v; want the first error again", again)
	}
	if err := srv.Listen(addr); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; i < 50; i++ {
		s, e := l.Session()
		if e == nil {
			if s.Closed() {
				t.Fatal("closed session")
			}
			err = nil
			break
		}
		err = e
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no session once the server is up: %v", err)
	}
	l.Close()
	if _, err := l.Session(); !errors.Is(err, cassandra.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
