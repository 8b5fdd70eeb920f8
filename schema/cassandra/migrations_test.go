package cassandramigrate

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/migration"
	"github.com/tollgate/tollgate/internal/migration/migrationtest"
)

func TestSplit(t *testing.T) {
	migrationtest.Split(t, cql, []migrationtest.SplitCase{
		{
			Name: "statements and comments",
			Src: `-- header
-- more header

CREATE TABLE IF NOT EXISTS a (
    id text PRIMARY KEY  -- the key
);
// slash comment
CREATE TABLE IF NOT EXISTS b (id text PRIMARY KEY);
`,
			Want: []string{
				"CREATE TABLE IF NOT EXISTS a (\nid text PRIMARY KEY\n)",
				"CREATE TABLE IF NOT EXISTS b (id text PRIMARY KEY)",
			},
		},
		{
			Name: "semicolon before a comment ends the statement",
			Src:  "CREATE TABLE t (id int PRIMARY KEY); -- done\n",
			Want: []string{"CREATE TABLE t (id int PRIMARY KEY)"},
		},
		{
			Name: "semicolon inside a line does not end the statement",
			Src:  "INSERT INTO t (a) VALUES ('x;y')\n;\n",
			Want: []string{"INSERT INTO t (a) VALUES ('x;y')"},
		},
		{
			Name: "comment markers inside strings are kept",
			Src:  "INSERT INTO t (a, b) VALUES ('http://x -- y', 'it''s // here');\n",
			Want: []string{"INSERT INTO t (a, b) VALUES ('http://x -- y', 'it''s // here')"},
		},
		{
			Name: "quoted identifier with dashes",
			Src:  `SELECT "a--b" FROM t;` + "\n",
			Want: []string{`SELECT "a--b" FROM t`},
		},
		{
			Name: "CRLF line endings",
			Src:  "CREATE TABLE t (\r\n  id int PRIMARY KEY\r\n);\r\n",
			Want: []string{"CREATE TABLE t (\nid int PRIMARY KEY\n)"},
		},
		{
			Name: "only comments",
			Src:  "-- nothing here\n\n",
			Want: nil,
		},
		{
			Name:    "missing final semicolon",
			Src:     "CREATE TABLE a (id int PRIMARY KEY);\n\nCREATE TABLE b (\n id int PRIMARY KEY\n)\n",
			WantErr: "line 3: statement not terminated by ';'",
		},
		{
			Name:    "semicolon only in a comment",
			Src:     "CREATE TABLE a (id int PRIMARY KEY) -- ;\n",
			WantErr: "line 1: statement not terminated",
		},
		{
			Name:    "unterminated string",
			Src:     "INSERT INTO t (a) VALUES ('oops);\n",
			WantErr: "line 1: unterminated ' quote",
		},
		{
			Name:    "empty statement",
			Src:     "CREATE TABLE a (id int PRIMARY KEY);\n;\n",
			WantErr: "line 2: empty statement",
		},
	})
}

// TestEmbedded checks the migrations that ship: they parse, version 1 is
// the initial schema, and it creates the tables other packages use.
func TestEmbedded(t *testing.T) {
	migs, err := Migrations()
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	if len(migs) == 0 || migs[0].Version != 1 || migs[0].Name != "init" {
		t.Fatalf("first migration %+v, want 001_init.cql", migs)
	}
	if err := migration.Contiguous(migs); err != nil {
		t.Error(err)
	}
	for _, m := range migs {
		for _, s := range m.Statements {
			if !strings.Contains(strings.ToUpper(s), "IF NOT EXISTS") && !strings.Contains(strings.ToUpper(s), "IF EXISTS") {
				t.Errorf("migration %s: statement %q is not idempotent (IF [NOT] EXISTS): a re-run of a half-applied migration would fail", m.File, migration.FirstLine(s))
			}
		}
	}
	var tables []string
	for _, s := range migs[0].Statements {
		f := strings.Fields(s)
		if len(f) > 5 && f[0] == "CREATE" && f[1] == "TABLE" {
			tables = append(tables, f[5])
		}
	}
	want := []string{"entities", "config_changes", "config_head", "cluster_nodes", "ratelimit_slots", "ratelimit_quotas"}
	if !reflect.DeepEqual(tables, want) {
		t.Errorf("001_init.cql creates %v, want %v", tables, want)
	}
}

func FuzzSplit(f *testing.F) {
	migrationtest.FuzzSplit(f, cql,
		"CREATE TABLE t (id int PRIMARY KEY);\n",
		"-- c\nINSERT INTO t (a) VALUES ('x;y -- z');\n",
		"SELECT \"a\"\"b\" FROM t; // c\n",
		"a\n;\n;",
	)
}

// TestChecksumsPinned holds the checksum of every migration that ships, as
// keyspaces record it: a change to how files are split or hashed that
// moved one would make Up refuse every keyspace that applied it. A new
// migration adds its line here.
func TestChecksumsPinned(t *testing.T) {
	migs, err := Migrations()
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	migrationtest.Checksums(t, migs, map[string]string{
		"001_init.cql": "03ae9b5a4a6d62e2dbc2792132e3f2c2ba6bf1163f601eb5551dbebfe548fcb8",
	})
}
