package cassandramigrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/internal/cassandra"
	"github.com/tollgate/tollgate/internal/cqlserver/cqlservertest"
	"github.com/tollgate/tollgate/internal/migration"
)

// testConfig points at a fresh CQL server (or TOLLGATE_TEST_CASSANDRA) with
// a keyspace of the test's own.
func testConfig(t *testing.T) cassandra.Config {
	t.Helper()
	addr, _ := cqlservertest.Start(t)
	cfg := cassandra.DefaultConfig()
	cfg.Hosts = []string{addr}
	cfg.Keyspace = cqlservertest.Keyspace(t)
	cfg.Timeout = 10 * time.Second
	cfg.ConnectTimeout = 5 * time.Second
	t.Cleanup(func() { dropKeyspace(t, cfg) })
	return cfg
}

func dropKeyspace(t *testing.T, cfg cassandra.Config) {
	ks := cfg.Keyspace
	cfg.Keyspace = ""
	s, err := cassandra.Connect(context.Background(), cfg)
	if err != nil {
		return // the server is gone already
	}
	defer s.Close()
	if err := s.Query("DROP KEYSPACE IF EXISTS " + ks).Exec(); err != nil {
		t.Logf("drop keyspace %s: %v", ks, err)
	}
}

func session(t *testing.T, cfg cassandra.Config) *gocql.Session {
	t.Helper()
	s, err := cassandra.Connect(t.Context(), cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// tableQueries read each table of 001_init.cql by its partition key, as
// its users do.
var tableQueries = map[string]string{
	"entities":          `SELECT id, body, version FROM entities WHERE kind = 'services' AND workspace = 'default'`,
	"config_changes":    `SELECT version, op, kind, workspace, id, body, node, at FROM config_changes WHERE bucket = 0 AND version > 0 ORDER BY version DESC LIMIT 5`,
	"config_head":       `SELECT version FROM config_head WHERE id = 'head'`,
	"cluster_nodes":     `SELECT node_id, hostname, proxy_listen, admin_listen, version, config_version, started_at, last_seen FROM cluster_nodes WHERE cluster = 'default'`,
	"ratelimit_slots":   `SELECT node, hits, rate FROM ratelimit_slots WHERE key = 'k' AND period = 'minute' AND window_start = 0`,
	"ratelimit_quotas":  `SELECT used FROM ratelimit_quotas WHERE key = 'k' AND period = 'day' AND window_start = 0`,
	"schema_migrations": `SELECT version, name, checksum, applied_at FROM schema_migrations WHERE component = 'core'`,
}

func TestUpAndStatus(t *testing.T) {
	cfg := testConfig(t)
	ctx := t.Context()
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}

	st, err := Status(ctx, cfg)
	if !errors.Is(err, ErrNoKeyspace) || !strings.Contains(err.Error(), "tollgate migrate cassandra up") ||
		!strings.Contains(err.Error(), cfg.Keyspace) {
		t.Fatalf("Status before up: %v, want ErrNoKeyspace naming %s and the command to run", err, cfg.Keyspace)
	}
	if len(st) != len(migs) {
		t.Fatalf("Status before up lists %d migrations, want %d", len(st), len(migs))
	}
	for _, s := range st {
		if s.State() != "pending" {
			t.Errorf("before up: %d_%s is %s", s.Version, s.Name, s.State())
		}
	}

	before := time.Now().Add(-time.Second)
	applied, err := Up(ctx, cfg, DefaultReplication(), testLogger(t))
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if len(applied) != len(migs) {
		t.Fatalf("Up applied %v, want every migration %v", applied, migs)
	}
	s := session(t, cfg)
	for table, q := range tableQueries {
		if err := s.Query(q).Exec(); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}

	again, err := Up(ctx, cfg, DefaultReplication(), testLogger(t))
	if err != nil || len(again) != 0 {
		t.Fatalf("second Up applied %v, %v; want nothing", again, err)
	}

	st, err = Status(ctx, cfg)
	if err != nil {
		t.Fatalf("Status after up: %v", err)
	}
	if len(st) != len(migs) {
		t.Fatalf("Status lists %d migrations, want %d", len(st), len(migs))
	}
	for i, s := range st {
		if s.Version != migs[i].Version || s.Name != migs[i].Name || s.State() != "applied" {
			t.Errorf("after up: %+v, want %s applied", s, migs[i].File)
		}
		if s.AppliedAt.Before(before) || s.AppliedAt.After(time.Now().Add(time.Second)) {
			t.Errorf("%s applied_at %v, want about now", migs[i].File, s.AppliedAt)
		}
	}
}

// TestModifiedMigration: someone edited an applied migration. Up refuses,
// naming it, and applies nothing; Status flags it.
func TestModifiedMigration(t *testing.T) {
	cfg := testConfig(t)
	ctx := t.Context()
	if _, err := Up(ctx, cfg, DefaultReplication(), nil); err != nil {
		t.Fatalf("Up: %v", err)
	}
	s := session(t, cfg)
	if err := s.Query(`UPDATE schema_migrations SET checksum = ? WHERE component = ? AND version = ?`,
		strings.Repeat("0", 64), Component, 1).Exec(); err != nil {
		t.Fatal(err)
	}
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	next := testMigration(t, 1000, "add_table", "CREATE TABLE IF NOT EXISTS later (id text PRIMARY KEY);\n")
	applied, err := up(ctx, cfg, DefaultReplication(), nil, append(migs, next))
	if !errors.Is(err, ErrModified) || !strings.Contains(err.Error(), "001_init.cql") {
		t.Fatalf("Up: %v, want ErrModified naming 001_init.cql", err)
	}
	if len(applied) != 0 {
		t.Fatalf("Up applied %v with a modified migration recorded", applied)
	}
	if err := s.Query(`SELECT id FROM later WHERE id = 'x'`).Exec(); err == nil {
		t.Fatalf("Up created the pending migration's table although it refused")
	}
	st, err := Status(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].State() != "modified" {
		t.Errorf("Status: %+v, want 001 modified", st[0])
	}
}

// TestNewMigration: a binary with a migration more applies only that one;
// one that fails half way is not recorded and is re-run whole.
func TestNewMigration(t *testing.T) {
	cfg := testConfig(t)
	ctx := t.Context()
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up(ctx, cfg, DefaultReplication(), nil, migs); err != nil {
		t.Fatalf("Up: %v", err)
	}

	broken := testMigration(t, 1000, "add_tables",
		"CREATE TABLE IF NOT EXISTS first_new (id text PRIMARY KEY);\nCREATE TABLE IF NOT EXISTS second_new (id text PRIMARY KEY) WITH nonsense;\n")
	applied, err := up(ctx, cfg, DefaultReplication(), testLogger(t), append(migs, broken))
	if err == nil || !strings.Contains(err.Error(), "1000_add_tables.cql statement 2") {
		t.Fatalf("Up with a bad statement: %v, want an error naming the file and statement", err)
	}
	if len(applied) != 0 {
		t.Fatalf("applied %v", applied)
	}
	st, err := status(ctx, cfg, append(migs, broken))
	if err != nil {
		t.Fatal(err)
	}
	if last := st[len(st)-1]; last.Version != 1000 || last.State() != "pending" {
		t.Fatalf("failed migration: %+v, want pending", last)
	}

	fixed := testMigration(t, 1000, "add_tables",
		"CREATE TABLE IF NOT EXISTS first_new (id text PRIMARY KEY);\nCREATE TABLE IF NOT EXISTS second_new (id text PRIMARY KEY);\n")
	applied, err = up(ctx, cfg, DefaultReplication(), testLogger(t), append(migs, fixed))
	if err != nil {
		t.Fatalf("Up after the fix: %v", err)
	}
	if len(applied) != 1 || applied[0].Version != 1000 {
		t.Fatalf("applied %v, want only 1000_add_tables.cql", applied)
	}
	s := session(t, cfg)
	for _, q := range []string{`SELECT id FROM first_new WHERE id = 'x'`, `SELECT id FROM second_new WHERE id = 'x'`} {
		if err := s.Query(q).Exec(); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}

	// The binary without 1000 (an older Tollgate) sees it as unknown and
	// applies nothing.
	applied, err = Up(ctx, cfg, DefaultReplication(), nil)
	if err != nil || len(applied) != 0 {
		t.Fatalf("older binary's Up: %v, %v", applied, err)
	}
	st, err = Status(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if last := st[len(st)-1]; last.Version != 1000 || last.State() != "unknown" || last.Name != "add_tables" {
		t.Fatalf("older binary's Status: %+v, want 1000 unknown", last)
	}
}

// TestKeyspaceReplication: the keyspace is created with the replication
// asked for, and an existing keyspace keeps its own.
func TestKeyspaceReplication(t *testing.T) {
	cfg := testConfig(t)
	ctx := t.Context()
	if _, err := Up(ctx, cfg, Replication{Class: SimpleStrategy, Factor: 1}, nil); err != nil {
		t.Fatal(err)
	}
	noKS := cfg
	noKS.Keyspace = ""
	s := session(t, noKS)
	var repl map[string]string
	if err := s.Query(`SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?`, cfg.Keyspace).Scan(&repl); err != nil {
		t.Fatalf("read replication: %v", err)
	}
	if !strings.HasSuffix(repl["class"], "SimpleStrategy") || repl["replication_factor"] != "1" {
		t.Fatalf("replication %v", repl)
	}
	// A second up asking for more replicas changes nothing, and says so.
	var logs strings.Builder
	if _, err := Up(ctx, cfg, Replication{Class: SimpleStrategy, Factor: 3}, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "keyspace exists with another replication") ||
		!strings.Contains(logs.String(), "replication=SimpleStrategy:1 asked=SimpleStrategy:3") {
		t.Errorf("no warning about the replication left as it is:\n%s", logs.String())
	}
	if err := s.Query(`SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?`, cfg.Keyspace).Scan(&repl); err != nil {
		t.Fatal(err)
	}
	if repl["replication_factor"] != "1" {
		t.Fatalf("replication changed to %v", repl)
	}
}

func TestUpRejectsBadInput(t *testing.T) {
	cfg := cassandra.DefaultConfig()
	cfg.Hosts = []string{"127.0.0.1:1"} // never dialled: input is checked first
	tests := []struct {
		name    string
		ks      string
		r       Replication
		wantErr string
	}{
		{name: "no keyspace", ks: "", r: DefaultReplication(), wantErr: "no keyspace configured"},
		{name: "bad keyspace", ks: "tollgate-prod", r: DefaultReplication(), wantErr: `"tollgate-prod" is not a valid keyspace name`},
		{name: "bad replication", ks: "tollgate", r: Replication{Class: "SimpleStrategy"}, wantErr: "factor 0 must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			c.Keyspace = tt.ks
			_, err := Up(t.Context(), c, tt.r, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Up: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func testMigration(t *testing.T, version int, name, src string) Migration {
	t.Helper()
	stmts, err := cql.Split(src)
	if err != nil {
		t.Fatal(err)
	}
	return Migration{
		Version: version, Name: name, File: fmt.Sprintf("%d_%s.cql", version, name),
		Statements: stmts, Checksum: migration.Checksum(stmts),
	}
}

func TestNetworkTopologyKeyspace(t *testing.T) {
	cfg := testConfig(t)
	// datacenter1 is the datacenter of a default single-node Cassandra
	// and of the in-memory server.
	r, err := ParseReplication("NetworkTopologyStrategy:datacenter1=1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Up(t.Context(), cfg, r, nil); err != nil {
		t.Fatalf("Up: %v", err)
	}
	noKS := cfg
	noKS.Keyspace = ""
	got, err := keyspaceReplication(t.Context(), session(t, noKS), cfg.Keyspace)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != "NetworkTopologyStrategy:datacenter1=1" {
		t.Fatalf("keyspace replication %s", got)
	}
}
