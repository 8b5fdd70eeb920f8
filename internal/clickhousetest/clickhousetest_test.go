package clickhousetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

var shared Shared

func TestMain(m *testing.M) { os.Exit(shared.Main(m, true)) }

func count(t *testing.T, s *Server, db, query string) uint64 {
	t.Helper()
	var n uint64
	if err := s.Conn(t, db).QueryRow(t.Context(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestSharedServer(t *testing.T) {
	t.Setenv(EnvAddr, "")
	s := shared.Server(t)
	if again := shared.Server(t); again != s {
		t.Fatal("Shared.Server started a second server")
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	var version string
	if err := s.Conn(t, "default").QueryRow(t.Context(), "SELECT version()").Scan(&version); err != nil {
		t.Fatalf("version: %v", err)
	}
	t.Logf("clickhouse %s at %s (http %s)", version, s.Addr(), s.HTTPAddr())
}

func TestDatabase(t *testing.T) {
	t.Setenv(EnvAddr, "")
	s := shared.Server(t)
	var name string
	t.Run("create", func(t *testing.T) {
		name = s.Database(t)
		if other := s.Database(t); other == name {
			t.Fatalf("Database handed out %q twice", name)
		}
		conn := s.Conn(t, name)
		if err := conn.Exec(t.Context(), "CREATE TABLE t (x UInt64) ENGINE = MergeTree() ORDER BY x"); err != nil {
			t.Fatalf("create table in %s: %v", name, err)
		}
	})
	// The subtest's cleanup dropped the database.
	q := fmt.Sprintf("SELECT count() FROM system.databases WHERE name = '%s'", name)
	if n := count(t, s, "default", q); n != 0 {
		t.Fatalf("database %s still exists after its test ended", name)
	}
}

func TestStopStartKeepsDataAndPorts(t *testing.T) {
	t.Setenv(EnvAddr, "")
	s := Start(t)
	SkipIfExternal(t, s)
	db := s.Database(t)
	conn := s.Conn(t, db)
	ctx := t.Context()
	if err := conn.Exec(ctx, "CREATE TABLE t (x UInt64) ENGINE = MergeTree() ORDER BY x"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "INSERT INTO t (x) SELECT number FROM system.numbers LIMIT 3"); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()

	tests := []struct {
		name string
		stop func() error
	}{
		{"graceful stop", s.Stop},
		{"kill", s.Kill},
		{"restart", func() error { return nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
			if tc.name != "restart" {
				if s.Running() {
					t.Fatal("Running after stop")
				}
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				if err := s.Ping(pctx); err == nil {
					t.Fatal("ping succeeded on a stopped server")
				}
				if err := s.Stop(); err != nil {
					t.Fatalf("second stop: %v", err)
				}
				if err := s.Start(); err != nil {
					t.Fatalf("start: %v", err)
				}
			} else if err := s.Restart(); err != nil {
				t.Fatalf("restart: %v", err)
			}
			if s.Addr() != addr {
				t.Fatalf("address changed from %s to %s", addr, s.Addr())
			}
			if n := count(t, s, db, "SELECT count() FROM t"); n != 3 {
				t.Fatalf("after %s: %d rows, want 3", tc.name, n)
			}
		})
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestExternalServer(t *testing.T) {
	t.Setenv(EnvAddr, "clickhouse.example:9000")
	s := Start(t)
	if !s.External() || s.Addr() != "clickhouse.example:9000" {
		t.Fatalf("Start = %+v; want the external address", s)
	}
	for name, f := range map[string]func() error{"Stop": s.Stop, "Kill": s.Kill, "Start": s.Start} {
		if err := f(); !errors.Is(err, ErrExternal) {
			t.Errorf("%s on an external server = %v; want ErrExternal", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close on an external server = %v", err)
	}
	var sh Shared
	if got := sh.Server(t); got.Addr() != "clickhouse.example:9000" {
		t.Errorf("Shared.Server = %s; want the external address", got.Addr())
	}
	if err := sh.Close(); err != nil {
		t.Errorf("Shared.Close = %v", err)
	}
}

// recorder is a testing.TB that records Skip and Fatal instead of ending
// the goroutine.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Skipf(string, ...any)  { r.skipped = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }

func TestMissingBinary(t *testing.T) {
	tests := []struct {
		name    string
		require string
		fail    bool
	}{
		{name: "not required", require: "", fail: false},
		{name: "other parts required", require: "chromium", fail: false},
		{name: "required", require: "clickhouse", fail: true},
		{name: "required among others", require: "chromium, ClickHouse", fail: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvRequire, tc.require)
			r := &recorder{TB: t}
			skipOrFail(r, ErrNoBinary)
			if r.failed != tc.fail || r.skipped == tc.fail {
				t.Fatalf("failed=%v skipped=%v; want failed=%v", r.failed, r.skipped, tc.fail)
			}
		})
	}
}
