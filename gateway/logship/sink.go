package logship

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/gateway/logsink"
	"github.com/tollgate/tollgate/gateway/spool"
	"github.com/tollgate/tollgate/internal/logrecord"
)

// Hooks lets the caller observe the sink, typically with Prometheus
// metrics. Each func may be nil; they are called from the sink's goroutines
// (Dropped also from Enqueue) and must not block.
type Hooks struct {
	// ObserveSend is called after each write to Kafka with its record
	// count, how long it took and its error (nil on success).
	ObserveSend func(records int, took time.Duration, err error)
	// Dropped is called with the number of records just dropped.
	Dropped func(n int)
}

// Stats is a snapshot of the sink's counters.
type Stats struct {
	Queued       int   // records in memory, not yet sent or spooled
	Sent         int64 // records written to Kafka (a record sent twice counts twice)
	Spooled      int64 // records appended to the spool
	SpoolRecords int   // records in the spool now
	SpoolBytes   int64 // spool size on disk now
	Dropped      int64 // records lost: see the package doc's drop policy
	SendErrors   int64 // failed writes to Kafka
	Corrupt      int64 // damaged spool regions skipped (the spool's Corruptions)
	Spooling     bool  // whether new records go through the spool
}

// Sink ships request log records to Kafka. Create it with Open; it is safe
// for concurrent use.
type Sink struct {
	set   Settings
	log   *slog.Logger
	hooks Hooks
	dest  Destination
	spool *spool.Spool
	pool  sync.Pool // of *[]byte

	// Enqueue's side.
	queue    chan *[]byte
	spilling atomic.Bool // set while records bypass queue for over
	omu      sync.Mutex  // guards over
	over     []*[]byte   // overflow backlog, newer than everything in queue
	overCap  int
	spillc   chan struct{} // cap 1: wakes run when over has records
	// readyc (cap 1) wakes run once the queue holds wakeAt records: the
	// first record of a batch, or enough to fill it. run is not woken for
	// each record; a goroutine wake-up costs more than queueing one.
	readyc    chan struct{}
	wakeAt    atomic.Int64
	inflight  atomic.Pointer[context.CancelFunc]
	enqueuers atomic.Int64 // Enqueue calls in progress; Close waits for 0
	closing   atomic.Bool

	// Counters.
	inMemory    atomic.Int64
	sent        atomic.Int64
	spooled     atomic.Int64
	dropped     atomic.Int64
	sendErrors  atomic.Int64
	spoolingNow atomic.Bool
	dropLog     logLimiter
	errLog      logLimiter

	// Goroutines.
	stopc       chan struct{} // closed by Close: run drains and returns
	pokec       chan struct{} // cap 1: the spool has new records
	drainedc    chan struct{} // cap 1: the drainer found the spool empty
	drainCtx    context.Context
	drainCancel context.CancelFunc
	closeCtx    context.Context // set before stopc is closed; bounds run's final sends
	wg          sync.WaitGroup
	closeOnce   sync.Once
	closeErr    error
}

var _ logsink.Sink = (*Sink)(nil)

// Open validates set, opens the spool in set.SpoolDir and starts the
// background goroutines. A spool left by an earlier run is sent before any
// record enqueued now. log may be nil.
func Open(set Settings, log *slog.Logger, hooks Hooks) (*Sink, error) {
	if err := set.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dest := set.Destination
	if dest == nil {
		kd, err := newKafkaDestination(set)
		if err != nil {
			return nil, fmt.Errorf("log sink: %w", err)
		}
		dest = kd
	}
	log = log.With("sink", dest.String())
	// Segments of 16 MiB, or smaller for a small spool so it still holds
	// several (the spool needs MaxBytes >= SegmentBytes).
	segBytes := min(int64(16<<20), set.SpoolMaxBytes/4)
	sp, err := spool.Open(set.SpoolDir, spool.Options{MaxBytes: set.SpoolMaxBytes, SegmentBytes: segBytes, Logger: log})
	if err != nil {
		dest.Close()
		return nil, fmt.Errorf("log sink: %w", err)
	}
	s := &Sink{
		set:      set,
		log:      log,
		hooks:    hooks,
		dest:     dest,
		spool:    sp,
		queue:    make(chan *[]byte, set.QueueSize),
		overCap:  set.QueueSize,
		spillc:   make(chan struct{}, 1),
		readyc:   make(chan struct{}, 1),
		stopc:    make(chan struct{}),
		pokec:    make(chan struct{}, 1),
		drainedc: make(chan struct{}, 1),
	}
	s.pool.New = func() any { b := make([]byte, 0, 1024); return &b }
	s.drainCtx, s.drainCancel = context.WithCancel(context.Background())
	if n := sp.Len(); n > 0 {
		log.Info("replaying the spool from an earlier run before new records", "records", n, "bytes", sp.Bytes())
		s.spoolingNow.Store(true)
		s.poke()
	}
	s.wg.Add(2)
	go s.run()
	go s.drain()
	return s, nil
}

// Enqueue encodes r and queues it; it never blocks. See the package doc for
// when a record is dropped instead.
func (s *Sink) Enqueue(r *logrecord.Record) {
	s.enqueuers.Add(1)
	defer s.enqueuers.Add(-1)
	if s.closing.Load() {
		s.drop(1, "sink closed")
		return
	}
	bp := s.pool.Get().(*[]byte)
	*bp = logrecord.Append((*bp)[:0], r)
	if !s.spilling.Load() {
		select {
		case s.queue <- bp:
			s.inMemory.Add(1)
			s.wake()
			return
		default:
		}
	}
	s.overflow(bp)
}

// wake wakes run if the queue holds as many records as it waits for. The
// queue only shrinks while run is awake, so the Enqueue that brings it to
// wakeAt sees it there.
func (s *Sink) wake() {
	if int64(len(s.queue)) >= s.wakeAt.Load() {
		select {
		case s.readyc <- struct{}{}:
		default:
		}
	}
}

// overflow takes a record the queue had no room for. From the first such
// record until run has emptied the queue, every record goes to the backlog,
// so that the backlog only ever holds records newer than the queue's and the
// spool receives them in order.
func (s *Sink) overflow(bp *[]byte) {
	s.omu.Lock()
	if !s.spilling.Load() {
		// run may have ended a spill since the check in Enqueue.
		select {
		case s.queue <- bp:
			s.omu.Unlock()
			s.inMemory.Add(1)
			s.wake()
			return
		default:
		}
		s.spilling.Store(true)
		// A write in flight is why the queue filled: abandon it, so its
		// records and the queue's go to the spool now instead of the
		// backlog growing for a whole WriteTimeout.
		if c := s.inflight.Load(); c != nil {
			(*c)()
		}
	}
	if len(s.over) >= s.overCap {
		s.omu.Unlock()
		s.pool.Put(bp)
		s.drop(1, "in-memory backlog full: the spool is not keeping up")
		return
	}
	s.over = append(s.over, bp)
	s.omu.Unlock()
	s.inMemory.Add(1)
	select {
	case s.spillc <- struct{}{}:
	default:
	}
}

func (s *Sink) drop(n int, reason string) {
	total := s.dropped.Add(int64(n))
	if s.hooks.Dropped != nil {
		s.hooks.Dropped(n)
	}
	if suppressed, ok := s.dropLog.allow(time.Now(), int64(n)); ok {
		s.log.Error("request log records dropped", "reason", reason, "dropped", suppressed, "dropped_total", total)
	}
}

// Stats returns a snapshot of the counters.
func (s *Sink) Stats() Stats {
	st := s.spool.Stats()
	return Stats{
		Queued:       int(s.inMemory.Load()),
		Sent:         s.sent.Load(),
		Spooled:      s.spooled.Load(),
		SpoolRecords: st.Records,
		SpoolBytes:   st.Bytes,
		Dropped:      s.dropped.Load(),
		SendErrors:   s.sendErrors.Load(),
		Corrupt:      st.Corruptions,
		Spooling:     s.spoolingNow.Load(),
	}
}

// run owns the order of records from the queue: it batches them and sends
// each batch to Kafka, or to the spool while the spool is not empty.
func (s *Sink) run() {
	defer s.wg.Done()
	var b batch
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	take := func() {
		for {
			select {
			case bp := <-s.queue:
				if b.add(bp) == 1 {
					linger.Reset(s.set.Linger)
				}
				if b.full(s.set) {
					s.flush(&b)
				}
			default:
				return
			}
		}
	}
	for {
		// Sleep until the batch can be filled, or its linger ends; with
		// no batch, until a record comes. Never wait for more than half
		// the queue, which would fill it and spill to the spool.
		want := int64(1)
		if n := len(b.bufs); n > 0 {
			want = int64(max(1, min(s.set.BatchSize-n, s.set.QueueSize/2)))
		}
		s.wakeAt.Store(want)
		if int64(len(s.queue)) >= want {
			take()
			continue
		}
		select {
		case <-s.readyc:
			take()
		case <-linger.C:
			// Records queued since the last wake-up belong to this batch,
			// as far as it has room.
			take()
			s.flush(&b)
		case <-s.spillc:
			s.spill(&b)
		case <-s.drainedc:
			if s.spoolingNow.Load() && s.spool.Len() == 0 {
				// Only run appends to the spool, so an empty spool here
				// means every older record has been sent.
				s.spoolingNow.Store(false)
				s.log.Info("spool drained; sending to Kafka directly again")
			}
		case <-s.stopc:
			linger.Stop()
			s.shutdown(&b)
			return
		}
	}
}

// batch is a run of encoded records in order.
type batch struct {
	bufs  []*[]byte
	bytes int
}

func (b *batch) add(bp *[]byte) int {
	b.bufs = append(b.bufs, bp)
	b.bytes += len(*bp)
	return len(b.bufs)
}

func (b *batch) full(set Settings) bool {
	return len(b.bufs) >= set.BatchSize || b.bytes >= set.BatchBytes
}

// fullForSpool is the larger limit for appends to the spool during a spill:
// each append costs an fsync, so fewer, larger appends keep the spool ahead
// of the request rate.
func (b *batch) fullForSpool() bool {
	return len(b.bufs) >= 16384 || b.bytes >= 8<<20
}

func (b *batch) records() [][]byte {
	recs := make([][]byte, len(b.bufs))
	for i, bp := range b.bufs {
		recs[i] = *bp
	}
	return recs
}

func (b *batch) reset() {
	clear(b.bufs)
	b.bufs, b.bytes = b.bufs[:0], 0
}

// flush sends b to Kafka, or to the spool when spooling or when the send
// fails. It empties b.
func (s *Sink) flush(b *batch) {
	if len(b.bufs) == 0 {
		return
	}
	if s.spoolingNow.Load() {
		s.toSpool(b, true)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.set.WriteTimeout)
	s.inflight.Store(&cancel)
	err := s.send(ctx, b.records(), false)
	s.inflight.Store(nil)
	cancel()
	if err == nil {
		s.inMemory.Add(-int64(len(b.bufs)))
		s.release(b)
		return
	}
	s.startSpooling(err)
	var partial *PartialError
	if errors.As(err, &partial) {
		// Only the records that failed are spooled: the others are
		// written, and sending them again would only make duplicates.
		kept := b.bufs[:0]
		for _, i := range partial.Failed {
			kept = append(kept, b.bufs[i])
		}
		s.inMemory.Add(-int64(len(b.bufs) - len(kept)))
		clear(b.bufs[len(kept):])
		b.bufs, b.bytes = kept, 0
		for _, bp := range kept {
			b.bytes += len(*bp)
		}
	}
	// The writer may still hold the buffers of an abandoned write, so they
	// go to the garbage collector, not back to the pool.
	s.toSpool(b, false)
}

func (s *Sink) startSpooling(cause error) {
	if !s.spoolingNow.Swap(true) {
		s.log.Warn("request log write failed; spooling records until the destination is back", "destination", s.dest.String(), "err", cause)
	}
}

// spill moves the batch, the queue and the overflow backlog, in that order,
// to the spool, and ends the spill once the queue is empty.
func (s *Sink) spill(b *batch) {
	s.startSpooling(errors.New("in-memory queue full"))
	for {
		for drained := false; !drained; {
			select {
			case bp := <-s.queue:
				b.add(bp)
				if b.fullForSpool() {
					s.toSpool(b, true)
				}
			default:
				drained = true
			}
		}
		s.omu.Lock()
		over := s.over
		s.over = nil
		done := len(s.queue) == 0
		if done {
			s.spilling.Store(false)
		}
		s.omu.Unlock()
		for _, bp := range over {
			b.add(bp)
			if b.fullForSpool() {
				s.toSpool(b, true)
			}
		}
		s.toSpool(b, true)
		if done {
			return
		}
	}
}

// toSpool appends b to the spool and empties it. When the spool refuses the
// whole batch, it keeps as many of the oldest records as fit and drops the
// rest: drop newest.
func (s *Sink) toSpool(b *batch, reuse bool) {
	n := len(b.bufs)
	if n == 0 {
		return
	}
	recs := b.records()
	err := s.spool.Append(recs...)
	kept := n
	if err != nil {
		kept = 0
		for _, r := range recs {
			if err = s.spool.Append(r); err != nil {
				break
			}
			kept++
		}
	}
	s.spooled.Add(int64(kept))
	s.inMemory.Add(-int64(n))
	if kept < n {
		reason := "spool full"
		if !errors.Is(err, spool.ErrFull) {
			reason = "spool write failed: " + err.Error()
		}
		s.drop(n-kept, reason)
	}
	// Even when nothing was kept: the drainer then reports an empty spool,
	// which ends spooling instead of dropping every later batch.
	s.poke()
	if reuse {
		s.release(b)
	} else {
		b.reset()
	}
}

func (s *Sink) release(b *batch) {
	for _, bp := range b.bufs {
		if cap(*bp) <= 64<<10 {
			s.pool.Put(bp)
		}
	}
	b.reset()
}

func (s *Sink) poke() {
	select {
	case s.pokec <- struct{}{}:
	default:
	}
}

// send writes recs to the destination; resend says they come from the
// spool and may have been written before.
func (s *Sink) send(ctx context.Context, recs [][]byte, resend bool) error {
	start := time.Now()
	err := s.dest.Write(ctx, recs, resend)
	took := time.Since(start)
	if s.hooks.ObserveSend != nil {
		s.hooks.ObserveSend(len(recs), took, err)
	}
	if err != nil {
		s.sendErrors.Add(1)
		// The records a partial failure did write are sent.
		var pe *PartialError
		if errors.As(err, &pe) {
			s.sent.Add(int64(len(recs) - len(pe.Failed)))
		}
		if suppressed, ok := s.errLog.allow(time.Now(), 1); ok {
			s.log.Warn("request log write failed", "records", len(recs), "err", err, "failures", suppressed)
		}
		return fmt.Errorf("write %d records to %s: %w", len(recs), s.dest, err)
	}
	s.sent.Add(int64(len(recs)))
	return nil
}

// drain sends the spool's records, oldest first, until the spool is empty,
// retrying with backoff while Kafka is away.
func (s *Sink) drain() {
	defer s.wg.Done()
	const minBackoff = 100 * time.Millisecond
	backoff := minBackoff
	wait := func() bool {
		t := time.NewTimer(backoff)
		defer t.Stop()
		backoff = min(backoff*2, s.set.RetryBackoffMax)
		select {
		case <-t.C:
			return true
		case <-s.drainCtx.Done():
			return false
		}
	}
	for {
		select {
		case <-s.pokec:
		case <-s.drainCtx.Done():
			return
		}
		for s.spool.Len() > 0 {
			recs, err := s.spool.Peek(s.set.BatchSize)
			if errors.Is(err, spool.ErrCorrupt) {
				// The spool logged, counted and skipped it; go on.
				continue
			}
			if err != nil {
				s.log.Error("reading the spool failed", "err", err)
				if !wait() {
					return
				}
				continue
			}
			ctx, cancel := context.WithTimeout(s.drainCtx, s.set.WriteTimeout)
			err = s.send(ctx, recs, true)
			cancel()
			if err != nil {
				if s.drainCtx.Err() != nil || !wait() {
					return
				}
				continue
			}
			backoff = minBackoff
			if err := s.spool.Commit(len(recs)); err != nil {
				// The records were sent; at worst they are sent again.
				s.log.Error("committing sent records in the spool failed", "err", err)
			}
		}
		select {
		case s.drainedc <- struct{}{}:
		default:
		}
	}
}

// shutdown is run's last act: everything queued goes to Kafka within the
// close deadline, in order, or else to the spool.
func (s *Sink) shutdown(b *batch) {
	ctx := s.closeCtx
	for {
		select {
		case bp := <-s.queue:
			b.add(bp)
			if b.full(s.set) {
				s.finalFlush(ctx, b)
			}
			continue
		default:
		}
		break
	}
	s.omu.Lock()
	over := s.over
	s.over = nil
	s.omu.Unlock()
	for _, bp := range over {
		b.add(bp)
		if b.full(s.set) {
			s.finalFlush(ctx, b)
		}
	}
	s.finalFlush(ctx, b)
}

func (s *Sink) finalFlush(ctx context.Context, b *batch) {
	if len(b.bufs) == 0 {
		return
	}
	if !s.spoolingNow.Load() && ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, s.set.WriteTimeout)
		err := s.send(wctx, b.records(), false)
		cancel()
		if err == nil {
			s.inMemory.Add(-int64(len(b.bufs)))
			s.release(b)
			return
		}
		s.startSpooling(err)
		s.toSpool(b, false)
		return
	}
	s.toSpool(b, true)
}

// Close stops accepting records, sends what is queued within
// Settings.CloseTimeout, spools the rest, and closes the writer and the
// spool. Records still in the spool are sent by the next Open on the same
// directory. It is safe to call more than once.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		// An Enqueue that passed the closing check is about to queue its
		// record; wait for it so the final drain sees it.
		for s.enqueuers.Load() > 0 {
			runtime.Gosched()
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.set.CloseTimeout)
		defer cancel()
		// The drainer stops first: what it has not committed stays in the
		// spool for the next run, and run may append behind it safely.
		s.drainCancel()
		s.closeCtx = ctx
		close(s.stopc)
		s.wg.Wait()
		var errs []error
		if err := s.dest.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", s.dest, err))
		}
		if n := s.spool.Len(); n > 0 {
			s.log.Info("records left in the spool for the next start", "records", n)
		}
		if err := s.spool.Close(); err != nil {
			errs = append(errs, err)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// logLimiter lets one log line through per interval and counts the events
// in between, so a storm of failures costs a line every few seconds.
type logLimiter struct {
	mu     sync.Mutex
	next   time.Time
	events int64
}

const logInterval = 5 * time.Second

func (l *logLimiter) allow(now time.Time, n int64) (events int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events += n
	if now.Before(l.next) {
		return 0, false
	}
	l.next = now.Add(logInterval)
	events, l.events = l.events, 0
	return events, true
}
