// Package migrationtest checks, from a migrator's tests, what every
// migrator must get right the same way: how its dialect splits files into
// statements, and that the checksums of the migrations it ships never
// move. It is for tests only and does no I/O against a database.
package migrationtest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/migration"
)

// SplitCase is a file and what Dialect.Split makes of it: its statements,
// or an error containing WantErr.
type SplitCase struct {
	Name    string
	Src     string
	Want    []string
	WantErr string
}

// Split runs each case through d.Split as a subtest.
func Split(t *testing.T, d migration.Dialect, cases []SplitCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := d.Split(tc.Src)
			if tc.WantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.WantErr) {
					t.Fatalf("Split = %q, %v; want an error containing %q", got, err, tc.WantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			if !reflect.DeepEqual(got, tc.Want) {
				t.Fatalf("Split:\n got %q\nwant %q", got, tc.Want)
			}
		})
	}
}

// FuzzSplit fuzzes d.Split from seeds, checking that it is stable on its
// own output: the statements written back one per line split into the
// same statements, and so keep their checksum.
func FuzzSplit(f *testing.F, d migration.Dialect, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := d.Split(src)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, s := range stmts {
			b.WriteString(s)
			b.WriteString(";\n")
		}
		again, err := d.Split(b.String())
		if err != nil {
			t.Fatalf("Split of Split output %q: %v", b.String(), err)
		}
		if !reflect.DeepEqual(again, stmts) {
			t.Fatalf("Split not stable:\n%q\n%q", stmts, again)
		}
	})
}

// Checksums checks that migs, the migrations a migrator ships, are those
// of pinned (file name to checksum) with the same checksums. Databases
// record the checksum of every migration they applied, and a migrator
// refuses to run when one differs, so a change to how files are split or
// hashed must never move one; each new migration adds its line to pinned.
func Checksums(t *testing.T, migs []migration.Migration, pinned map[string]string) {
	t.Helper()
	got := make(map[string]string, len(migs))
	for _, m := range migs {
		got[m.File] = m.Checksum
	}
	if !reflect.DeepEqual(got, pinned) {
		t.Fatalf("checksums of the shipped migrations\n got %v\nwant %v", got, pinned)
	}
}
