package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/tollgate/tollgate/gateway/ratelimit"
)

const (
	insertSlot = `INSERT INTO ratelimit_slots (key, period, window_start, node, hits, rate) VALUES (?, ?, ?, ?, ?, ?) USING TTL ?`
	selectSlot = `SELECT node, hits, rate FROM ratelimit_slots WHERE key = ? AND period = ? AND window_start = ?`

	// batchSize bounds the rows of one unlogged batch: batches spanning
	// partitions cost the coordinator, so they are kept small.
	batchSize = 20
	// readers is how many partitions a round reads at once.
	readers = 8
	// rateAlpha weighs the last interval in the demand rate (EWMA).
	rateAlpha = 0.5
	// maxSkip is the most rounds a window far from its limit goes without
	// a sync, and skipMargin how many times over the cluster must be able
	// to spend the time skipped before the remainder runs out.
	maxSkip    = 10
	skipMargin = 4
	// rateChange is the relative change of the demand rate that makes a
	// node rewrite its row although it counted nothing new.
	rateChange = 0.2
)

// Sync runs one round: Flush, then Pull. The background loop runs the two
// with PullDelay between them; tests with Manual call Sync or, to model
// several nodes' aligned rounds, every node's Flush before any node's Pull.
func (s *Store) Sync(ctx context.Context) error {
	err := s.Flush(ctx)
	return errors.Join(err, s.Pull(ctx))
}

// slotWrite is one row to upsert.
type slotWrite struct {
	ser    *series
	lane   *lane
	key    string
	period string
	start  int64 // window start, Unix ms
	hits   int64
	rate   float64
	ttl    int
}

// Flush writes this node's row of every window that counted hits since
// its last write, and of current windows whose demand rate changed, with
// the node's absolute count (an idempotent upsert) and rate.
func (s *Store) Flush(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	err := s.flush(ctx, false)
	s.flushErr = err
	return err
}

func (s *Store) flush(ctx context.Context, closing bool) error {
	clock := s.now().UnixNano()
	var writes []slotWrite
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, l := range sh.lanes {
			writes = s.collectWrites(l, clock, closing, writes)
		}
		sh.mu.Unlock()
	}
	if len(writes) == 0 {
		return nil
	}
	var errs []error
	for i := 0; i < len(writes); i += batchSize {
		chunk := writes[i:min(i+batchSize, len(writes))]
		s.countOps(1)
		if err := s.db.writeSlots(ctx, s.rowID, chunk); err != nil {
			errs = append(errs, err)
			continue
		}
		for j := range chunk {
			w := &chunk[j]
			sh := s.shard(w.key)
			sh.mu.Lock()
			w.ser.flushed = max(w.ser.flushed, w.hits)
			w.ser.written = true
			w.lane.published = w.rate
			sh.mu.Unlock()
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("flush rate-limit counters: %w", errors.Join(errs...))
	}
	return nil
}

// collectWrites measures the lane's demand rate and appends the rows it
// needs written; the shard's lock is held.
func (s *Store) collectWrites(l *lane, clock int64, closing bool, out []slotWrite) []slotWrite {
	since := l.lastFlush
	if since == 0 {
		since = l.created // the first measure covers the lane's life so far
	}
	elapsed := clock - since
	if elapsed < int64(time.Millisecond) {
		elapsed = int64(time.Millisecond)
	}
	demand := max(l.attempts, l.hits)
	inst := float64(demand) / (float64(elapsed) / float64(time.Second))
	switch {
	case closing:
		l.rate = 0 // a stopped node claims no share
	case l.lastFlush == 0 && demand > 0:
		l.rate = inst
	default:
		l.rate = float64(rateAlpha*inst) + float64((1-rateAlpha)*l.rate)
	}
	if demand == 0 && l.rate*s.opts.SyncInterval.Seconds() < 0.5 {
		l.rate = 0
	}
	l.attempts, l.hits, l.lastFlush = 0, 0, clock
	changed := l.rate > 0 && l.published <= 0 ||
		l.published > 0 && math.Abs(l.rate-l.published) > rateChange*l.published
	round := clock / s.interval
	for _, ser := range l.series {
		current := ser.start <= clock && clock < ser.end
		due := round >= ser.nextRound
		need := ser.mine != ser.flushed && (due || !current) ||
			current && due && !ser.exhausted && (changed || !ser.written && l.rate > 0) ||
			closing && ser.written && clock < ser.end
		if !need {
			continue
		}
		length := time.Duration(ser.end - ser.start)
		out = append(out, slotWrite{
			ser: ser, lane: l, key: l.key, period: l.period,
			start: ser.start / int64(time.Millisecond),
			hits:  ser.mine, rate: l.rate,
			ttl: int(math.Ceil((length + s.opts.Grace).Seconds())),
		})
	}
	return out
}

// slotRead is one window partition to read.
type slotRead struct {
	ser    *series
	lane   *lane
	key    string
	period string
	start  int64 // Unix ms

	others int64
	rates  []nodeRate
	err    error
}

// Pull reads the partition of every window this node follows (recently
// requested, not known to be used up) and of windows that ended since the
// last round, and keeps the other nodes' total and everyone's rates.
func (s *Store) Pull(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	began := s.now()
	err := s.pull(ctx)
	s.gc(s.now().UnixNano())
	s.record(s.now().Sub(began), errors.Join(s.flushErr, err))
	return err
}

func (s *Store) pull(ctx context.Context) error {
	clock := s.now().UnixNano()
	var reads []slotRead
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, l := range sh.lanes {
			active := clock-l.lastActive <= int64(s.opts.IdleAfter)
			for _, ser := range l.series {
				var need bool
				switch {
				case ser.end <= clock:
					// Once after it ends, for its final totals: sliding
					// windows weigh them through the next window.
					need = !ser.final
				case ser.start <= clock:
					usedUp := ser.exhausted && ser.mine == ser.flushed && ser.lastLimit <= ser.exhaustedLimit
					need = active && !usedUp && clock/s.interval >= ser.nextRound
				}
				if need {
					reads = append(reads, slotRead{ser: ser, lane: l, key: l.key, period: l.period, start: ser.start / int64(time.Millisecond)})
				}
			}
		}
		sh.mu.Unlock()
	}
	if len(reads) == 0 {
		return nil
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(readers, len(reads)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s.read(ctx, &reads[i])
			}
		}()
	}
	for i := range reads {
		next <- i
	}
	close(next)
	wg.Wait()

	var errs []error
	for i := range reads {
		r := &reads[i]
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		sh := s.shard(r.key)
		sh.mu.Lock()
		ser := r.ser
		ser.pulled = true
		ser.pulledAt = clock
		ser.mark = ser.flushed
		ser.others = r.others
		ser.rates = r.rates
		if l := r.lane; l.ratesStart < ser.start && clock < ser.start+2*s.interval {
			// Early in a window, a node that was busy in the previous one
			// may not have written its row in this one yet: keep its last
			// rate rather than take it for idle.
			ser.rates = carryRates(r.rates, l.rates)
		}
		if ser.end <= clock {
			ser.final = true
		}
		ser.exhausted = ser.lastLimit > 0 && ser.lastLimit-ser.others-ser.mark <= 0
		ser.exhaustedLimit = ser.lastLimit
		ser.nextRound = clock/s.interval + s.skip(ser)
		if ser.start >= r.lane.ratesStart {
			r.lane.rates = ser.rates
			r.lane.ratesAt = clock
			r.lane.ratesStart = ser.start
			r.lane.ratesUsedUp = ser.exhausted
		}
		sh.mu.Unlock()
	}
	if len(errs) > 0 {
		return fmt.Errorf("read rate-limit counters: %w", errors.Join(errs...))
	}
	return nil
}

func (s *Store) read(ctx context.Context, r *slotRead) {
	s.countOps(1)
	rows, err := s.db.readSlots(ctx, r.key, r.period, r.start)
	if err != nil {
		r.err = fmt.Errorf("%s %s %d: %w", r.key, r.period, r.start, err)
		return
	}
	clock := s.now().UnixNano()
	s.seenMu.Lock()
	for _, row := range rows {
		if row.node != s.rowID {
			r.others += row.hits
		}
		r.rates = append(r.rates, nodeRate{node: row.node, rate: row.rate})
		s.seen[row.node] = clock
	}
	s.seenMu.Unlock()
	sortRates(r.rates)
}

// skip returns in how many rounds a window must be synced again, from the
// rows just read: every round while its remainder could run out soon, up
// to maxSkip rounds apart while the whole cluster, at the rates its nodes
// published, would need over skipMargin times as long to use it. The
// answer depends only on the rows and the limit, so nodes that read the
// same rows skip the same rounds and their views stay alike.
func (s *Store) skip(ser *series) int64 {
	if ser.lastLimit <= 0 {
		return 1
	}
	var sum float64
	for _, r := range ser.rates {
		sum += max(0, r.rate)
	}
	perRound := sum * s.opts.SyncInterval.Seconds()
	remaining := ser.lastLimit - ser.others - ser.mark
	if perRound <= 0 || remaining <= 0 {
		return 1
	}
	m := float64(remaining) / (skipMargin * perRound)
	if m >= maxSkip {
		return maxSkip
	}
	return max(1, int64(m))
}

// carryRates returns cur plus the nodes of prev that cur lacks, sorted.
func carryRates(cur, prev []nodeRate) []nodeRate {
	out := append([]nodeRate(nil), cur...)
	for _, p := range prev {
		found := false
		for _, c := range cur {
			if c.node == p.node {
				found = true
				break
			}
		}
		if !found && p.rate > 0 {
			out = append(out, p)
		}
	}
	sortRates(out)
	return out
}

// record ends a round: its metrics and the degraded state.
func (s *Store) record(d time.Duration, err error) {
	clock := s.now().UnixNano()
	s.syncs.Add(1)
	if err != nil {
		s.syncErrs.Add(1)
	} else {
		s.lastOK.Store(clock)
	}
	if f := s.opts.Metrics.Sync; f != nil {
		f(d, err)
	}
	deg := s.isDegraded(clock)
	if s.degraded.Swap(deg) != deg {
		if deg {
			s.log.Warn("rate-limit counters unsynced, counting locally", "node", s.opts.NodeID, "err", err)
		} else {
			s.log.Info("rate-limit counters synced again", "node", s.opts.NodeID)
		}
		if f := s.opts.Metrics.Degraded; f != nil {
			f(deg)
		}
	} else if err != nil {
		s.log.Debug("rate-limit sync failed", "node", s.opts.NodeID, "err", err)
	}
}

// gc drops windows that ended over a window's length ago (the previous
// window is kept for sliding windows) and whose key is idle, and the
// exact-quota caches of ended windows.
func (s *Store) gc(clock int64) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, l := range sh.lanes {
			if clock-l.lastActive <= int64(s.opts.IdleAfter) {
				continue
			}
			kept := l.series[:0]
			for _, ser := range l.series {
				if clock < nextEnd(l.period, ser.end)+int64(s.opts.Grace) || ser.mine != ser.flushed {
					kept = append(kept, ser)
				}
			}
			clear(l.series[len(kept):])
			l.series = kept
			if len(kept) == 0 {
				delete(sh.lanes, k)
			}
		}
		sh.mu.Unlock()
	}
	s.exactMu.Lock()
	for k := range s.exact {
		if k.end+int64(s.opts.Grace) < clock {
			delete(s.exact, k)
		}
	}
	for k := range s.exactLo {
		if k.end+int64(s.opts.Grace) < clock {
			delete(s.exactLo, k)
		}
	}
	s.exactMu.Unlock()
	s.seenMu.Lock()
	for n, at := range s.seen {
		if clock-at > int64(time.Minute) {
			delete(s.seen, n)
		}
	}
	s.seenMu.Unlock()
}

// nextEnd returns the end of the window that follows the one ending at end.
func nextEnd(period string, end int64) int64 {
	_, next := ratelimit.Start(ratelimit.Window(period), time.Unix(0, end))
	return next.UnixNano()
}

// loop runs a round at every multiple of SyncInterval on the clock: Flush,
// PullDelay, Pull.
func (s *Store) loop() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-s.stop:
			return false
		case <-t.C:
			return true
		}
	}
	for {
		now := s.now()
		next := now.Truncate(s.opts.SyncInterval).Add(s.opts.SyncInterval)
		if !wait(next.Sub(now)) {
			return
		}
		_ = s.Flush(ctx)
		if !wait(s.opts.PullDelay) {
			return
		}
		_ = s.Pull(ctx)
	}
}

// Close stops the loop and writes a last round, best effort within 2s,
// publishing a zero rate so that other nodes stop reserving a share for
// this one. It is idempotent; the store keeps counting locally after.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.syncMu.Lock()
		defer s.syncMu.Unlock()
		if ferr := s.flush(ctx, true); ferr != nil && !errors.Is(ferr, errNoSession) {
			err = fmt.Errorf("close: %w", ferr)
		}
	})
	return err
}
