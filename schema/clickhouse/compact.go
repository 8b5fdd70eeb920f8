package clickhousemigrate

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	clickhousego "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Compactable are the rollups Compact merges: those of hours and longer
// periods, which queries read over days and weeks. The minute rollup and
// the raw table are left to ClickHouse's background merges: their day
// partitions are large, and queries read them over minutes and hours.
var Compactable = tables(func(r Rollup) bool { return r.Step >= time.Hour })

// Compact merges into one part each day (or week) partition of the
// Compactable rollups that holds more than one active part and whose
// days lie wholly within [from, before), with OPTIMIZE TABLE … PARTITION
// … FINAL. ClickHouse's background merges leave a day's partition in
// several parts once its inserts stop, and a query that looks up a few
// keys in every day of a month reads each part's granules of them: on the
// benchmark's 100 million requests, a consumer's 30-day hourly series took
// 69 ms with three to four parts per day and 26 ms with one. Partitions of
// days still written to are left alone; pass as before a time their
// records have all arrived by. log, when not nil, says which partition it
// merges as it goes. It returns the partitions it merged, with an error
// joining every partition it could not merge.
func Compact(ctx context.Context, conn driver.Conn, database string, from, before time.Time, log *slog.Logger) ([]Partition, error) {
	if !ValidDatabase(database) {
		return nil, fmt.Errorf("compact: %q is not a valid database name", database)
	}
	split, err := partitions(ctx, conn, database, 2)
	if err != nil {
		return nil, fmt.Errorf("compact: %w", err)
	}
	split = settled(split, from, before)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Without optimize_throw_if_noop, OPTIMIZE returns as if done when it
	// could not start the merge: when a background merge holds some of
	// the partition's parts. That merge ends within seconds for a day of
	// a rollup, so a refused merge is tried again a few times.
	noop := clickhousego.Context(ctx, clickhousego.WithSettings(clickhousego.Settings{"optimize_throw_if_noop": 1}))
	n := 0
	return eachPartition(split, func(p Partition) error {
		n++
		start := time.Now()
		stmt := fmt.Sprintf("OPTIMIZE TABLE %s.%s PARTITION %s FINAL", database, p.Table, p.Day)
		err := conn.Exec(noop, stmt)
		for try := 1; err != nil && try < compactTries && ctx.Err() == nil; try++ {
			select {
			case <-ctx.Done():
			case <-time.After(compactRetryWait):
			}
			err = conn.Exec(noop, stmt)
		}
		if err != nil {
			return fmt.Errorf("compact: merge partition %s of %s.%s: %w", p.Day, database, p.Table, err)
		}
		log.Info("merged a partition into one part", "table", p.Table, "partition", p.Day,
			"progress", fmt.Sprintf("%d of %d", n, len(split)), "took", time.Since(start).Round(time.Millisecond))
		return nil
	})
}

// A partition whose merge OPTIMIZE refuses is tried compactTries times,
// compactRetryWait apart.
const (
	compactTries     = 5
	compactRetryWait = time.Second
)

// settled returns, in order of day and table, the partitions of split
// that belong to Compactable rollups and whose days lie wholly within
// [from, before), from's day included.
func settled(split []Partition, from, before time.Time) []Partition {
	first, end := from.UTC().Truncate(Day), before.UTC()
	return dayPartitions(split, Compactable, func(start, stop time.Time) bool {
		return !start.Before(first) && !stop.After(end)
	})
}
