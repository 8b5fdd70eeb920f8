package cassandramigrate

import (
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    []string
		wantErr string
	}{
		{
			name: "statements and comments",
			src: `-- header
-- more header

CREATE TABLE IF NOT EXISTS a (
    id text PRIMARY KEY  -- the key
);
// slash comment
CREATE TABLE IF NOT EXISTS b (id text PRIMARY KEY);
`,
			want: []string{
				"CREATE TABLE IF NOT EXISTS a (\nid text PRIMARY KEY\n)",
				"CREATE TABLE IF NOT EXISTS b (id text PRIMARY KEY)",
			},
		},
		{
			name: "semicolon before a comment ends the statement",
			src:  "CREATE TABLE t (id int PRIMARY KEY); -- done\n",
			want: []string{"CREATE TABLE t (id int PRIMARY KEY)"},
		},
		{
			name: "semicolon inside a line does not end the statement",
			src:  "INSERT INTO t (a) VALUES ('x;y')\n;\n",
			want: []string{"INSERT INTO t (a) VALUES ('x;y')"},
		},
		{
			name: "comment markers inside strings are kept",
			src:  "INSERT INTO t (a, b) VALUES ('http://x -- y', 'it''s // here');\n",
			want: []string{"INSERT INTO t (a, b) VALUES ('http://x -- y', 'it''s // here')"},
		},
		{
			name: "quoted identifier with dashes",
			src:  `SELECT "a--b" FROM t;` + "\n",
			want: []string{`SELECT "a--b" FROM t`},
		},
		{
			name: "CRLF line endings",
			src:  "CREATE TABLE t (\r\n  id int PRIMARY KEY\r\n);\r\n",
			want: []string{"CREATE TABLE t (\nid int PRIMARY KEY\n)"},
		},
		{
			name: "only comments",
			src:  "-- nothing here\n\n",
			want: nil,
		},
		{
			name:    "missing final semicolon",
			src:     "CREATE TABLE a (id int PRIMARY KEY);\n\nCREATE TABLE b (\n id int PRIMARY KEY\n)\n",
			wantErr: "line 3: statement not terminated by ';'",
		},
		{
			name:    "semicolon only in a comment",
			src:     "CREATE TABLE a (id int PRIMARY KEY) -- ;\n",
			wantErr: "line 1: statement not terminated",
		},
		{
			name:    "unterminated string",
			src:     "INSERT INTO t (a) VALUES ('oops);\n",
			wantErr: "line 1: unterminated ' quote",
		},
		{
			name:    "empty statement",
			src:     "CREATE TABLE a (id int PRIMARY KEY);\n;\n",
			wantErr: "line 2: empty statement",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := split(tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("split: err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("split: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("split:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestChecksumIgnoresLayout(t *testing.T) {
	a, err := split("-- v1\nCREATE TABLE t (\n    id int PRIMARY KEY\n);\n")
	if err != nil {
		t.Fatal(err)
	}
	b, err := split("-- v1, with a better comment\n\nCREATE TABLE t (\n  id int PRIMARY KEY -- key\n);\n")
	if err != nil {
		t.Fatal(err)
	}
	c, err := split("CREATE TABLE t (\n    id bigint PRIMARY KEY\n);\n")
	if err != nil {
		t.Fatal(err)
	}
	if checksum(a) != checksum(b) {
		t.Errorf("comments and indentation changed the checksum")
	}
	if checksum(a) == checksum(c) {
		t.Errorf("a changed column type kept the checksum")
	}
}

func TestLoad(t *testing.T) {
	ok := "CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY);\n"
	tests := []struct {
		name     string
		fs       fstest.MapFS
		versions []int
		wantErr  []string
	}{
		{
			name: "sorted by version, not name",
			fs: fstest.MapFS{
				"10_ten.cql":   {Data: []byte(ok)},
				"002_two.cql":  {Data: []byte(ok)},
				"001_init.cql": {Data: []byte(ok)},
				"README.md":    {Data: []byte("not a migration")},
			},
			versions: []int{1, 2, 10},
		},
		{
			name: "every bad file named",
			fs: fstest.MapFS{
				"001_init.cql":   {Data: []byte(ok)},
				"01_again.cql":   {Data: []byte(ok)},
				"notes.cql":      {Data: []byte(ok)},
				"003_empty.cql":  {Data: []byte("-- nothing\n")},
				"004_broken.cql": {Data: []byte("CREATE TABLE x (id int PRIMARY KEY)\n")},
				"0_zero.cql":     {Data: []byte(ok)},
			},
			wantErr: []string{
				"migration 01_again.cql: version 1 is also 001_init.cql",
				"migration notes.cql: file name must be <version>_<name>.cql",
				"migration 003_empty.cql: no statements",
				"migration 004_broken.cql: line 1: statement not terminated",
				`migration 0_zero.cql: version "0" must be a positive integer`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			migs, err := load(tt.fs)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("load: no error, want %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("load: error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			var got []int
			for _, m := range migs {
				got = append(got, m.Version)
			}
			if !reflect.DeepEqual(got, tt.versions) {
				t.Fatalf("versions %v, want %v", got, tt.versions)
			}
		})
	}
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
	for i, m := range migs {
		if m.Version != i+1 {
			t.Errorf("migration %s: version %d, want %d (versions are contiguous)", m.File, m.Version, i+1)
		}
		for _, s := range m.Statements {
			if !strings.Contains(strings.ToUpper(s), "IF NOT EXISTS") && !strings.Contains(strings.ToUpper(s), "IF EXISTS") {
				t.Errorf("migration %s: statement %q is not idempotent (IF [NOT] EXISTS): a re-run of a half-applied migration would fail", m.File, firstLine(s))
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
	for _, s := range []string{
		"CREATE TABLE t (id int PRIMARY KEY);\n",
		"-- c\nINSERT INTO t (a) VALUES ('x;y -- z');\n",
		"SELECT \"a\"\"b\" FROM t; // c\n",
		"a\n;\n;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := split(src)
		if err != nil {
			return
		}
		// Splitting the statements written back one per line gives them
		// again: split is stable on its own output.
		var b strings.Builder
		for _, s := range stmts {
			b.WriteString(s)
			b.WriteString(";\n")
		}
		again, err := split(b.String())
		if err != nil {
			t.Fatalf("split of split output %q: %v", b.String(), err)
		}
		if !reflect.DeepEqual(again, stmts) {
			t.Fatalf("split not stable:\n%q\n%q", stmts, again)
		}
	})
}
