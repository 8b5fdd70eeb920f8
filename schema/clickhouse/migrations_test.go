package clickhousemigrate

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
		{name: "one statement", src: "CREATE TABLE t (x UInt8) ENGINE = Memory;\n", want: []string{"CREATE TABLE t (x UInt8) ENGINE = Memory"}},
		{name: "comments and blank lines", src: "-- head\n\nSELECT 1; -- trailing\n  -- indented\nSELECT\n  2;\n", want: []string{"SELECT 1", "SELECT\n2"}},
		{name: "dashes in a string", src: "SELECT '--not a comment';\n", want: []string{"SELECT '--not a comment'"}},
		{name: "semicolon in a string across lines", src: "SELECT 'a;\nb';\n", want: []string{"SELECT 'a;\nb'"}},
		{name: "backslash-escaped quote", src: "SELECT 'it\\'s -- still a string';\n", want: []string{"SELECT 'it\\'s -- still a string'"}},
		{name: "backquoted identifier", src: "SELECT `a--b` FROM t;\n", want: []string{"SELECT `a--b` FROM t"}},
		{name: "unterminated quote", src: "SELECT 'abc;\n", wantErr: "unterminated ' quote"},
		{name: "missing semicolon", src: "SELECT 1\n", wantErr: "not terminated"},
		{name: "empty statement", src: "SELECT 1;\n;\n", wantErr: "empty statement"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := split(tc.src)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("split = %q, %v; want error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("split: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("split = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []string // files in order
		wantErr string
	}{
		{
			name:  "sorted by version",
			files: fstest.MapFS{"010_b.sql": {Data: []byte("SELECT 2;\n")}, "002_a.sql": {Data: []byte("SELECT 1;\n")}},
			want:  []string{"002_a.sql", "010_b.sql"},
		},
		{name: "bad file name", files: fstest.MapFS{"init.sql": {Data: []byte("SELECT 1;\n")}}, wantErr: "file name must be"},
		{name: "version zero", files: fstest.MapFS{"000_a.sql": {Data: []byte("SELECT 1;\n")}}, wantErr: "positive integer"},
		{
			name:    "duplicate version",
			files:   fstest.MapFS{"001_a.sql": {Data: []byte("SELECT 1;\n")}, "01_b.sql": {Data: []byte("SELECT 1;\n")}},
			wantErr: "version 1 is also",
		},
		{name: "no statements", files: fstest.MapFS{"001_a.sql": {Data: []byte("-- nothing\n")}}, wantErr: "no statements"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			migs, err := load(tc.files)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("load = %v; want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			var got []string
			for _, m := range migs {
				got = append(got, m.File)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("load = %v; want %v", got, tc.want)
			}
		})
	}
}

func TestChecksumIgnoresLayout(t *testing.T) {
	a, err := load(fstest.MapFS{"001_a.sql": {Data: []byte("-- one\nSELECT\n    1;\n")}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := load(fstest.MapFS{"001_a.sql": {Data: []byte("\n\nSELECT\n1; -- other comment\n")}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := load(fstest.MapFS{"001_a.sql": {Data: []byte("SELECT\n2;\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if a[0].Checksum != b[0].Checksum {
		t.Error("comments and indentation changed the checksum")
	}
	if a[0].Checksum == c[0].Checksum {
		t.Error("a changed statement kept the checksum")
	}
}

func TestEmbeddedMigrations(t *testing.T) {
	migs, err := Migrations()
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	if len(migs) == 0 || migs[0].File != "001_init.sql" {
		t.Fatalf("Migrations = %v; want 001_init.sql first", migs)
	}
	for _, m := range migs {
		for i, stmt := range m.In("tollgate") {
			if strings.Contains(stmt, DatabasePlaceholder) {
				t.Errorf("%s statement %d keeps the placeholder", m.File, i+1)
			}
			// Every statement must be safe to run twice (see doc.go).
			if !strings.Contains(stmt, "IF NOT EXISTS") {
				t.Errorf("%s statement %d is not idempotent: %s", m.File, i+1, firstLine(stmt))
			}
		}
	}
}
