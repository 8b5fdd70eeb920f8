package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tollgate/tollgate/internal/logrecord"
	"github.com/tollgate/tollgate/load/benchrig"
)

// targetFreshnessP99 is the most the 99th percentile of the delay from
// the sink to a query's answer may be.
const targetFreshnessP99 = 5 * time.Second

// markerTrace is the trace_id of the records whose arrival is timed.
const markerTrace = "bench-freshness-marker"

// freshWait bounds the wait for the last markers after sending stops.
const freshWait = 30 * time.Second

// markers tracks the marker records sent and not yet seen in ClickHouse.
type markers struct {
	mu      sync.Mutex
	pending map[string]time.Time // request id → when it was enqueued
	minMs   int64                // started_at of the oldest pending marker, as a query bound
	delays  []time.Duration
}

func (m *markers) add(id string, at time.Time) {
	m.mu.Lock()
	if len(m.pending) == 0 || at.UnixMilli() < m.minMs {
		m.minMs = at.UnixMilli()
	}
	m.pending[id] = at
	m.mu.Unlock()
}

// bound returns the started_at from which pending markers are looked for;
// false when none is pending.
func (m *markers) bound() (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.minMs, len(m.pending) > 0
}

// seen records the markers of ids found by a query sent at t.
func (m *markers) seen(ids []string, t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		if at, ok := m.pending[id]; ok {
			m.delays = append(m.delays, t.Sub(at))
			delete(m.pending, id)
		}
	}
	m.minMs = 0
	for _, at := range m.pending {
		if ms := at.UnixMilli(); m.minMs == 0 || ms < m.minMs {
			m.minMs = ms
		}
	}
}

func (m *markers) left() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pending)
}

// freshness sends records at cfg.rate for cfg.duration, stamped with their
// send time, one in cfg.markerEvery a marker, while a sampler queries
// ClickHouse every cfg.pollEvery for the markers not seen yet: a marker's
// delay is from its Enqueue to the start of the first query that returned
// it. A query sees the parts committed when it starts, so the delay is
// measured to within one poll interval plus a query's time.
func (b *bench) freshness(ctx context.Context) error {
	p, err := b.startPipeline(ctx, phaseFreshness)
	if err != nil {
		return err
	}
	sink, _, err := b.openSink(p)
	if err != nil {
		return err
	}
	mk := &markers{pending: map[string]time.Time{}}
	b.Progress("freshness: %d records/s for %v, one in %d a marker, ClickHouse polled every %v",
		b.cfg.rate, b.cfg.duration, b.cfg.markerEvery, b.cfg.pollEvery)

	sctx, stopSampler := context.WithCancel(ctx)
	var (
		wg        sync.WaitGroup
		queries   int
		queryTime time.Duration
		errMu     sync.Mutex
		sampleErr error
	)
	failed := func() error {
		errMu.Lock()
		defer errMu.Unlock()
		return sampleErr
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for sctx.Err() == nil {
			if from, ok := mk.bound(); ok {
				t := time.Now()
				ids, err := markerIDs(sctx, p, from)
				if err != nil {
					if sctx.Err() == nil {
						errMu.Lock()
						sampleErr = err
						errMu.Unlock()
					}
					return
				}
				queryTime += time.Since(t)
				queries++
				mk.seen(ids, t)
			}
			_ = benchrig.Sleep(sctx, b.cfg.pollEvery)
		}
	}()

	m := benchrig.MarkCPU(p.collector, b.ch.Proc)
	gen := newGenerator(2)
	var r logrecord.Record
	start := time.Now()
	var sent int64
	total := int64(float64(b.cfg.rate) * b.cfg.duration.Seconds())
	tick := time.NewTicker(5 * time.Millisecond)
	nextReport := start.Add(5 * time.Second)
	for sent < total {
		select {
		case <-ctx.Done():
			tick.Stop()
			stopSampler()
			wg.Wait()
			return ctx.Err()
		case now := <-tick.C:
			due := min(total, int64(float64(b.cfg.rate)*now.Sub(start).Seconds()))
			for ; sent < due; sent++ {
				at := time.Now()
				gen.fill(&r, at.UnixMilli())
				if sent%int64(b.cfg.markerEvery) == 0 {
					r.TraceID = markerTrace
					mk.add(r.RequestID, at)
				}
				sink.Enqueue(&r)
			}
			if now.After(nextReport) {
				nextReport = now.Add(5 * time.Second)
				b.Progress("freshness: %4.1f s: sent %d, markers waiting %d", now.Sub(start).Seconds(), sent, mk.left())
			}
		}
	}
	tick.Stop()
	sendTime := time.Since(start)
	deadline := time.Now().Add(freshWait)
	for mk.left() > 0 && time.Now().Before(deadline) && failed() == nil {
		if err := benchrig.Sleep(ctx, 100*time.Millisecond); err != nil {
			stopSampler()
			wg.Wait()
			return err
		}
	}
	stopSampler()
	wg.Wait()
	u := m.Use()
	if err := failed(); err != nil {
		return err
	}
	rows, err := benchrig.QueryUint(ctx, p.conn, "SELECT count() FROM requests")
	if err != nil {
		return err
	}
	ss := sink.Stats()
	if err := sink.Close(); err != nil {
		return fmt.Errorf("close the sink: %w", err)
	}
	if err := p.stop(); err != nil {
		return err
	}

	d := benchrig.Summarize(mk.delays)
	lost := mk.left()
	b.Printf("\nFreshness: %d records/s for %v (%d records, sent in %.1f s) through a logship.Sink (linger %v) and the collector (batch_time %s)\n",
		b.cfg.rate, b.cfg.duration, sent, sendTime.Seconds(), 50*time.Millisecond, envOr("TOLLGATE_COLLECTOR_BATCH_TIME", "1s"))
	b.Printf("delay from Enqueue to the first query returning the record, %d markers: p50 %s, p90 %s, p99 %s, max %s; %d not seen within %v\n",
		d.N, secs(d.P50), secs(d.P90), secs(d.P99), secs(d.Max), lost, freshWait)
	if queries > 0 {
		b.Printf("resolution: a query every %v, %d queries taking %.1f ms on average; rows in ClickHouse %d of %d sent, sink dropped %d\n",
			b.cfg.pollEvery, queries, float64(queryTime.Microseconds())/1000/float64(queries), rows, sent, ss.Dropped)
	}
	b.Printf("during the phase: %s\n", u)
	b.Summary.Info(fmt.Sprintf("freshness p50 at %d/s", b.cfg.rate), secs(d.P50))
	ok := d.N > 0 && lost == 0 && d.P99 <= targetFreshnessP99
	val := secs(d.P99)
	if lost > 0 {
		val += fmt.Sprintf(" (%d lost)", lost)
	}
	b.Summary.Add(fmt.Sprintf("freshness p99 at %d/s", b.cfg.rate), val, "≤ "+secs(targetFreshnessP99), ok)
	return nil
}

// markerIDs returns the request ids of the markers started at or after
// fromMs that ClickHouse holds now.
func markerIDs(ctx context.Context, p *pipeline, fromMs int64) ([]string, error) {
	rows, err := p.conn.Query(ctx, "SELECT request_id FROM requests WHERE trace_id = ? AND started_at_ms >= ?", markerTrace, fromMs)
	if err != nil {
		return nil, fmt.Errorf("marker query: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("marker query: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
