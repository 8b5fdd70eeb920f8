package migration

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ErrModified is returned (wrapped, naming the migrations) by
// CheckModified when a recorded migration's checksum differs from the
// embedded file's: someone edited a migration after it was applied.
var ErrModified = errors.New("applied migration modified")

// Record is what a database records of an applied migration.
type Record struct {
	Version   int
	Name      string
	Checksum  string
	AppliedAt time.Time
}

// Status is one migration as a migrator's Status sees it.
type Status struct {
	Version int
	Name    string
	// Applied says the migration is recorded in schema_migrations, at
	// AppliedAt.
	Applied   bool
	AppliedAt time.Time
	// Modified says the recorded checksum differs from the embedded
	// file's (Up refuses to run then).
	Modified bool
	// Unknown says the migration is recorded but not embedded in this
	// binary: a newer Tollgate applied it.
	Unknown bool
}

// State is "applied", "pending", "modified" or "unknown" (see the fields).
func (s Status) State() string {
	switch {
	case s.Unknown:
		return "unknown"
	case s.Modified:
		return "modified"
	case s.Applied:
		return "applied"
	}
	return "pending"
}

// Statuses lists every migration of migs, applied or pending by recs, and
// every record of a migration migs does not hold, in version order. With
// no records, every migration is pending.
func Statuses(migs []Migration, recs map[int]Record) []Status {
	out := make([]Status, 0, len(migs))
	for _, m := range migs {
		st := Status{Version: m.Version, Name: m.Name}
		if rec, ok := recs[m.Version]; ok {
			st.Applied, st.AppliedAt = true, rec.AppliedAt
			st.Modified = rec.Checksum != m.Checksum
		}
		out = append(out, st)
	}
	for _, rec := range Unknown(migs, recs) {
		out = append(out, Status{Version: rec.Version, Name: rec.Name, Applied: true, AppliedAt: rec.AppliedAt, Unknown: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// Pending returns the migrations of migs that recs does not record, in
// the order of migs.
func Pending(migs []Migration, recs map[int]Record) []Migration {
	var out []Migration
	for _, m := range migs {
		if _, ok := recs[m.Version]; !ok {
			out = append(out, m)
		}
	}
	return out
}

// Unknown returns the records of migrations that migs does not hold, in
// version order: a newer binary applied them.
func Unknown(migs []Migration, recs map[int]Record) []Record {
	known := make(map[int]bool, len(migs))
	for _, m := range migs {
		known[m.Version] = true
	}
	var out []Record
	for v, rec := range recs {
		if !known[v] {
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// CheckModified returns an error wrapping ErrModified that names every
// recorded migration whose checksum differs from its file's, or nil.
func CheckModified(migs []Migration, recs map[int]Record) error {
	var bad []string
	for _, m := range migs {
		if rec, ok := recs[m.Version]; ok && rec.Checksum != m.Checksum {
			bad = append(bad, fmt.Sprintf("%s (recorded checksum %.12s…, file %.12s…)", m.File, rec.Checksum, m.Checksum))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s; an applied migration must not change: restore it and put the change in a new migration",
		ErrModified, strings.Join(bad, ", "))
}
