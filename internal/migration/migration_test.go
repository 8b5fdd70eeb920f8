package migration_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tollgate/tollgate/internal/migration"
	"github.com/tollgate/tollgate/internal/migration/migrationtest"
)

// plain is a dialect with `--` comments and '…' strings only, enough to
// test the rules every dialect shares.
var plain = migration.Dialect{Ext: ".sql", Example: "002_add.sql", Comment: func(line string, quote byte) (string, byte) {
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'':
			quote = c
		case c == '-' && i+1 < len(line) && line[i+1] == '-':
			return line[:i], 0
		}
	}
	return line, quote
}}

func TestParseName(t *testing.T) {
	tests := []struct {
		file    string
		version int
		name    string
		wantErr string
	}{
		{file: "001_init.sql", version: 1, name: "init"},
		{file: "10_add_index.sql", version: 10, name: "add_index"},
		{file: "002_Two_3.sql", version: 2, name: "Two_3"},
		{file: "init.sql", wantErr: "file name must be <version>_<name>.sql, e.g. 002_add.sql"},
		{file: "001_init.cql", wantErr: "file name must be"},
		{file: "001_in-it.sql", wantErr: "file name must be"},
		{file: "001_.sql", wantErr: "file name must be"},
		{file: "001_a.b.sql", wantErr: "file name must be"},
		{file: "000_zero.sql", wantErr: `version "000" must be a positive integer`},
		{file: "99999999999999999999_big.sql", wantErr: "must be a positive integer"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			version, name, err := plain.ParseName(tt.file)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseName = %d, %q, %v; want an error containing %q", version, name, err, tt.wantErr)
				}
				return
			}
			if err != nil || version != tt.version || name != tt.name {
				t.Fatalf("ParseName = %d, %q, %v; want %d, %q", version, name, err, tt.version, tt.name)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	ok := []byte("CREATE TABLE IF NOT EXISTS t (id int);\n")
	tests := []struct {
		name    string
		fs      fstest.MapFS
		files   []string // in the order Load returns them
		wantErr []string
	}{
		{
			name: "sorted by version, not name",
			fs: fstest.MapFS{
				"10_ten.sql":   {Data: ok},
				"002_two.sql":  {Data: ok},
				"001_init.sql": {Data: ok},
				"README.md":    {Data: []byte("not a migration")},
				"001_init.cql": {Data: []byte("another dialect's")},
			},
			files: []string{"001_init.sql", "002_two.sql", "10_ten.sql"},
		},
		{name: "empty directory", fs: fstest.MapFS{}},
		{
			name: "every bad file named",
			fs: fstest.MapFS{
				"001_init.sql":   {Data: ok},
				"01_again.sql":   {Data: ok},
				"notes.sql":      {Data: ok},
				"003_empty.sql":  {Data: []byte("-- nothing\n")},
				"004_broken.sql": {Data: []byte("CREATE TABLE x (id int)\n")},
				"0_zero.sql":     {Data: ok},
			},
			wantErr: []string{
				"migration 01_again.sql: version 1 is also 001_init.sql",
				"migration notes.sql: file name must be <version>_<name>.sql, e.g. 002_add.sql",
				"migration 003_empty.sql: no statements",
				"migration 004_broken.sql: line 1: statement not terminated",
				`migration 0_zero.sql: version "0" must be a positive integer`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			migs, err := plain.Load(tt.fs)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Load: no error, want %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Load: error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var got []string
			for _, m := range migs {
				got = append(got, m.File)
				if m.Checksum != migration.Checksum(m.Statements) {
					t.Errorf("%s: checksum %s, want that of its statements", m.File, m.Checksum)
				}
			}
			if !reflect.DeepEqual(got, tt.files) {
				t.Fatalf("Load = %v, want %v", got, tt.files)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	migrationtest.Split(t, plain, []migrationtest.SplitCase{
		{Name: "one statement", Src: "SELECT 1;\n", Want: []string{"SELECT 1"}},
		{Name: "no final newline", Src: "SELECT 1;", Want: []string{"SELECT 1"}},
		{
			Name: "lines trimmed, blank lines and comments dropped",
			Src:  "-- head\n\nCREATE TABLE t (\n    id int  -- key\n);\n  SELECT 1; -- done\n",
			Want: []string{"CREATE TABLE t (\nid int\n)", "SELECT 1"},
		},
		{Name: "semicolon inside a line", Src: "SELECT 'a;b', 1\n;\n", Want: []string{"SELECT 'a;b', 1"}},
		{Name: "semicolon in a string across lines", Src: "SELECT 'a;\n  b';\n", Want: []string{"SELECT 'a;\nb'"}},
		{Name: "CRLF line endings", Src: "SELECT\r\n  1;\r\n", Want: []string{"SELECT\n1"}},
		{Name: "only comments", Src: "-- nothing\n\n", Want: nil},
		{Name: "missing final semicolon", Src: "SELECT 1;\n\nSELECT\n 2\n", WantErr: "line 3: statement not terminated by ';' at the end of a line"},
		{Name: "semicolon only in a comment", Src: "SELECT 1 -- ;\n", WantErr: "line 1: statement not terminated"},
		{Name: "unterminated quote", Src: "SELECT 1;\nSELECT 'abc;\n", WantErr: "line 2: unterminated ' quote"},
		{Name: "empty statement", Src: "SELECT 1;\n;\n", WantErr: "line 2: empty statement"},
	})
}

func TestChecksum(t *testing.T) {
	tests := []struct {
		name  string
		stmts []string
		// want is sha256sum of the statements, each followed by ";\n":
		// what databases have recorded since the first migration.
		want string
	}{
		{name: "none", stmts: nil, want: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{name: "one", stmts: []string{"SELECT 1"}, want: "b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd"},
		{name: "two", stmts: []string{"CREATE TABLE t (\nid int\n)", "SELECT 1"}, want: "0ca00881a0e2be5d6d49e93098e77e8d4353e68c83b090afc096b7c6d840b5be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := migration.Checksum(tt.stmts); got != tt.want {
				t.Fatalf("Checksum = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestChecksumIgnoresLayout(t *testing.T) {
	sum := func(src string) string {
		t.Helper()
		stmts, err := plain.Split(src)
		if err != nil {
			t.Fatal(err)
		}
		return migration.Checksum(stmts)
	}
	base := sum("-- v1\nCREATE TABLE t (\n    id int\n);\n")
	tests := []struct {
		name string
		src  string
		same bool
	}{
		{name: "comments and indentation", src: "-- v1, with a better comment\n\nCREATE TABLE t (\n  id int -- key\n);\n", same: true},
		{name: "CRLF", src: "CREATE TABLE t (\r\nid int\r\n);\r\n", same: true},
		{name: "a changed column type", src: "CREATE TABLE t (\n    id bigint\n);\n"},
		{name: "statements joined on a line", src: "CREATE TABLE t ( id int );\n"},
		{name: "another statement", src: "CREATE TABLE t (\n    id int\n);\nSELECT 1;\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sum(tt.src) == base; got != tt.same {
				t.Fatalf("same checksum: %v, want %v", got, tt.same)
			}
		})
	}
}

func TestContiguous(t *testing.T) {
	tests := []struct {
		name     string
		versions []int
		wantErr  string
	}{
		{name: "none"},
		{name: "from one", versions: []int{1, 2, 3}},
		{name: "not from one", versions: []int{2, 3}, wantErr: "migration 2_m.sql: version 2, want 1"},
		{name: "a gap", versions: []int{1, 2, 4}, wantErr: "migration 4_m.sql: version 4, want 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var migs []migration.Migration
			for _, v := range tt.versions {
				migs = append(migs, migration.Migration{Version: v, Name: "m", File: strconv.Itoa(v) + "_m.sql"})
			}
			err := migration.Contiguous(migs)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Contiguous: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Contiguous: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestFirstLine(t *testing.T) {
	tests := []struct{ stmt, want string }{
		{"SELECT 1", "SELECT 1"},
		{"CREATE TABLE t (\nid int\n)", "CREATE TABLE t ( …"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.stmt, func(t *testing.T) {
			if got := migration.FirstLine(tt.stmt); got != tt.want {
				t.Fatalf("migration.FirstLine(%q) = %q, want %q", tt.stmt, got, tt.want)
			}
		})
	}
}

func FuzzSplit(f *testing.F) {
	migrationtest.FuzzSplit(f, plain,
		"CREATE TABLE t (id int);\n",
		"-- c\nINSERT INTO t (a) VALUES ('x;y -- z');\n",
		"SELECT 'a''b' FROM t; -- c\n",
		"a\n;\n;",
		"SELECT 'a;\r\nb';",
	)
}
