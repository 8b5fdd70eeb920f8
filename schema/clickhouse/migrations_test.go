package clickhousemigrate

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/migration"
	"github.com/tollgate/tollgate/internal/migration/migrationtest"
)

func TestSplit(t *testing.T) {
	migrationtest.Split(t, sql, []migrationtest.SplitCase{
		{Name: "one statement", Src: "CREATE TABLE t (x UInt8) ENGINE = Memory;\n", Want: []string{"CREATE TABLE t (x UInt8) ENGINE = Memory"}},
		{Name: "comments and blank lines", Src: "-- head\n\nSELECT 1; -- trailing\n  -- indented\nSELECT\n  2;\n", Want: []string{"SELECT 1", "SELECT\n2"}},
		{Name: "dashes in a string", Src: "SELECT '--not a comment';\n", Want: []string{"SELECT '--not a comment'"}},
		{Name: "semicolon in a string across lines", Src: "SELECT 'a;\nb';\n", Want: []string{"SELECT 'a;\nb'"}},
		{Name: "backslash-escaped quote", Src: "SELECT 'it\\'s -- still a string';\n", Want: []string{"SELECT 'it\\'s -- still a string'"}},
		{Name: "backquoted identifier", Src: "SELECT `a--b` FROM t;\n", Want: []string{"SELECT `a--b` FROM t"}},
		{Name: "unterminated quote", Src: "SELECT 'abc;\n", WantErr: "unterminated ' quote"},
		{Name: "missing semicolon", Src: "SELECT 1\n", WantErr: "not terminated"},
		{Name: "empty statement", Src: "SELECT 1;\n;\n", WantErr: "empty statement"},
	})
}

func TestEmbeddedMigrations(t *testing.T) {
	migs, err := Migrations()
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	if len(migs) == 0 || migs[0].File != "001_init.sql" {
		t.Fatalf("Migrations = %v; want 001_init.sql first", migs)
	}
	if err := migration.Contiguous(common(migs)); err != nil {
		t.Error(err)
	}
	for _, m := range migs {
		created, dropped := map[string]bool{}, map[string]bool{}
		for i, stmt := range m.In("tollgate") {
			if strings.Contains(stmt, DatabasePlaceholder) {
				t.Errorf("%s statement %d keeps the placeholder", m.File, i+1)
			}
			if c := createTable.FindStringSubmatch(stmt); c != nil {
				created[c[1]] = true
			}
			if strings.HasPrefix(stmt, "DROP TABLE IF EXISTS ") {
				dropped[strings.Fields(stmt)[4]] = true
			}
			// A migration must be safe to run again whole (see doc.go):
			// a CREATE says IF NOT EXISTS, a DROP IF EXISTS, a backfill
			// inserts only into an empty table, a check only reads, and a
			// RENAME moves a table the migration itself creates before
			// it, or swaps one in for a table it moves to a name it drops
			// before.
			if !strings.Contains(stmt, "IF NOT EXISTS") && !strings.HasPrefix(stmt, "DROP TABLE IF EXISTS ") &&
				!guardedBackfill(stmt) && !isCheck(stmt) &&
				!renamesCreated(stmt, created) && !swapsCreated(stmt, created, dropped) {
				t.Errorf("%s statement %d is not idempotent: %s", m.File, i+1, migration.FirstLine(stmt))
			}
		}
	}
}

var (
	createTable = regexp.MustCompile(`^CREATE TABLE IF NOT EXISTS (\S+) \(`)
	renameTable = regexp.MustCompile(`^RENAME TABLE (\S+) TO \S+$`)
	swapTable   = regexp.MustCompile(`^RENAME TABLE (\S+) TO (\S+), (\S+) TO (\S+)$`)
)

// swapsCreated says stmt moves a table to a name in dropped and a table in
// created to the first one's name: run again, the drop clears the way and
// the create makes the new table again.
func swapsCreated(stmt string, created, dropped map[string]bool) bool {
	m := swapTable.FindStringSubmatch(stmt)
	return m != nil && dropped[m[2]] && created[m[3]] && m[4] == m[1]
}

// renamesCreated says stmt renames a table in created.
func renamesCreated(stmt string, created map[string]bool) bool {
	m := renameTable.FindStringSubmatch(stmt)
	return m != nil && created[m[1]]
}

// guardedBackfill says stmt is an INSERT … SELECT that inserts only while
// its target table is empty.
func guardedBackfill(stmt string) bool {
	m := backfill.FindStringSubmatch(stmt)
	return m != nil && m[1] == m[2]
}

var backfill = regexp.MustCompile(`^INSERT INTO (\S+) \([^)]*\)\nSELECT\n[\s\S]*\nWHERE \(SELECT count\(\) FROM (\S+)\) = 0(?:\n|$)`)

// TestChecksumsPinned holds the checksum of every migration that ships, as
// databases record it: a change to how files are split or hashed that
// moved one would make Up refuse every database that applied it. A new
// migration adds its line here.
func TestChecksumsPinned(t *testing.T) {
	migs, err := Migrations()
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	migrationtest.Checksums(t, common(migs), map[string]string{
		"001_init.sql":                              "852e6a25055421d4cc89b8083337d3c024cda3ff3606d917705c952f50363eb8",
		"002_small_rollups.sql":                     "18e201ce02377980b549e6ebfe056f9fa7f811e5c349fed816838d643945dc65",
		"003_consumer_and_status_rollups.sql":       "fcc647d7713bcfd3cc3c2276165023f57381d3fb35a246eef304bd14f7c52945",
		"004_latency_buckets.sql":                   "9dbbfd655e80ca03fd3f4a6cc300d18dc4aca1076190126f2666fef3387f586a",
		"005_route_weeks_and_consumer_granules.sql": "9c02d214f7916fced72a0ce03db02372ddd74c3d90d8234cfdab5fb1bab5d4ac",
		"006_workspace_minutes_and_all_hours.sql":   "7536136eda48ced603b56d11c34b599265a1f6c381ac3337814e84b7d5182e27",
		"007_day_and_week_granules.sql":             "81d4cce724b075fa796c5e76ae167aeaa06815fc25b91aa3c1d40fb16f974d61",
		"008_workspace_hour_granules.sql":           "78ab8125fc593c1ebe1554fe4755ec227f1ec542dc784a9c146a96a55acef984",
		"009_service_and_route_minutes.sql":         "3406d1ef4c2566ad32b80c1678ed0676055a98da0b4d4b0089210e7a0dca83d9",
		"010_minute_rollup_by_time.sql":             "4ca9fa4dc97f8808c0595e0efe70669b2ca19509e0c0f8871689ae669da08133",
		"011_requests_by_time.sql":                  "5dcb4dfdec16602bdd597c14e7176ec220ed164dc3a8e5d0b8d5b777d79d9469",
	})
}

func FuzzSplit(f *testing.F) {
	migrationtest.FuzzSplit(f, sql,
		"CREATE TABLE t (x UInt8) ENGINE = Memory;\n",
		"-- c\nSELECT 'x;y -- z', `a--b`;\n",
		"SELECT 'it\\'s', 'a''b' FROM t; -- c\n",
		"a\n;\n;",
	)
}

// TestFillsAreGuarded: every INSERT a shipped migration runs fills a new
// table only while it is empty, so that running the migration again after
// a failure counts nothing twice (and Up's "already filled" is true).
func TestFillsAreGuarded(t *testing.T) {
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	fills := 0
	for _, m := range migs {
		for i, stmt := range m.Statements {
			table := fillTarget(stmt)
			if table == "" {
				continue
			}
			fills++
			if guard := "WHERE (SELECT count() FROM " + table + ") = 0"; !strings.Contains(stmt, guard) {
				t.Errorf("%s statement %d fills %s without %q", m.File, i+1, table, guard)
			}
		}
	}
	if fills == 0 {
		t.Error("no fills found in the migrations; 002 to 004 have twenty-one")
	}
}

// TestViewsKeepLatencyBuckets: the view that last writes each traffic
// rollup keeps its latencies as LatencyState, which the query layer reads
// with LatencyMerge and builds the raw table's part of a split range with.
func TestViewsKeepLatencyBuckets(t *testing.T) {
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	views := Views(migs)
	for _, r := range Rollups {
		if r.Usage {
			continue
		}
		stmt, ok := views[r.Table]
		if !ok {
			t.Errorf("no view writes %s", r.Table)
			continue
		}
		for _, col := range []string{"latency_total", "latency_upstream", "latency_gateway"} {
			if want := LatencyState(col+"_ms") + " AS " + col + ","; !strings.Contains(stmt, want) {
				t.Errorf("the view of %s does not keep %s as %q", r.Table, col, want)
			}
		}
	}
}
