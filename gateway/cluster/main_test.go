package cluster

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that every goroutine started by the tests ends: the
// package's own and gocql's, whose sessions the tests must close. Some of
// gocql's (v1.7.0) outlive Session.Close by design, all after a failed
// attempt to fill a host's connection pool, which happens when a test's
// server closes under a session: the filling goroutine sleeps up to 130ms
// before it marks the host down, and the connecting ones sleep between
// their retries (500ms by default); Close waits for none of them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/gocql/gocql.(*hostConnPool).fillingStopped"),
		goleak.IgnoreAnyFunction("github.com/gocql/gocql.(*hostConnPool).connectMany"),
		goleak.IgnoreAnyFunction("github.com/gocql/gocql.(*hostConnPool).connect"))
}
