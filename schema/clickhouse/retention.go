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

// DroppedPartition is one partition DropOlderThan dropped.
type DroppedPartition = Partition

// DropOlderThan drops, from each of tables (TrafficTables when none is
// given), the day partitions whose whole UTC day is older than age: every
// row in them started before now-age (a week rollup's partitions once
// their whole week is). It stands in for TTL, which 18.16
// does not have, and is meant to run on a schedule; dropping a partition
// is a metadata operation, cheap at any size. It returns what it dropped,
// with an error joining every partition it could not drop.
func DropOlderThan(ctx context.Context, conn driver.Conn, database string, age time.Duration, tables ...string) ([]DroppedPartition, error) {
	return dropOlderThan(ctx, conn, database, time.Now(), age, tables)
}

func dropOlderThan(ctx context.Context, conn driver.Conn, db string, now time.Time, age time.Duration, tables []string) ([]DroppedPartition, error) {
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

	rows, err := conn.Query(ctx,
		"SELECT DISTINCT table, partition FROM system.parts WHERE database = ? AND active", db)
	if err != nil {
		return nil, fmt.Errorf("retention: list partitions of %s: %w", db, err)
	}
	want := map[string]bool{}
	for _, t := range tables {
		want[t] = true
	}
	var old []DroppedPartition
	for rows.Next() {
		var p DroppedPartition
		if err := rows.Scan(&p.Table, &p.Day); err != nil {
			rows.Close()
			return nil, fmt.Errorf("retention: list partitions of %s: %w", db, err)
		}
		if !want[p.Table] {
			continue
		}
		day, err := time.Parse("20060102", p.Day)
		if err != nil {
			continue // not a day partition: created by hand, left alone
		}
		if last := day.AddDate(0, 0, droppable[p.Table]-1); last.Before(cutoff) {
			old = append(old, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention: list partitions of %s: %w", db, err)
	}
	sort.Slice(old, func(i, j int) bool {
		if old[i].Day != old[j].Day {
			return old[i].Day < old[j].Day
		}
		return old[i].Table < old[j].Table
	})

	var (
		dropped []DroppedPartition
		errs    []error
	)
	for _, p := range old {
		if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION %s", db, p.Table, p.Day)); err != nil {
			errs = append(errs, fmt.Errorf("retention: drop partition %s of %s.%s: %w", p.Day, db, p.Table, err))
			continue
		}
		dropped = append(dropped, p)
	}
	return dropped, errors.Join(errs...)
}
