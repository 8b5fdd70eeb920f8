package clickhouselocal

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestBinaryCommandArgs(t *testing.T) {
	tests := []struct {
		name string
		path string
		want []string
	}{
		{name: "Debian's clickhouse-server", path: "/usr/bin/clickhouse-server",
			want: []string{"--config-file=/run/ch/config.xml"}},
		{name: "single clickhouse binary", path: "/opt/ch/clickhouse",
			want: []string{"server", "--config-file=/run/ch/config.xml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := BinaryAt(tt.path)
			if b.Path != tt.path {
				t.Errorf("Path = %q, want %q", b.Path, tt.path)
			}
			if got := b.CommandArgs("/run/ch"); !slices.Equal(got, tt.want) {
				t.Errorf("CommandArgs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFindBinaryPrefersPATH(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "clickhouse-server")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	b, err := FindBinary()
	if err != nil {
		t.Fatal(err)
	}
	if b.Path != p || len(b.Args) != 0 {
		t.Errorf("FindBinary() = %+v, want %s with no arguments", b, p)
	}
}
