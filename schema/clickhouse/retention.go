package clickhousemigrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// droppable are the tables partitioned by day, with the days each
// partition holds: one, or seven for a week rollup (its partitions are
// named after the week's first day). loaded_offsets is not among them, so
// that no retention setting can make the collector forget what it loaded.
var droppable = func() map[string]int {
	m := map[string]int{TableRequests: 1}
	for _, r := range Rollups {
		m[r.Table] = max(int(r.Step/Day), 1)
	}
	return m
}()

// Partition is one day (or week) partition of a table.
type Partition struct {
	Table string
	Day   string // YYYYMMDD (UTC), the partition's value: a week's first day for a week rollup
}

// DropOlderThan drops, from each of tables (TrafficTables when none is
// given), the day partitions whose whole UTC day is older than age: every
// row in them started before now-age (a week rollup's partitions once
// their whole week is). It stands in for TTL, which 18.16
// does not have, and is meant to run on a schedule; dropping a partition
// is a metadata operation, cheap at any size. It returns what it dropped,
// with an error joining every partition it could not drop.
func DropOlderThan(ctx context.Context, conn driver.Conn, database string, age time.Duration, tables ...string) ([]Partition, error) {
	return dropOlderThan(ctx, conn, database, time.Now(), age, tables)
}

func dropOlderThan(ctx context.Context, conn driver.Conn, db string, now time.Time, age time.Duration, tables []string) ([]Partition, error) {
	if !ValidDatabase(db) {
		return nil, fmt.Errorf("retention: %q is not a valid database name", db)
	}
	if age <= 0 {
		return nil, fmt.Errorf("retention: age %v must be positive", age)
	}
	if len(tables) == 0 {
		tables = TrafficTables
	}
	for _, t := range tables {
		if droppable[t] == 0 {
			return nil, fmt.Errorf("retention: table %q is not partitioned by day (want one of %s)", t,
				strings.Join(append(slices.Clone(TrafficTables), UsageTables...), ", "))
		}
	}
	// A day partition is older than the cutoff when the cutoff's day is
	// after it: partitions of the cutoff's own day still hold younger
	// rows. A week's partition is when the cutoff's day is after its last.
	cutoff := now.Add(-age).UTC().Truncate(Day)

	all, err := partitions(ctx, conn, db, 1)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	old := dayPartitions(all, tables, func(_, end time.Time) bool { return !end.After(cutoff) })
	return eachPartition(old, func(p Partition) error {
		if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION %s", db, p.Table, p.Day)); err != nil {
			return fmt.Errorf("retention: drop partition %s of %s.%s: %w", p.Day, db, p.Table, err)
		}
		return nil
	})
}

// partitions lists the partitions of db's tables that have at least
// minParts active parts.
func partitions(ctx context.Context, conn driver.Conn, db string, minParts uint64) ([]Partition, error) {
	rows, err := conn.Query(ctx, "SELECT table, partition FROM system.parts WHERE database = ? AND active "+
		"GROUP BY table, partition HAVING count() >= ?", db, minParts)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", db, err)
	}
	defer rows.Close()
	var out []Partition
	for rows.Next() {
		var p Partition
		if err := rows.Scan(&p.Table, &p.Day); err != nil {
			return nil, fmt.Errorf("list partitions of %s: %w", db, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", db, err)
	}
	return out, nil
}

// dayPartitions returns, ordered by day and table, the partitions of ps
// that belong to tables, are named after a day (a week rollup's after its
// week's first) and that keep says to keep, given the partition's first
// day and the end of its last. Partitions not named after a day were made
// by hand and are left alone.
func dayPartitions(ps []Partition, tables []string, keep func(start, end time.Time) bool) []Partition {
	var out []Partition
	for _, p := range ps {
		if !slices.Contains(tables, p.Table) {
			continue
		}
		day, err := time.Parse("20060102", p.Day)
		if err != nil {
			continue
		}
		if keep(day, day.AddDate(0, 0, droppable[p.Table])) {
			out = append(out, p)
		}
	}
	sortPartitions(out)
	return out
}

// sortPartitions orders ps by day, then table.
func sortPartitions(ps []Partition) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Day != ps[j].Day {
			return ps[i].Day < ps[j].Day
		}
		return ps[i].Table < ps[j].Table
	})
}

// eachPartition calls do for every partition of ps, and returns those it
// succeeded for, with an error joining the others'.
func eachPartition(ps []Partition, do func(Partition) error) ([]Partition, error) {
	var (
		done []Partition
		errs []error
	)
	for _, p := range ps {
		if err := do(p); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, p)
	}
	return done, errors.Join(errs...)
}
