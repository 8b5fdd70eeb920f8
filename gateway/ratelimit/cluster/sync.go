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
	insertSlot = `INSERT INTO ratelimit_slots (key, period, window_start, node, hits, rate, claim) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ?`
	selectSlot = `SELECT node, hits, rate, claim FROM ratelimit_slots WHERE key = ? AND period = ? AND window_start = ?`

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
	// horizon is how many times its demand until its next sync a node
	// claims at most (see desire), and needRounds how many rounds of its
	// demand a node must hold in its claim before it syncs early for more.
	horizon    = 2
	needRounds = 2
	// carryRounds is how long into a window the rates of the previous one
	// stand in for nodes that have not written a row in it yet.
	carryRounds = 4
	// finalDelay is how many intervals after a window's end it is read a
	// second time, for the last rows of nodes whose clocks or writes lag.
	finalDelay = 3
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
	claim  int64
	limit  int64 // the limit claim was computed against
	ttl    int
}

// Flush writes this node's row of every window whose count, claim or
// demand rate changed enough since its last write (see collectWrites),
// with the node's absolute count (an idempotent upsert), rate and claim.
// A smaller claim takes effect before the write; a larger one after it
// was acknowledged, at the next read (Pull).
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
		err := s.db.writeSlots(ctx, s.rowID, chunk)
		if err != nil {
			errs = append(errs, err)
		}
		for j := range chunk {
			w := &chunk[j]
			sh := s.shard(w.key)
			sh.mu.Lock()
			ser := w.ser
			if err != nil {
				// The row may hold this write or the one before: both
				// claim at least the claim in effect, which is all the
				// others' safety needs. Neither may take effect here.
				ser.published = -1
				ser.pending = 0
			} else {
				ser.flushed = max(ser.flushed, w.hits)
				ser.written = true
				ser.published = w.claim
				ser.pending, ser.pendingLimit = 0, 0
				if w.claim > ser.claim {
					ser.pending, ser.pendingLimit = w.claim, w.limit
				}
				w.lane.published = w.rate
			}
			sh.mu.Unlock()
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("flush rate-limit counters: %w", errors.Join(errs...))
	}
	return nil
}

// collectWrites measures the lane's demand rate and appends the rows it
// needs written, lowering claims about to be published smaller; the
// shard's lock is held.
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
	active := clock-l.lastActive <= int64(s.opts.IdleAfter)
	round := clock / s.interval
	if !closing {
		s.claimAhead(l, clock)
	}
	for _, ser := range l.series {
		current := ser.start <= clock && clock < ser.end
		ahead := clock < ser.start
		var (
			claim int64
			need  bool
		)
		switch {
		case closing:
			// Release: a stopped node holds nothing beyond its count.
			claim = ser.mine
			need = ser.written && clock < ser.end
		case current || ahead:
			due := round >= ser.nextRound
			usedUp := ser.exhausted && ser.lastLimit <= ser.exhaustedLimit
			claim = s.desire(l, ser, active)
			needy := claim > ser.claim && ser.claim-ser.mine < max(1, int64(needRounds*l.rate*s.opts.SyncInterval.Seconds()))
			release := claim < ser.published && (due || l.rate == 0 || !active)
			need = needy && !usedUp || release ||
				ser.mine != ser.flushed && due ||
				due && !usedUp && (claim != ser.published || changed || !ser.written && l.rate > 0)
		default:
			// Ended: its final count, once.
			claim = ser.mine
			need = ser.mine != ser.flushed
		}
		if !need {
			continue
		}
		if claim < ser.claim {
			ser.claim = claim // smaller: in effect before others can read it
		}
		length := time.Duration(ser.end - ser.start)
		out = append(out, slotWrite{
			ser: ser, lane: l, key: l.key, period: l.period,
			start: ser.start / int64(time.Millisecond),
			hits:  ser.mine, rate: l.rate, claim: claim, limit: ser.lastLimit,
			ttl: int(math.Ceil((length + s.opts.Grace).Seconds())),
		})
	}
	return out
}

// claimAhead adds the next window of a busy lane in the last round before
// its current window ends, so that the next window's claims are written
// and read before it begins and its first requests need not wait for a
// round. Only windows whose limit the caller keeps from one window to the
// next (fixed windows) are claimed ahead: a sliding window's limit at the
// start of the next window depends on this one's final total.
func (s *Store) claimAhead(l *lane, clock int64) {
	if l.weighsPrev || clock-l.lastActive > int64(s.opts.IdleAfter) {
		return
	}
	var cur *series
	for _, ser := range l.series {
		if ser.start <= clock && clock < ser.end {
			cur = ser
		}
	}
	if cur == nil || cur.lastLimit <= 0 || clock+s.interval < cur.end || l.lastActive < cur.start {
		return
	}
	for _, ser := range l.series {
		if ser.start == cur.end {
			return
		}
	}
	next := &series{start: cur.end, end: nextEnd(l.period, cur.end), published: -1, lastLimit: cur.lastLimit}
	l.series = append(l.series, next)
}

// desire returns the claim this node asks for in ser: its count in the
// rows it last read, plus its part of what remained of the limit then
// (share: by the published rates, with a standing part for every node),
// at most horizon times its demand until its next due round plus its
// standing part; never less than its count now. A node absent from the
// rows read, or whose published rate was zero, and that has demand now,
// asks for up to what the others' claims left instead. A window not read
// yet is divided by the rates read in the previous one; a key never read,
// 1/LiveNodes of the limit.
func (s *Store) desire(l *lane, ser *series, active bool) int64 {
	limit := ser.lastLimit
	if limit <= 0 {
		return ser.mine
	}
	var (
		mark, others int64
		othersClaim  int64 = -1 // unknown
		rates        []nodeRate
	)
	switch {
	case ser.pulled:
		mark, others, othersClaim, rates = ser.mark, ser.others, ser.othersClaim, ser.rates
	case l.ratesAt != 0:
		rates = l.rates
	default:
		return max(ser.mine, limit/int64(s.liveNodes(s.now().UnixNano())))
	}
	remaining := limit - others - mark
	if remaining <= 0 {
		return ser.mine
	}
	var sum float64
	published := 0.0
	for _, r := range rates {
		sum += max(0, r.rate)
		if r.node == s.rowID {
			published = r.rate
		}
	}
	skip := s.skipFor(remaining, sum)
	standing := int64(math.Ceil(standingShare * float64(remaining) / float64(max(1, len(rates)))))
	limitPart := int64(math.Ceil(horizon*l.rate*s.opts.SyncInterval.Seconds()*float64(skip+1))) + standing
	if !active {
		limitPart = min(limitPart, 1)
	}
	part, ok := share(remaining, rates, s.rowID)
	if (!ok || published <= 0) && l.rate > 0 {
		// The others divided without this node: ask for what their claims
		// left, at most this node's count's worth of the limit, so that
		// nodes that start together do not all ask for everything.
		free := limit / int64(s.liveNodes(s.now().UnixNano()))
		if othersClaim >= 0 {
			free = min(free, limit-othersClaim-mark)
		}
		part = max(part, free)
	}
	return max(ser.mine, mark+max(0, min(part, limitPart)))
}

// skipFor returns in how many rounds a window must be synced again, from a
// remainder and the cluster's demand rate as read: every round while the
// remainder could run out soon, up to maxSkip rounds apart while the whole
// cluster would need over skipMargin times as long to use it.
func (s *Store) skipFor(remaining int64, rate float64) int64 {
	perRound := rate * s.opts.SyncInterval.Seconds()
	if remaining <= 0 {
		return 1
	}
	if perRound <= 0 {
		return maxSkip
	}
	m := float64(remaining) / (skipMargin * perRound)
	if m >= maxSkip {
		return maxSkip
	}
	return max(1, int64(m))
}

// slotRead is one window partition to read.
type slotRead struct {
	ser    *series
	lane   *lane
	key    string
	period string
	start  int64 // Unix ms

	others      int64
	othersClaim int64
	mine        int64 // this node's hits in its row
	rates       []nodeRate
	err         error
}

// Pull reads the partition of every window this node follows (recently
// requested, due, not known to be used up), of every window with a claim
// awaiting its read, and of windows that ended since, and keeps the other
// nodes' counts and claims and everyone's rates. A pending claim takes
// effect, trimmed to what the others' claims leave of its limit.
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
				case ser.pending > 0:
					need = true
				case ser.end <= clock:
					// After it ends, for its final totals (sliding windows
					// weigh them through the next window): once, and once
					// more when every node's last row has surely landed.
					need = ser.finalReads == 0 || ser.finalReads == 1 && clock >= ser.end+finalDelay*s.interval
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
	for range min(s.readers, len(reads)) {
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
		s.apply(r, clock)
		sh.mu.Unlock()
	}
	if len(errs) > 0 {
		return fmt.Errorf("read rate-limit counters: %w", errors.Join(errs...))
	}
	return nil
}

// apply keeps what a read found; the shard's lock is held.
func (s *Store) apply(r *slotRead, clock int64) {
	ser, l := r.ser, r.lane
	if ser.pending > 0 {
		// Every claim the others hold now is at most what their rows
		// said when read: this one fits beside them.
		ser.claim = max(ser.claim, min(ser.pending, ser.pendingLimit-r.othersClaim))
		ser.pending, ser.pendingLimit = 0, 0
	}
	ser.pulled = true
	ser.mark = ser.flushed
	ser.others = r.others
	ser.othersClaim = r.othersClaim
	ser.rates = r.rates
	if l.ratesStart < ser.start && clock < ser.start+carryRounds*s.interval {
		// Early in a window, a node that was busy in the previous one
		// may not have written its row in this one yet: keep its last
		// rate rather than take it for idle.
		ser.rates = carryRates(r.rates, l.rates)
	}
	if ser.end <= clock {
		ser.finalReads++
	}
	remaining := ser.lastLimit - ser.others - ser.mark
	ser.exhausted = ser.lastLimit > 0 && remaining <= 0
	ser.exhaustedLimit = ser.lastLimit
	var sum float64
	for _, nr := range ser.rates {
		sum += max(0, nr.rate)
	}
	ser.nextRound = clock/s.interval + s.skipFor(remaining, sum)
	if ser.start >= l.ratesStart {
		l.rates = ser.rates
		l.ratesAt = clock
		l.ratesStart = ser.start
		l.far = ser.lastLimit > 0 && 2*remaining >= ser.lastLimit
	}
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
			r.othersClaim += max(row.claim, row.hits)
		} else {
			r.mine = row.hits
		}
		r.rates = append(r.rates, nodeRate{node: row.node, rate: row.rate})
		s.seen[row.node] = clock
	}
	s.seenMu.Unlock()
	sortRates(r.rates)
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
	s.live.Store(int64(s.liveNodes(clock)))
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
// publishing a zero rate and claims no larger than its counts, so that the
// other nodes stop reserving a share for this one and take what it held. It is idempotent; the store keeps counting locally after.
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
