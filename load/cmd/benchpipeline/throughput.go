package main

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/gateway/logship"
	"github.com/tollgate/tollgate/internal/logrecord"
	"github.com/tollgate/tollgate/load/benchrig"
)

// Targets of the throughput phase, in events per CPU-second of the
// processes named.
const (
	targetCollectorPerCore = 500_000
	targetLoadPerCore      = 200_000
)

// stallAfter ends a phase waiting for rows that stopped coming.
const stallAfter = 60 * time.Second

// throughput pushes cfg.events records through a sink as fast as it takes
// them and measures until ClickHouse counts them all.
func (b *bench) throughput(ctx context.Context) error {
	p, err := b.startPipeline(ctx, phaseThroughput)
	if err != nil {
		return err
	}
	sink, set, err := b.openSink(p)
	if err != nil {
		return err
	}
	n := int64(b.cfg.events)
	b.Progress("throughput: pushing %s records", thousands(float64(n)))

	// The producer keeps the sink's queue at most half full: Enqueue never
	// waits, and a full queue sends records to the disk spool, which would
	// measure the disk rather than the pipeline.
	var pushed atomic.Int64
	produced := make(chan time.Time, 1)
	pctx, stopProducer := context.WithCancel(ctx)
	defer stopProducer()
	gen := newGenerator(1)
	m := benchrig.MarkCPU(p.collector, b.ch.Proc)
	start := m.At()
	go func() {
		var r logrecord.Record
		now := time.Now().UnixMilli()
		for i := int64(0); i < n; i++ {
			if i&255 == 0 {
				for sink.Stats().Queued > set.QueueSize/2 {
					if pctx.Err() != nil {
						return
					}
					time.Sleep(100 * time.Microsecond)
				}
				now = time.Now().UnixMilli()
				pushed.Store(i)
			}
			gen.fill(&r, now)
			sink.Enqueue(&r)
		}
		pushed.Store(n)
		produced <- time.Now()
	}()

	var (
		allPushed, allSent time.Time
		rows, lastRows     uint64
		lastChange         = time.Now()
		nextReport         = time.Now().Add(2 * time.Second)
	)
	for rows < uint64(n) {
		if err := benchrig.Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
		select {
		case t := <-produced:
			allPushed = t
		default:
		}
		st := sink.Stats()
		if allSent.IsZero() && st.Sent >= n {
			allSent = time.Now()
		}
		if rows, err = benchrig.QueryUint(ctx, p.conn, "SELECT count() FROM requests"); err != nil {
			return err
		}
		now := time.Now()
		if rows != lastRows {
			lastRows, lastChange = rows, now
		} else if now.Sub(lastChange) > stallAfter {
			return fmt.Errorf("%s of %s rows in ClickHouse, none more for %v (sink: %+v)",
				thousands(float64(rows)), thousands(float64(n)), stallAfter, st)
		}
		if now.After(nextReport) {
			nextReport = now.Add(2 * time.Second)
			b.Progress("throughput: %5.1f s: pushed %s, sent to Kafka %s, in ClickHouse %s",
				now.Sub(start).Seconds(), thousands(float64(pushed.Load())), thousands(float64(st.Sent)), thousands(float64(rows)))
		}
	}
	end := time.Now()
	u := m.Use()
	if allPushed.IsZero() {
		allPushed = <-produced
	}
	if allSent.IsZero() {
		allSent = end
	}

	// After: background merges of the parts just written.
	after := benchrig.MarkCPU(b.ch.Proc)
	if err := benchrig.Sleep(ctx, 5*time.Second); err != nil {
		return err
	}
	merges := after.Use()

	total, err := benchrig.QueryUint(ctx, p.conn, "SELECT count() FROM requests")
	if err != nil {
		return err
	}
	uniq, err := benchrig.QueryUint(ctx, p.conn, "SELECT uniqExact(request_id) FROM requests")
	if err != nil {
		return err
	}
	cs, err := b.collectorStatus(ctx, p)
	if err != nil {
		return err
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("close the sink: %w", err)
	}
	ss := sink.Stats()
	if err := p.stop(); err != nil {
		return err
	}

	b.reportThroughput(tpResult{
		n: n, elapsed: end.Sub(start), pushed: allPushed.Sub(start), sent: allSent.Sub(start),
		cpu: u, merges: merges, rows: total, uniq: uniq, collector: cs, sink: ss,
	})
	return nil
}

type tpResult struct {
	n                     int64
	elapsed, pushed, sent time.Duration
	cpu, merges           benchrig.CPUUse
	rows, uniq            uint64
	collector             collectorStatus
	sink                  logship.Stats
}

func (b *bench) reportThroughput(r tpResult) {
	b.Printf("\nThroughput: %s records from a logship.Sink (gateway defaults: batches of 1000, LZ4) through kfake and tollgate collector (batch_rows %s, batch_time %s) into ClickHouse\n",
		thousands(float64(r.n)), envOr("TOLLGATE_COLLECTOR_BATCH_ROWS", "50000"), envOr("TOLLGATE_COLLECTOR_BATCH_TIME", "1s"))
	b.Printf("all enqueued after %s, all written to Kafka after %s, all counted in ClickHouse after %s\n",
		secs(r.pushed), secs(r.sent), secs(r.elapsed))
	rate := float64(r.n) / r.elapsed.Seconds()
	b.Printf("pipeline throughput: %s events/s (records / time until SELECT count() FROM requests reached them all)\n", thousands(rate))
	b.Summary.Info("pipeline throughput, events/s", thousands(rate))
	if !r.cpu.OK {
		b.Printf("CPU use unknown: /proc unreadable\n")
		b.Summary.Add("collector events/s per core", "n/a", "≥ "+thousands(targetCollectorPerCore), false)
		b.Summary.Add("collector+ClickHouse events/s per core", "n/a", "≥ "+thousands(targetLoadPerCore), false)
	} else {
		col, ch := r.cpu.Of("collector"), r.cpu.Of("clickhouse")
		per100k := func(s float64) string { return fmt.Sprintf("%.2f", s*100_000/float64(r.n)) }
		b.Printf("CPU seconds over those %.1f s: collector %.2f, ClickHouse %.2f, this program %.2f (kfake, sink, generator, count polls), other %.2f; machine %.0f %% busy of %d cores\n",
			r.cpu.Wall, col, ch, r.cpu.Self, r.cpu.Other, 100*r.cpu.Machine/r.cpu.Wall/float64(runtime.NumCPU()), runtime.NumCPU())
		b.Printf("CPU seconds per 100k events: collector %s, ClickHouse %s, this program %s\n", per100k(col), per100k(ch), per100k(r.cpu.Self))
		b.Printf("ClickHouse in the 5 s after the last row (background merges): %.2f CPU s\n", r.merges.Of("clickhouse"))
		b.Summary.Info("CPU s/100k events: collector", per100k(col))
		b.Summary.Info("CPU s/100k events: ClickHouse", per100k(ch))
		b.Summary.Info("CPU s/100k events: bench (kfake, sink)", per100k(r.cpu.Self))
		colRate := float64(r.n) / col
		loadRate := float64(r.n) / (col + ch)
		b.Printf("collector: %s events per CPU-second (target ≥ %s); collector + ClickHouse: %s events per CPU-second (target ≥ %s)\n",
			thousands(colRate), thousands(targetCollectorPerCore), thousands(loadRate), thousands(targetLoadPerCore))
		b.Summary.Add("collector events/s per core", thousands(colRate), "≥ "+thousands(targetCollectorPerCore), colRate >= targetCollectorPerCore)
		b.Summary.Add("collector+ClickHouse events/s per core", thousands(loadRate), "≥ "+thousands(targetLoadPerCore), loadRate >= targetLoadPerCore)
	}
	c := r.collector
	b.Printf("check: count() %s, uniqExact(request_id) %s, of %s sent; collector inserted %s in %d batches, dead-lettered %d, duplicates skipped %d, insert errors %d; sink dropped %d, spooled %d\n",
		thousands(float64(r.rows)), thousands(float64(r.uniq)), thousands(float64(r.n)), thousands(float64(c.Inserted)),
		c.Batches, c.DeadLettered, c.DuplicatesSkipped, c.InsertErrors, r.sink.Dropped, r.sink.Spooled)
	exact := r.rows == uint64(r.n) && r.uniq == uint64(r.n)
	b.Summary.Add("rows = uniq(request_id) = events", fmt.Sprintf("%d = %d = %d", r.rows, r.uniq, r.n), "all equal", exact)
	if r.sink.Dropped > 0 {
		b.Summary.Add("throughput: records dropped by the sink", fmt.Sprint(r.sink.Dropped), "0", false)
	}
}
