package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tollgate/tollgate/collector"
	"github.com/tollgate/tollgate/internal/logrecord"
	"github.com/tollgate/tollgate/load/benchrig"
)

// topic is the request-log topic the rows say they were read from, as
// the collector names it by default; the loaded_offsets view records the
// offsets as it does in production.
const topic = "tollgate.requests"

// seedPartitions is how many Kafka partitions the rows are spread over.
const seedPartitions = 3

// markerFile, in a reused data directory, describes what was seeded.
const markerFile = "seeded.json"

// seedMarker is what a data directory holds: enough to tell whether a run
// with other settings can reuse it, and when the window ended.
type seedMarker struct {
	Generator  int       `json:"generator"`
	Rows       int64     `json:"rows"`
	Days       int       `json:"days"`
	Seed       uint64    `json:"seed"`
	End        time.Time `json:"end"`
	Seconds    float64   `json:"seed_seconds"`
	RowsPerSec float64   `json:"rows_per_second"`
}

func (m seedMarker) matches(c config) bool {
	return m.Generator == genVersion && m.Rows == c.rows && m.Days == c.days && m.Seed == c.seed
}

func readMarker(dir string) (seedMarker, bool) {
	var m seedMarker
	data, err := os.ReadFile(filepath.Join(dir, markerFile))
	if err != nil || json.Unmarshal(data, &m) != nil {
		return seedMarker{}, false
	}
	return m, true
}

func writeMarker(dir string, m seedMarker) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, markerFile), append(data, '\n'), 0o644)
}

// seedBatch is one batch made and waiting for its INSERT.
type seedBatch struct {
	k    int
	rows *collector.Rows
}

// seed inserts every record of tr through the collector's insert path:
// collector.Rows built from logrecord.Records, as the collector builds
// them from decoded Kafka messages, written by collector.Loader.Insert in
// batches of tr.batch rows, so that the rollup and usage views fill as in
// production. Batches are made on every CPU while earlier ones are
// inserted, b.cfg.inserters at a time.
func (b *bench) seed(ctx context.Context, tr *traffic) (seedMarker, error) {
	workers := max(1, runtime.NumCPU())
	nbatches := tr.Batches()
	jobs := make(chan int)
	ready := make(chan seedBatch, b.cfg.inserters)
	// The pool bounds the batches in memory: each worker's and each
	// inserter's, and one waiting.
	free := make(chan *collector.Rows, workers+b.cfg.inserters+1)
	for range cap(free) {
		free <- new(collector.Rows)
	}
	var inserted atomic.Int64

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(jobs)
		for k := range nbatches {
			select {
			case jobs <- k:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	var made sync.WaitGroup
	for range workers {
		made.Add(1)
		g.Go(func() error {
			defer made.Done()
			for k := range jobs {
				var rows *collector.Rows
				select {
				case rows = <-free:
				case <-gctx.Done():
					return gctx.Err()
				}
				rows.Reset()
				tr.Batch(k, func(i int64, r *logrecord.Record) {
					rows.Add(r, topic, int(i%seedPartitions), i/seedPartitions)
				})
				select {
				case ready <- seedBatch{k, rows}:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	go func() { made.Wait(); close(ready) }()
	for range b.cfg.inserters {
		loader := collector.NewLoader(b.conn, database, insertOptions(b.ch))
		g.Go(func() error {
			defer loader.Close()
			for sb := range ready {
				if err := loader.Insert(gctx, "tollgate-bench-seed-"+strconv.Itoa(sb.k), sb.rows); err != nil {
					return fmt.Errorf("batch %d: %w", sb.k, err)
				}
				inserted.Add(int64(sb.rows.Len()))
				sb.rows.Reset()
				free <- sb.rows
			}
			return nil
		})
	}

	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			el := time.Since(start)
			if err != nil {
				return seedMarker{}, fmt.Errorf("seed: %w", err)
			}
			rate := float64(tr.rows) / el.Seconds()
			b.Progress("seeded %s rows in %s: %s rows/s", commas(tr.rows), el.Round(100*time.Millisecond), commas(int64(rate)))
			return seedMarker{Generator: genVersion, Rows: tr.rows, Days: tr.minutes / (24 * 60), Seed: tr.seed,
				End: tr.To(), Seconds: el.Seconds(), RowsPerSec: rate}, nil
		case <-tick.C:
			n := inserted.Load()
			el := time.Since(start).Seconds()
			rate := float64(n) / el
			eta := "?"
			if rate > 0 {
				eta = (time.Duration(float64(tr.rows-n)/rate) * time.Second).Round(time.Second).String()
			}
			b.Progress("seeding: %s / %s rows (%.0f %%), %s rows/s, ETA %s",
				commas(n), commas(tr.rows), 100*float64(n)/float64(tr.rows), commas(int64(rate)), eta)
		}
	}
}

// settle waits until ClickHouse has no background merge running on the
// database, for at most within, so that the queries meet the parts a
// server that has been loading for a while would have.
func (b *bench) settle(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	last := time.Time{}
	for {
		n, err := benchrig.QueryUint(ctx, b.conn, "SELECT count() FROM system.merges WHERE database = ?", database)
		if err != nil {
			return err
		}
		parts, err := benchrig.QueryUint(ctx, b.conn, "SELECT count() FROM system.parts WHERE database = ? AND active", database)
		if err != nil {
			return err
		}
		if n == 0 {
			b.Progress("no merge running; %d active parts", parts)
			return nil
		}
		if time.Now().After(deadline) {
			b.Progress("still %d merges running after %v (%d active parts); measuring anyway", n, within, parts)
			return nil
		}
		if time.Since(last) >= 10*time.Second {
			b.Progress("waiting for %d background merges (%d active parts)", n, parts)
			last = time.Now()
		}
		if err := benchrig.Sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// commas renders n with thousands separators: 10,000,000.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
