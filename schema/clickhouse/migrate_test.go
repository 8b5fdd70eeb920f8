package clickhousemigrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tollgate/tollgate/internal/migration"
)

// testDB returns a connection to the shared server and a fresh database
// name (created by clickhousetest; Up must cope with it existing).
func testDB(t *testing.T) (driver.Conn, string) {
	t.Helper()
	srv := clickhouse.Server(t)
	db := srv.Database(t)
	return srv.Conn(t, "default"), db
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func TestUpAndStatus(t *testing.T) {
	conn, db := testDB(t)
	ctx := t.Context()
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		wantApplied int
	}{
		{name: "first run applies every migration", wantApplied: len(migs)},
		{name: "second run applies nothing", wantApplied: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			applied, err := Up(ctx, conn, db, testLogger(t))
			if err != nil {
				t.Fatalf("Up: %v", err)
			}
			if len(applied) != tc.wantApplied {
				t.Fatalf("Up applied %v; want %d migrations", applied, tc.wantApplied)
			}
			st, err := Status(ctx, conn, db)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			if len(st) != len(migs) {
				t.Fatalf("Status = %+v; want %d migrations", st, len(migs))
			}
			for i, s := range st {
				if s.Version != migs[i].Version || s.State() != "applied" || s.AppliedAt.IsZero() {
					t.Errorf("Status[%d] = %+v (%s); want version %d applied", i, s, s.State(), migs[i].Version)
				}
			}
		})
	}

	var tables []string
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	want := "consumer_usage_by_day consumer_usage_by_day_mv consumer_usage_by_hour consumer_usage_by_hour_mv " +
		"loaded_offsets loaded_offsets_mv requests " +
		"requests_by_day_consumer requests_by_day_consumer_mv " +
		"requests_by_day_route requests_by_day_route_mv requests_by_day_service requests_by_day_service_mv " +
		"requests_by_day_status requests_by_day_status_mv " +
		"requests_by_hour requests_by_hour_all requests_by_hour_all_mv requests_by_hour_consumer requests_by_hour_consumer_mv requests_by_hour_mv " +
		"requests_by_hour_route requests_by_hour_route_mv " +
		"requests_by_hour_service requests_by_hour_service_mv requests_by_hour_status requests_by_hour_status_mv " +
		"requests_by_hour_workspace requests_by_hour_workspace_mv " +
		"requests_by_minute requests_by_minute_mv requests_by_minute_route requests_by_minute_route_mv " +
		"requests_by_minute_service requests_by_minute_service_mv requests_by_minute_workspace requests_by_minute_workspace_mv requests_by_week_route requests_by_week_route_mv schema_migrations"
	if got := strings.Join(tables, " "); got != want {
		t.Fatalf("tables = %s\nwant     %s", got, want)
	}
}

func TestStatusBeforeUp(t *testing.T) {
	conn, db := testDB(t)
	ctx := t.Context()
	tests := []struct {
		name    string
		db      string
		wantErr error
	}{
		{name: "database exists without schema_migrations", db: db},
		{name: "no database", db: "t_missing_" + strings.TrimPrefix(db, "t_"), wantErr: ErrNoDatabase},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Status(ctx, conn, tc.db)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Status error = %v; want %v", err, tc.wantErr)
			}
			if len(st) == 0 {
				t.Fatal("Status lists no migrations")
			}
			for _, s := range st {
				if s.State() != "pending" {
					t.Errorf("%d is %s; want pending", s.Version, s.State())
				}
			}
		})
	}
}

func TestUpRefusesModifiedMigration(t *testing.T) {
	conn, db := testDB(t)
	ctx := t.Context()
	migs := []Migration{
		{Version: 1, Name: "a", File: "001_a.sql", Statements: []string{"CREATE TABLE IF NOT EXISTS {database}.a (x UInt8) ENGINE = Memory"}},
	}
	migs[0].Checksum = migration.Checksum(migs[0].Statements)
	if _, err := up(ctx, conn, db, nil, migs); err != nil {
		t.Fatalf("up: %v", err)
	}

	changed := []Migration{migs[0], {Version: 2, Name: "b", File: "002_b.sql", Statements: []string{"CREATE TABLE IF NOT EXISTS {database}.b (x UInt8) ENGINE = Memory"}}}
	changed[0].Statements = []string{"CREATE TABLE IF NOT EXISTS {database}.a (x UInt16) ENGINE = Memory"}
	changed[0].Checksum = migration.Checksum(changed[0].Statements)
	changed[1].Checksum = migration.Checksum(changed[1].Statements)
	applied, err := up(ctx, conn, db, nil, changed)
	if !errors.Is(err, ErrModified) || !strings.Contains(err.Error(), "001_a.sql") {
		t.Fatalf("up with a modified migration = %v, %v; want ErrModified naming 001_a.sql", applied, err)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 'b'", db).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("up applied a later migration despite the modified one")
	}
	st, err := status(ctx, conn, db, changed)
	if err != nil {
		t.Fatal(err)
	}
	if got := st[0].State() + "," + st[1].State(); got != "modified,pending" {
		t.Fatalf("status = %s; want modified,pending", got)
	}

	// A migration recorded by a newer binary is listed as unknown.
	st, err = status(ctx, conn, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].State() != "unknown" {
		t.Fatalf("status without embedded migrations = %+v; want 1 unknown", st)
	}
}

func TestUpFailedStatementNotRecorded(t *testing.T) {
	conn, db := testDB(t)
	ctx := t.Context()
	migs := []Migration{
		{Version: 1, Name: "ok", File: "001_ok.sql", Statements: []string{"CREATE TABLE IF NOT EXISTS {database}.a (x UInt8) ENGINE = Memory"}},
		{Version: 2, Name: "bad", File: "002_bad.sql", Statements: []string{"CREATE TABLE IF NOT EXISTS {database}.b (x NoSuchType) ENGINE = Memory"}},
	}
	for i := range migs {
		migs[i].Checksum = migration.Checksum(migs[i].Statements)
	}
	applied, err := up(ctx, conn, db, nil, migs)
	if err == nil || !strings.Contains(err.Error(), "002_bad.sql statement 1") {
		t.Fatalf("up = %v; want an error naming 002_bad.sql statement 1", err)
	}
	if len(applied) != 1 || applied[0].Version != 1 {
		t.Fatalf("applied = %v; want 001_ok.sql", applied)
	}
	st, err := status(ctx, conn, db, migs)
	if err != nil {
		t.Fatal(err)
	}
	if got := st[0].State() + "," + st[1].State(); got != "applied,pending" {
		t.Fatalf("status = %s; want applied,pending", got)
	}
}

func TestUpRejectsBadDatabaseName(t *testing.T) {
	for _, name := range []string{"", "1abc", "a-b", "a b", "a;DROP", strings.Repeat("a", 65)} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			if _, err := Up(context.Background(), nil, name, nil); err == nil {
				t.Fatalf("Up(%q) accepted the name", name)
			}
			if _, err := DropOlderThan(context.Background(), nil, name, time.Hour); err == nil {
				t.Fatalf("DropOlderThan(%q) accepted the name", name)
			}
		})
	}
}

// TestUpSaysWhatItFills: a backfill reads every stored request and can run
// for minutes, so Up names each table it fills before it starts.
func TestUpSaysWhatItFills(t *testing.T) {
	conn, db := testDB(t)
	var out strings.Builder
	if _, err := Up(t.Context(), conn, db, slog.New(slog.NewTextHandler(&out, nil))); err != nil {
		t.Fatalf("Up: %v", err)
	}
	for _, table := range append(slices.Clone(TrafficTables), TableConsumerUsageByDay) {
		if slices.Contains([]string{TableRequests, TableRequestsByMinute, TableRequestsByHour}, table) {
			continue // 001 creates them empty
		}
		if !strings.Contains(out.String(), "table="+db+"."+table+"\n") {
			t.Errorf("Up did not say it fills %s:\n%s", table, out.String())
		}
	}
	if strings.Contains(out.String(), "table="+db+"."+TableRequestsByMinute+"\n") {
		t.Errorf("Up says it fills %s, which 001 creates empty:\n%s", TableRequestsByMinute, out.String())
	}
}

// TestUpFailedFillSaysWhatToDo: a fill cut short leaves rows that the
// next run's fill would skip, so the error says which table to drop.
func TestUpFailedFillSaysWhatToDo(t *testing.T) {
	conn, db := testDB(t)
	migs := []Migration{{Version: 1, Name: "fill", File: "001_fill.sql", Statements: []string{
		"CREATE TABLE IF NOT EXISTS {database}.f (x UInt8) ENGINE = Memory",
		"INSERT INTO {database}.f (x) SELECT no_such_column FROM system.one",
	}}}
	migs[0].Checksum = migration.Checksum(migs[0].Statements)
	_, err := up(t.Context(), conn, db, nil, migs)
	if err == nil || !strings.Contains(err.Error(), "001_fill.sql statement 2") ||
		!strings.Contains(err.Error(), "run DROP TABLE "+db+".f and then up again") {
		t.Fatalf("up = %v; want an error naming the statement and telling to drop %s.f", err, db)
	}
}

// TestUpSaysWhatItSkips: run again after a failure, the fills that had
// finished are skipped by their guards, and Up says so rather than that
// it fills them.
func TestUpSaysWhatItSkips(t *testing.T) {
	conn, db := testDB(t)
	stmts := []string{
		"CREATE TABLE IF NOT EXISTS {database}.src (x UInt8) ENGINE = Memory",
		"INSERT INTO {database}.src (x) SELECT toUInt8(number) FROM system.numbers LIMIT 3",
		"CREATE TABLE IF NOT EXISTS {database}.f (x UInt8) ENGINE = Memory",
		"INSERT INTO {database}.f (x) SELECT x FROM {database}.src WHERE (SELECT count() FROM {database}.f) = 0",
	}
	migs := []Migration{{Version: 1, Name: "fill", File: "001_fill.sql", Statements: stmts}}
	migs[0].Checksum = migration.Checksum(stmts)
	if _, err := up(t.Context(), conn, db, nil, migs); err != nil {
		t.Fatal(err)
	}
	// As if the run had failed after the fill: the migration is pending
	// again under another version, with the table filled.
	migs[0].Version, migs[0].File = 2, "002_fill.sql"
	var out strings.Builder
	if _, err := up(t.Context(), conn, db, slog.New(slog.NewTextHandler(&out, nil)), migs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `msg="table already filled; not filling it again" migration=002_fill.sql statement="4 of 4" table=`+db+".f") {
		t.Errorf("Up did not say it skips %s.f:\n%s", db, out.String())
	}
	var n uint64
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM "+db+".f").Scan(&n); err != nil || n != 3 {
		t.Errorf("%s.f holds %d rows (%v); want the 3 of the first fill", db, n, err)
	}
}
