package clickhousetest

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/tollgate/tollgate/internal/clickhouselocal"
)

// Shared is one server for every test of a test binary that does not need
// to stop it: starting ClickHouse takes about a second, and a database per
// test (Database) keeps tests apart. The zero value is ready; it starts
// the server on first use. The test binary declares one and stops it in
// TestMain after the tests ran:
//
//	var clickhouse clickhousetest.Shared
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		clickhouse.Close()
//		os.Exit(code)
//	}
type Shared struct {
	mu     sync.Mutex
	srv    *Server
	dir    string
	err    error // a start that failed, returned again to every test
	closed bool
}

// Server returns the shared server, starting it on first use. A missing
// binary skips t (or fails it, see EnvRequire); a server that failed to
// start fails t, and every later test, with the same error.
func (sh *Shared) Server(t testing.TB) *Server {
	t.Helper()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		t.Fatal("clickhousetest: Shared used after Close")
	}
	if sh.srv != nil {
		return sh.srv
	}
	if addr := os.Getenv(EnvAddr); addr != "" {
		t.Logf("using the ClickHouse at %s (%s)", addr, EnvAddr)
		sh.srv = &Server{addr: addr, external: true}
		return sh.srv
	}
	bin, err := clickhouselocal.FindBinary()
	if err != nil {
		skipOrFail(t, err)
		return nil
	}
	if sh.err != nil {
		t.Fatalf("start clickhouse: %v", sh.err)
	}
	// Not t.TempDir: the directory must outlive the test that happened
	// to start the server.
	dir, err := os.MkdirTemp("", "clickhousetest-")
	if err != nil {
		sh.err = fmt.Errorf("temporary directory: %w", err)
		t.Fatalf("start clickhouse: %v", sh.err)
	}
	srv, err := startServer(bin, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		sh.err = err
		t.Fatalf("start clickhouse: %v", err)
	}
	sh.srv, sh.dir = srv, dir
	return srv
}

// Close stops the shared server, if it was started, and removes its
// directory. It is idempotent.
func (sh *Shared) Close() error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return nil
	}
	sh.closed = true
	var errs []error
	if sh.srv != nil {
		errs = append(errs, sh.srv.Close())
	}
	if sh.dir != "" {
		errs = append(errs, os.RemoveAll(sh.dir))
	}
	return errors.Join(errs...)
}

// Main runs a test binary's tests, then stops sh and, when leaks is set,
// fails the binary if goroutines are left running (goleak). It returns the
// exit code for os.Exit:
//
//	var clickhouse clickhousetest.Shared
//
//	func TestMain(m *testing.M) { os.Exit(clickhouse.Main(m, true)) }
func (sh *Shared) Main(m *testing.M, leaks bool) int {
	code := m.Run()
	if err := sh.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "stop clickhouse:", err)
		code = 1
	}
	if code == 0 && leaks {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left running:", err)
			code = 1
		}
	}
	return code
}
