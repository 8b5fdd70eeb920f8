package cluster

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that every goroutine started by the tests ends: the
// package's own and gocql's, whose sessions the tests must close. One of
// gocql's (v1.7.0) outlives Session.Close by design: after a failed attempt
// to fill a host's connection pool, which happens when a test's server
// closes under a session, it sleeps up to 130ms before it marks the host
// down, and Close does not wait for it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/gocql/gocql.(*hostConnPool).fillingStopped"))
}
