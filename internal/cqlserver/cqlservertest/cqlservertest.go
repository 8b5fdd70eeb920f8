// Package cqlservertest starts a cqlserver for a test, or points the test
// at a real Cassandra when TOLLGATE_TEST_CASSANDRA is set. It owns nothing
// beyond the server it starts, which it stops when the test ends; it must
// never be imported outside tests.
package cqlservertest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/tollgate/tollgate/internal/cqlserver"
)

// EnvCassandra names the environment variable holding host:port of a real
// Cassandra to run tests against instead of an in-memory server.
const EnvCassandra = "TOLLGATE_TEST_CASSANDRA"

// Start returns the address of a CQL server for t. Normally it starts an
// in-memory cqlserver on 127.0.0.1 and closes it when t ends; when
// TOLLGATE_TEST_CASSANDRA=host:port is set it returns that address and a
// nil server, so tests that need the server (Stop, Stats) must skip then.
func Start(t testing.TB) (addr string, srv *cqlserver.Server) {
	t.Helper()
	if real := os.Getenv(EnvCassandra); real != "" {
		t.Logf("using the Cassandra at %s (%s)", real, EnvCassandra)
		return real, nil
	}
	srv = cqlserver.New(cqlserver.Options{})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatalf("start cqlserver: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv.Addr(), srv
}

// keyspaces numbers keyspace names handed out in this process. It is the
// one piece of package state: names must differ across every test of a
// test binary, and across binaries sharing one Cassandra (the random
// suffix).
var keyspaces atomic.Int64

// Keyspace returns a keyspace name no other test uses: "t_", a counter
// and random hex, valid unquoted in CQL (at most 48 characters).
func Keyspace(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random keyspace name: %v", err)
	}
	return fmt.Sprintf("t_%d_%s", keyspaces.Add(1), hex.EncodeToString(b[:]))
}
