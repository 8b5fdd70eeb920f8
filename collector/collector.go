package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/tollgate/tollgate/internal/keep"
	"github.com/tollgate/tollgate/internal/logrecord"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

// Errors.
var (
	// ErrClosed is returned by Run on a closed Collector.
	ErrClosed = errors.New("collector closed")
	// ErrRunning is returned by Run when the Collector already runs.
	ErrRunning = errors.New("collector already running")
)

// Dead-letter headers: why a record was not loaded and where it came from.
// The original key, value and headers are kept as they were, except that a
// record taken out of a batch (logrecord.HeaderBatch) is dead-lettered
// alone, as a message holding that one record, without the batch header
// and with its place in the batch in HeaderOriginalIndex. A batch whose
// framing is broken is dead-lettered whole.
const (
	HeaderReason            = "tollgate-dead-reason"
	HeaderError             = "tollgate-dead-error"
	HeaderOriginalTopic     = "tollgate-original-topic"
	HeaderOriginalPartition = "tollgate-original-partition"
	HeaderOriginalOffset    = "tollgate-original-offset"
	HeaderOriginalIndex     = "tollgate-original-index"
)

// readQueue is how many fetches (each at most fetchMaxBytes from the
// broker) the partition readers may hand over ahead of the batcher. While
// a batch waits on ClickHouse the queue fills, the readers stop fetching
// and lag grows in Kafka rather than in memory.
const readQueue = 4

// A partition reader's fetches: at most fetchMaxBytes of record batches,
// and the broker answers once it has one byte or fetchMaxWait has passed;
// a fetch not answered within fetchTimeout is tried again.
const (
	fetchMaxBytes = 4 << 20
	fetchMaxWait  = 250 * time.Millisecond
	fetchTimeout  = 10 * time.Second
)

// Collector is one member of the collector consumer group. Create it with
// New, call Run, and Close it when Run has returned (or to stop it).
type Collector struct {
	cfg    Config
	log    *slog.Logger
	hooks  Hooks
	stats  counters
	now    func() time.Time
	dialer *kafka.Dialer
	conn   driver.Conn
	loader *Loader
	// reconcileConn runs the periodic reconcile (nil when off): its
	// queries read days of rows and outlast InsertTimeout.
	reconcileConn driver.Conn
	dead          *kafka.Writer
	// transport carries the dead letters; a Writer does not close a
	// Transport it was given, so Close does.
	transport *kafka.Transport
	// arenas are the buffers the partition readers copy records into.
	arenas arenaPool
	// msgs are the fetches' slices of messages, back from the batcher.
	msgs *keep.Slices[message]

	mu      sync.Mutex
	closed  bool
	running bool
	cancel  context.CancelFunc // stops Run
	done    chan struct{}      // closed when Run returns

	// crashed makes the collector stop as a crash would: no flush, no
	// commit. Tests set it (crash) to prove that restarts load every
	// record once.
	crashed atomic.Bool
	// afterInsert, when set (by tests), runs after a batch is in
	// ClickHouse and before its offsets are committed.
	afterInsert func()
	// loseAck, when set (by tests), runs after every insert ClickHouse
	// acknowledged; when it returns an error the collector takes the
	// insert as failed, as it would when the connection broke after the
	// server applied it.
	loseAck func() error
}

// New checks cfg and prepares a collector; it does no I/O. log may be nil.
func New(cfg Config, log *slog.Logger, hooks Hooks) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	open := func(readTimeout time.Duration) (driver.Conn, error) {
		conn, err := clickhouse.Open(&clickhouse.Options{
			Protocol: clickhouse.Native,
			Addr:     []string{cfg.ClickHouseAddr},
			Auth: clickhouse.Auth{
				Database: cfg.ClickHouseDatabase,
				Username: cfg.ClickHouseUsername,
				Password: cfg.ClickHousePassword,
			},
			TLS:         cfg.ClickHouseTLS,
			DialTimeout: 5 * time.Second,
			ReadTimeout: readTimeout,
			Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		})
		if err != nil {
			return nil, fmt.Errorf("collector: clickhouse %s: %w", cfg.ClickHouseAddr, err)
		}
		return conn, nil
	}
	conn, err := open(cfg.InsertTimeout)
	if err != nil {
		return nil, err
	}
	var reconcileConn driver.Conn
	if cfg.ReconcileEvery > 0 {
		if reconcileConn, err = open(reconcileQueryTimeout); err != nil {
			_ = conn.Close()
			return nil, err
		}
	}
	dialer := &kafka.Dialer{
		ClientID:      "tollgate-collector",
		Timeout:       10 * time.Second,
		DualStack:     true,
		TLS:           cfg.KafkaTLS,
		SASLMechanism: cfg.KafkaSASL,
	}
	transport := &kafka.Transport{
		ClientID: "tollgate-collector",
		TLS:      cfg.KafkaTLS,
		SASL:     cfg.KafkaSASL,
	}
	dead := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        cfg.deadLetterTopic(),
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		// Dead letters are written synchronously before the batch they
		// belong to is committed; waiting for more messages would only
		// delay that.
		BatchTimeout:           10 * time.Millisecond,
		WriteTimeout:           cfg.InsertTimeout,
		Transport:              transport,
		AllowAutoTopicCreation: true,
		ErrorLogger:            kafkaLogger(log, slog.LevelWarn),
	}
	return &Collector{
		cfg:           cfg,
		log:           log,
		hooks:         hooks,
		now:           time.Now,
		dialer:        dialer,
		conn:          conn,
		reconcileConn: reconcileConn,
		loader:        NewLoader(conn, cfg.ClickHouseDatabase, cfg.insertOptions()),
		dead:          dead,
		transport:     transport,
		arenas:        newArenaPool(),
		msgs:          newMsgs(),
	}, nil
}

// insertOptions are the options of the loader's insert connection: the
// same server, credentials and timeouts as the other connection, and LZ4
// for the blocks.
func (c Config) insertOptions() ch.Options {
	return ch.Options{
		Address:     c.ClickHouseAddr,
		Database:    c.ClickHouseDatabase,
		User:        c.ClickHouseUsername,
		Password:    c.ClickHousePassword,
		TLS:         c.ClickHouseTLS,
		Compression: c.insertCompression(),
		ClientName:  "tollgate-collector",
		DialTimeout: 5 * time.Second,
		ReadTimeout: c.InsertTimeout,
	}
}

// kafkaLogger adapts kafka-go's printf logging to slog.
func kafkaLogger(log *slog.Logger, level slog.Level) kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		log.Log(context.Background(), level, "kafka: "+fmt.Sprintf(msg, args...))
	})
}

// Stats returns the collector's counters.
func (c *Collector) Stats() Stats { return c.stats.snapshot() }

// Run joins the consumer group and loads records until ctx is done or
// Close is called, then flushes the batch it holds, commits it, leaves the
// group and returns nil. Errors of Kafka or ClickHouse are retried, not
// returned: a collector outlives the outages of both.
func (c *Collector) Run(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.running:
		c.mu.Unlock()
		return ErrRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	c.running, c.cancel, c.done = true, cancel, make(chan struct{})
	done := c.done
	c.mu.Unlock()
	defer close(done)
	defer cancel()

	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	if c.cfg.ReconcileEvery > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); c.reconcileEvery(ctx) }()
	}

	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                    c.cfg.GroupID,
		Brokers:               c.cfg.Brokers,
		Dialer:                c.dialer,
		Topics:                []string{c.cfg.Topic},
		HeartbeatInterval:     c.cfg.HeartbeatInterval,
		SessionTimeout:        c.cfg.SessionTimeout,
		RebalanceTimeout:      c.cfg.RebalanceTimeout,
		JoinGroupBackoff:      c.cfg.RetryBackoff,
		WatchPartitionChanges: true,
		StartOffset:           kafka.FirstOffset,
		Logger:                kafkaLogger(c.log, slog.LevelDebug),
		ErrorLogger:           kafkaLogger(c.log, slog.LevelWarn),
	})
	if err != nil {
		return fmt.Errorf("collector: consumer group: %w", err)
	}
	backoff := c.cfg.RetryBackoff
	for {
		gen, err := group.Next(ctx)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			c.log.Warn("joining the consumer group failed; retrying", "group", c.cfg.GroupID, "err", err, "in", backoff)
			sleep(ctx, backoff)
			backoff = min(2*backoff, c.cfg.MaxRetryBackoff)
			continue
		}
		backoff = c.cfg.RetryBackoff
		c.stats.generations.Add(1)
		c.stats.resetLag()
		parts := gen.Assignments[c.cfg.Topic]
		c.log.Info("joined consumer group generation", "group", c.cfg.GroupID, "generation", gen.ID, "partitions", len(parts))
		if len(parts) > 0 {
			gen.Start(func(gctx context.Context) { c.runGeneration(gctx, gen, parts) })
		}
	}
	// Close ends the current generation, which waits for runGeneration
	// to flush and commit, and then leaves the group.
	if err := group.Close(); err != nil {
		c.log.Warn("leaving the consumer group", "group", c.cfg.GroupID, "err", err)
	}
	return nil
}

// crash stops Run as a crash would: the batch in hand is neither inserted
// nor committed.
func (c *Collector) crash() {
	c.crashed.Store(true)
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Close stops Run if it runs, waits for it to return, and releases the
// ClickHouse connections and the dead-letter producer. It is idempotent.
func (c *Collector) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	err := errors.Join(c.dead.Close(), c.loader.Close(), c.conn.Close())
	if c.reconcileConn != nil {
		err = errors.Join(err, c.reconcileConn.Close())
	}
	c.transport.CloseIdleConnections()
	return err
}

// reconcileQueryTimeout bounds one query of a periodic reconcile: counting
// a day of requests with FINAL or rebuilding an hour of a busy rollup
// takes far longer than an insert.
const reconcileQueryTimeout = 10 * time.Minute

// reconcileEvery runs Reconcile every ReconcileEvery until ctx is done.
// A reconcile cut short (shutdown, ClickHouse gone) may leave the hour it
// was rebuilding deleted; the next run finds and rebuilds it.
func (c *Collector) reconcileEvery(ctx context.Context) {
	t := time.NewTicker(c.cfg.ReconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := c.now()
		rep, err := Reconcile(ctx, c.reconcileConn, c.cfg.ClickHouseDatabase, now.Add(-c.cfg.ReconcileWindow), now, c.log,
			SettleTime(c.cfg.ReconcileSettle))
		if err != nil && ctx.Err() != nil {
			return
		}
		c.stats.reconciles.Add(1)
		c.stats.mismatches.Add(uint64(len(rep.Mismatches)))
		c.stats.rebuilt.Add(uint64(len(rep.Rebuilt)))
		if err != nil {
			c.stats.reconcileErrors.Add(1)
			c.log.Warn("reconciling rollups failed", "err", err)
		} else if len(rep.Mismatches) > 0 {
			c.log.Warn("reconciled rollups", "hours", len(rep.Hours), "mismatches", len(rep.Mismatches),
				"rebuilt", len(rep.Rebuilt), "skipped", len(rep.Skipped))
		}
		if c.hooks.PeriodRebuilt != nil {
			for _, p := range rep.Rebuilt {
				c.hooks.PeriodRebuilt(p.Table)
			}
		}
		if c.hooks.Reconciled != nil {
			c.hooks.Reconciled(rep, err)
		}
		c.compact(ctx, now)
	}
}

// compact merges the settled days' partitions of the rollups that the
// window holds into one part each (clickhousemigrate.Compact): the
// background merges leave several, and queries of long ranges read every
// part of every day. A day is settled once Reconcile would check it.
func (c *Collector) compact(ctx context.Context, now time.Time) {
	merged, err := clickhousemigrate.Compact(ctx, c.reconcileConn, c.cfg.ClickHouseDatabase,
		now.Add(-c.cfg.ReconcileWindow), now.Add(-c.cfg.ReconcileSettle), nil)
	c.stats.compacted.Add(uint64(len(merged)))
	if err != nil && ctx.Err() == nil {
		c.stats.compactErrors.Add(1)
		c.log.Warn("merging settled rollup partitions failed", "err", err)
	}
	if len(merged) > 0 {
		c.log.Info("merged settled rollup partitions", "partitions", len(merged))
	}
	if c.hooks.Compacted != nil {
		c.hooks.Compacted(len(merged), err)
	}
}

// runGeneration loads the assigned partitions for one generation: it reads
// what ClickHouse has loaded, starts a reader per partition after that,
// and batches until the generation ends. kafka-go waits for it (and the
// readers) to return before this member rejoins, so no other member can
// be given these partitions while a batch of them is being inserted.
func (c *Collector) runGeneration(gctx context.Context, gen *kafka.Generation, parts []kafka.PartitionAssignment) {
	var loaded map[int]int64
	r := retrier{cfg: c.cfg}
	for {
		var err error
		loaded, err = c.loader.LoadedOffsets(gctx, c.cfg.Topic)
		if err == nil {
			break
		}
		c.log.Warn("reading loaded offsets from clickhouse failed; retrying", "err", err)
		if !r.wait(gctx, false) {
			return
		}
	}
	fetched := make(chan fetch, readQueue)
	for _, a := range parts {
		start := startOffset(a.Offset, loaded, a.ID)
		c.log.Info("partition assigned", "topic", c.cfg.Topic, "partition", a.ID,
			"committed", a.Offset, "loaded", loadedOr(loaded, a.ID), "start", start)
		gen.Start(func(rctx context.Context) { c.readPartition(rctx, a.ID, start, fetched) })
	}
	b := newBatch()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-gctx.Done():
			if c.crashed.Load() {
				return
			}
			c.flush(gctx, gen, b, loaded)
			return
		case f := <-fetched:
			if gctx.Err() != nil {
				// The generation ended and select picked a fetch over
				// that: leave it to the partition's next owner. Taking
				// part of a fetch and then a later one of the same
				// partition would mark the records between them loaded.
				continue
			}
			for _, m := range f.msgs {
				if b.records == 0 {
					timer.Reset(c.cfg.BatchInterval)
				}
				c.add(b, m, loaded)
				if b.records >= c.cfg.BatchRows {
					timer.Stop()
					c.flush(gctx, gen, b, loaded)
				}
			}
			// add copied the messages: their slice goes back for a later
			// fetch, their bytes stay in the arenas.
			c.msgs.Put(f.msgs)
			// The records hold on to their arenas until the batch that
			// has the last of them is flushed.
			b.arenas = append(b.arenas, f.arenas...)
		case <-timer.C:
			c.flush(gctx, gen, b, loaded)
		}
	}
}

// startOffset is where a partition is read from: after the last record
// ClickHouse has, unless the group committed a later offset. A committed
// offset ahead of ClickHouse means records were dead-lettered (and not
// marked loaded) or a retention drop: both are safe to skip. kafka-go
// gives kafka.FirstOffset when the group has no commit.
func startOffset(committed int64, loaded map[int]int64, partition int) int64 {
	lo, ok := loaded[partition]
	if !ok {
		return committed
	}
	if committed < 0 || committed <= lo {
		return lo + 1
	}
	return committed
}

func loadedOr(loaded map[int]int64, p int) int64 {
	if o, ok := loaded[p]; ok {
		return o
	}
	return -1
}

// readPartition fetches one partition from start and hands its records
// to the batcher, a fetch at a time, until ctx ends. It fetches with
// kafka-go's Client rather than a Reader: a Reader hands records over one
// by one through a channel, copies each into allocations of its own and
// sets a deadline per record, which made up most of the collector's time
// spent in kafka-go.
func (c *Collector) readPartition(ctx context.Context, partition int, start int64, out chan<- fetch) {
	client := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...), Transport: c.transport, Timeout: fetchTimeout}
	offset := start
	rt := retrier{cfg: c.cfg}
	for {
		res, err := client.Fetch(ctx, &kafka.FetchRequest{
			Topic: c.cfg.Topic, Partition: partition, Offset: offset,
			MinBytes: 1, MaxBytes: fetchMaxBytes, MaxWait: fetchMaxWait,
		})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		var f fetch
		if err == nil {
			f, err = c.readFetch(res, partition, offset)
		}
		if len(f.msgs) > 0 {
			rt.reset()
			offset = f.msgs[len(f.msgs)-1].Offset + 1
			c.consumed(partition, f, res.HighWatermark)
			select {
			case out <- f:
			case <-ctx.Done():
				return
			}
		} else {
			c.arenas.put(f.arenas...)
			c.msgs.Put(f.msgs)
		}
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, kafka.OffsetOutOfRange):
			if next, ok := c.outOfRange(ctx, client, partition, offset); ok {
				offset = next
				continue
			}
		case err == nil:
			continue
		}
		c.log.Warn("reading partition failed; retrying", "partition", partition, "offset", offset, "err", err)
		if !rt.wait(ctx, false) {
			return
		}
	}
}

// fetch is the messages of one fetch, with the arenas that hold their
// values, keys and headers, and how many records they hold.
type fetch struct {
	msgs    []message
	arenas  [][]byte
	records int
}

// message is a Kafka message and what the partition reader found out
// about it.
type message struct {
	kafka.Message
	// batch says the value is a logrecord batch (logrecord.HeaderBatch).
	batch bool
	// records is how many records the message holds: those of its batch,
	// or one. A batch whose framing is broken counts as one record.
	records int
	// broken is the framing error of such a batch: it is dead-lettered
	// whole.
	broken error
}

// readFetch returns the records of a fetch from offset on (a broker may
// answer with a record batch that starts earlier), copied out of it into
// arenas. On a broken record it returns the records before it and the
// error.
func (c *Collector) readFetch(res *kafka.FetchResponse, partition int, offset int64) (fetch, error) {
	var f fetch
	if res.Records == nil {
		return f, nil
	}
	f.msgs = c.msgs.Get()
	var buf []byte // the arena being filled (f.arenas' last, at the length it had then)
	// copyOut copies n bytes of r into the arena.
	copyOut := func(r io.Reader, n int) ([]byte, error) {
		if cap(buf)-len(buf) < n {
			buf = c.arenas.get(n)
			f.arenas = append(f.arenas, buf)
		}
		v := buf[len(buf) : len(buf)+n : len(buf)+n]
		buf = buf[:len(buf)+n]
		_, err := io.ReadFull(r, v)
		return v, err
	}
	take := func(b kafka.Bytes) ([]byte, error) {
		if b == nil {
			return nil, nil
		}
		defer b.Close()
		return copyOut(b, b.Len())
	}
	for {
		rec, err := res.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil {
			return f, fmt.Errorf("read record after offset %d: %w", offset-1, err)
		}
		if rec.Offset < offset {
			closeBytes(rec.Key)
			closeBytes(rec.Value)
			continue
		}
		m := kafka.Message{Topic: c.cfg.Topic, Partition: partition, Offset: rec.Offset,
			HighWaterMark: res.HighWatermark, Time: rec.Time}
		if m.Key, err = take(rec.Key); err == nil {
			m.Value, err = take(rec.Value)
		}
		if err != nil {
			return f, fmt.Errorf("read record %d: %w", rec.Offset, err)
		}
		if len(rec.Headers) > 0 {
			// The reader reuses its headers from one record to the next.
			m.Headers = make([]kafka.Header, len(rec.Headers))
			for i, h := range rec.Headers {
				m.Headers[i] = kafka.Header{Key: h.Key, Value: slices.Clone(h.Value)}
			}
		}
		f.msgs = append(f.msgs, newMessage(m))
		f.records += f.msgs[len(f.msgs)-1].records
	}
}

// newMessage counts m's records. It checks a batch's framing while its
// bytes are still in the CPU's caches, just copied, rather than when the
// batcher takes the fetch: then they are not, and walking the batch a
// second time was a tenth of the collector's time.
func newMessage(m kafka.Message) message {
	if !has(m, logrecord.HeaderBatch) {
		return message{Message: m, records: 1}
	}
	n, err := logrecord.CountBatch(m.Value)
	if err != nil {
		return message{Message: m, batch: true, records: 1, broken: err}
	}
	return message{Message: m, batch: true, records: n}
}

// arenaSize is the size of an arena, unless a record needs more.
const arenaSize = 1 << 20

// arenaPool keeps the arenas of flushed batches for the next fetches, up
// to what a batch and the read queue hold. Fresh memory costs page faults
// and clearing: in a profile of the collector they were a sixth of its
// time.
type arenaPool struct{ kept *keep.Slices[byte] }

const keptArenas = 96

func newArenaPool() arenaPool { return arenaPool{keep.NewSlices[byte](keptArenas, arenaSize)} }

// get returns an empty arena of at least n bytes.
func (p arenaPool) get(n int) []byte {
	if n <= arenaSize {
		if b := p.kept.Get(); b != nil {
			return b
		}
	}
	return make([]byte, 0, max(n, arenaSize))
}

// put keeps arenas for reuse (not the larger ones made for one large
// record); nothing may refer to their bytes any more.
func (p arenaPool) put(arenas ...[]byte) {
	for _, b := range arenas {
		p.kept.Put(b)
	}
}

// newMsgs keeps the slices that fetches hand their messages over in. A
// fetch holds up to fetchMaxBytes of compressed record batches, tens of
// thousands of records; growing a fresh slice of 150-byte messages to
// that size, copying it at every step, took half of a partition reader's
// time in BenchmarkReadPartition.
func newMsgs() *keep.Slices[message] {
	return keep.NewSlices[message](keptMsgs, maxKeptMsgs)
}

// keptMsgs is one slice per fetch the read queue holds, and two for the
// fetches being read. Kept slices are as large as the fetches were: with
// no more than the queue holds while the collector is busy.
const keptMsgs = readQueue + 2

// maxKeptMsgs is the most messages a kept slice holds (20 MB): a fetch of
// records compressed to 32 bytes each. A larger one is left to the GC.
const maxKeptMsgs = fetchMaxBytes / 32

func closeBytes(b kafka.Bytes) {
	if b != nil {
		_ = b.Close()
	}
}

// consumed counts a fetch's records and the partition's lag after them,
// in messages.
func (c *Collector) consumed(partition int, f fetch, highWatermark int64) {
	c.stats.consumed.Add(uint64(f.records))
	if c.hooks.Consumed != nil {
		c.hooks.Consumed(partition, f.records)
	}
	if highWatermark > 0 {
		lag := max(highWatermark-f.msgs[len(f.msgs)-1].Offset-1, 0)
		c.stats.setLag(partition, lag)
		if c.hooks.Lag != nil {
			c.hooks.Lag(partition, lag)
		}
	}
}

// outOfRange handles a fetch from an offset the partition does not hold:
// before its first offset, the records were deleted by Kafka's retention
// before they were loaded, and reading goes on from the first, saying how
// many were lost; at or after its end, the reader waits and tries again.
func (c *Collector) outOfRange(ctx context.Context, client *kafka.Client, partition int, offset int64) (int64, bool) {
	res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		c.cfg.Topic: {kafka.FirstOffsetOf(partition), kafka.LastOffsetOf(partition)},
	}})
	if err != nil {
		c.log.Warn("reading partition bounds failed", "partition", partition, "err", err)
		return 0, false
	}
	for _, p := range res.Topics[c.cfg.Topic] {
		if p.Partition != partition || p.Error != nil {
			continue
		}
		if offset >= 0 && offset < p.FirstOffset {
			c.log.Error("records were deleted by Kafka before they were loaded; reading on from the partition's first offset",
				"partition", partition, "offset", offset, "first", p.FirstOffset, "lost_messages", p.FirstOffset-offset)
			return p.FirstOffset, true
		}
	}
	return 0, false
}

// batch is what the batcher holds between flushes.
type batch struct {
	records int                 // records taken, loaded or not
	rows    Rows                // records to insert
	dead    []kafka.Message     // records to dead-letter
	last    map[int]int64       // highest offset taken per partition
	reasons map[string]int      // dead letters by reason, counted when sent
	skipped int                 // records ClickHouse or the batch had already
	resent  []int               // indexes in rows of records marked resent
	ids     map[string]struct{} // request ids of rows, once a resent record came
	decoded logrecord.Record    // scratch for Decode
	arenas  [][]byte            // what the records taken are read into
}

func newBatch() *batch {
	return &batch{last: map[int]int64{}, reasons: map[string]int{}}
}

// release empties b and keeps its arenas for the next fetches: once b
// is reset nothing refers to their bytes (Rows copies what it keeps).
func (c *Collector) release(b *batch) {
	b.reset()
	c.arenas.put(b.arenas...)
	clear(b.arenas)
	b.arenas = b.arenas[:0]
}

func (b *batch) reset() {
	b.records, b.skipped = 0, 0
	b.rows.Reset()
	clear(b.dead) // the messages' values
	b.dead = b.dead[:0]
	clear(b.last)
	clear(b.reasons)
	b.resent = b.resent[:0]
	b.ids = nil
}

// has reports whether m carries the header key.
func has(m kafka.Message, key string) bool {
	for _, h := range m.Headers {
		if h.Key == key {
			return true
		}
	}
	return false
}

// dropResent removes from b.rows the records marked resent whose request
// id ClickHouse already has, and returns how many it removed.
func (c *Collector) dropResent(ctx context.Context, b *batch) (int, error) {
	if len(b.resent) == 0 {
		return 0, nil
	}
	ids := make([]string, len(b.resent))
	lo, hi := b.rows.StartedAt(b.resent[0]), b.rows.StartedAt(b.resent[0])
	for i, j := range b.resent {
		ids[i] = b.rows.RequestID(j)
		lo, hi = min(lo, b.rows.StartedAt(j)), max(hi, b.rows.StartedAt(j))
	}
	have, err := c.loader.Existing(ctx, ids, time.UnixMilli(lo), time.UnixMilli(hi))
	if err != nil {
		return 0, err
	}
	if len(have) == 0 {
		b.resent = b.resent[:0]
		return 0, nil
	}
	drop := make(map[int]bool, len(have))
	for _, j := range b.resent {
		if _, ok := have[b.rows.RequestID(j)]; ok {
			drop[j] = true
		}
	}
	n := b.rows.Keep(func(j int) bool { return !drop[j] })
	b.resent = b.resent[:0]
	return n, nil
}

// add decodes and checks the records of one message into b: the records
// of a batch, or the one record of a message without
// logrecord.HeaderBatch.
func (c *Collector) add(b *batch, m message, loaded map[int]int64) {
	if prev, ok := b.last[m.Partition]; !ok || m.Offset > prev {
		b.last[m.Partition] = m.Offset
	}
	b.records += m.records
	if lo, ok := loaded[m.Partition]; ok && m.Offset <= lo {
		b.skipped += m.records
		return
	}
	if m.broken != nil {
		c.deadLetter(b, m.Message, m.Value, -1, ReasonMalformed, m.broken)
		return
	}
	// The gateway could not know whether an earlier write of the message
	// landed.
	resent := has(m.Message, logrecord.HeaderResent)
	now := c.now()
	if !m.batch {
		c.addRecord(b, m.Message, m.Value, -1, resent, now)
		return
	}
	rest := m.Value
	for i := range m.records {
		var rec []byte
		rec, rest = logrecord.NextInBatch(rest)
		c.addRecord(b, m.Message, rec, i, resent, now)
	}
}

// addRecord decodes and checks one record of m, the index-th of its batch
// (-1: m is not a batch), into b.
func (c *Collector) addRecord(b *batch, m kafka.Message, value []byte, index int, resent bool, now time.Time) {
	rec := &b.decoded
	// The record's strings share value: it lies in an arena of the
	// fetch's, which nothing writes to before the batch is flushed.
	if err := logrecord.DecodeShared(value, rec); err != nil {
		c.deadLetter(b, m, value, index, ReasonMalformed, err)
		return
	}
	if err := rec.Validate(); err != nil {
		c.deadLetter(b, m, value, index, ReasonInvalid, err)
		return
	}
	started := time.UnixMilli(rec.StartedAt)
	if started.Before(now.Add(-c.cfg.MaxAge)) || started.After(now.Add(c.cfg.MaxFuture)) {
		c.deadLetter(b, m, value, index, ReasonOutOfWindow, fmt.Errorf("started_at %s is outside [now-%v, now+%v]",
			started.UTC().Format(time.RFC3339Nano), c.cfg.MaxAge, c.cfg.MaxFuture))
		return
	}
	if resent {
		// Skip the record if this batch has it, and check it against
		// ClickHouse before the insert (dropResent).
		if b.ids == nil {
			b.ids = make(map[string]struct{}, b.rows.Len()+1)
			for i := range b.rows.Len() {
				b.ids[b.rows.RequestID(i)] = struct{}{}
			}
		}
		if _, dup := b.ids[rec.RequestID]; dup {
			b.skipped++
			return
		}
		b.resent = append(b.resent, b.rows.Len())
	}
	if b.ids != nil {
		b.ids[rec.RequestID] = struct{}{}
	}
	b.rows.Add(rec, m.Topic, m.Partition, m.Offset)
}

// deadLetter dead-letters value, the index-th record of m's batch, as a
// message of its own; with index -1, value is m's whole value.
func (c *Collector) deadLetter(b *batch, m kafka.Message, value []byte, index int, reason string, err error) {
	headers := make([]kafka.Header, 0, len(m.Headers)+6)
	for _, h := range m.Headers {
		if index < 0 || h.Key != logrecord.HeaderBatch {
			headers = append(headers, h)
		}
	}
	headers = append(headers,
		kafka.Header{Key: HeaderReason, Value: []byte(reason)},
		kafka.Header{Key: HeaderError, Value: []byte(err.Error())},
		kafka.Header{Key: HeaderOriginalTopic, Value: []byte(m.Topic)},
		kafka.Header{Key: HeaderOriginalPartition, Value: []byte(strconv.Itoa(m.Partition))},
		kafka.Header{Key: HeaderOriginalOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
	)
	if index >= 0 {
		headers = append(headers, kafka.Header{Key: HeaderOriginalIndex, Value: []byte(strconv.Itoa(index))})
	}
	b.dead = append(b.dead, kafka.Message{Key: m.Key, Value: value, Headers: headers})
	b.reasons[reason]++
	c.log.Warn("dead-lettering record", "reason", reason, "partition", m.Partition, "offset", m.Offset, "index", index, "err", err)
}

// flush sends b's dead letters, inserts its rows, marks dead-lettered tails
// loaded and commits, retrying each step until it succeeds; once gctx is
// done (shutdown or rebalance) it keeps trying for DrainTimeout and then
// leaves the batch uncommitted for the next owner. b is empty afterwards.
func (c *Collector) flush(gctx context.Context, gen *kafka.Generation, b *batch, loaded map[int]int64) {
	defer c.release(b)
	if b.records == 0 {
		return
	}
	r := retrier{cfg: c.cfg}
	if b.skipped > 0 {
		c.stats.duplicates.Add(uint64(b.skipped))
		if c.hooks.DuplicatesSkipped != nil {
			c.hooks.DuplicatesSkipped(b.skipped)
		}
	}

	// Dead letters first: once the batch is committed nothing would send
	// them again. A crash after this and before the commit sends them
	// twice, which is why dead-lettering is at-least-once.
	for len(b.dead) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.InsertTimeout)
		err := c.dead.WriteMessages(ctx, b.dead...)
		cancel()
		if err == nil {
			c.stats.deadLettered.Add(uint64(len(b.dead)))
			if c.hooks.DeadLettered != nil {
				for reason, n := range b.reasons {
					for range n {
						c.hooks.DeadLettered(reason)
					}
				}
			}
			break
		}
		c.log.Warn("writing dead letters failed; retrying", "topic", c.cfg.deadLetterTopic(), "records", len(b.dead), "err", err)
		if !r.wait(gctx, true) {
			c.log.Warn("gave up flushing the batch; its records stay uncommitted", "records", b.records)
			return
		}
	}

	if !c.insert(gctx, b, loaded, &r) {
		c.log.Warn("gave up flushing the batch; its records stay uncommitted", "records", b.records)
		return
	}
	if c.afterInsert != nil {
		c.afterInsert()
	}

	// Records at the end of a partition's share of the batch that were
	// dead-lettered are not covered by the rows' offsets: mark them.
	marks := map[int]int64{}
	for p, last := range b.last {
		if last > loadedOr(loaded, p) {
			marks[p] = last
		}
	}
	for len(marks) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.InsertTimeout)
		err := c.loader.MarkLoaded(ctx, c.cfg.Topic, marks)
		cancel()
		if err == nil {
			break
		}
		c.log.Warn("marking dead-lettered offsets loaded failed; retrying", "err", err)
		if !r.wait(gctx, true) {
			break // they may be dead-lettered again after a restart
		}
	}
	for p, last := range b.last {
		if last > loadedOr(loaded, p) {
			loaded[p] = last
		}
	}

	if c.crashed.Load() {
		return
	}
	offsets := make(map[int]int64, len(b.last))
	for p, last := range b.last {
		offsets[p] = last + 1
	}
	if err := gen.CommitOffsets(map[string]map[int]int64{c.cfg.Topic: offsets}); err != nil {
		// Harmless: the loaded offsets in ClickHouse say where to start.
		c.stats.commitErrors.Add(1)
		c.log.Warn("committing offsets failed", "err", err)
	}
}

// insert writes b's rows, retrying until ClickHouse acknowledges them.
// Before a retry it waits for the failed INSERT to end on the server and
// reads the loaded offsets again: the INSERT may have been applied (the
// connection broke after the server took it), and inserting its rows
// again would count them twice in every rollup. It reports false when it
// gave up while draining.
func (c *Collector) insert(gctx context.Context, b *batch, loaded map[int]int64, r *retrier) bool {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.InsertTimeout)
		n, err := c.dropResent(ctx, b)
		cancel()
		if err == nil {
			if n > 0 {
				c.log.Info("resent records ClickHouse already had; not inserting them again", "rows", n)
				c.stats.duplicates.Add(uint64(n))
				if c.hooks.DuplicatesSkipped != nil {
					c.hooks.DuplicatesSkipped(n)
				}
			}
			break
		}
		c.log.Warn("checking resent records against ClickHouse failed; retrying", "err", err)
		if !r.wait(gctx, true) {
			return false
		}
	}
	rows := &b.rows
	start := time.Now()
	for rows.Len() > 0 {
		qid := newQueryID()
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.InsertTimeout)
		err := c.loader.Insert(ctx, qid, rows)
		cancel()
		if err == nil && c.loseAck != nil {
			err = c.loseAck()
		}
		if err == nil {
			took := time.Since(start)
			c.stats.batchDone(rows.Len(), took)
			if c.hooks.BatchInserted != nil {
				c.hooks.BatchInserted(rows.Len(), took)
			}
			for i := range rows.Len() {
				if p, o := rows.Partition(i), rows.Offset(i); o > loadedOr(loaded, p) {
					loaded[p] = o
				}
			}
			return true
		}
		c.stats.insertErrors.Add(1)
		if c.hooks.InsertFailed != nil {
			c.hooks.InsertFailed(err)
		}
		c.log.Warn("inserting batch failed; retrying", "rows", rows.Len(), "err", err)
		for {
			if !r.wait(gctx, true) {
				return false
			}
			if err := c.refreshLoaded(qid, loaded); err != nil {
				c.log.Warn("reading what clickhouse loaded failed; retrying", "err", err)
				continue
			}
			break
		}
		if n := rows.Keep(func(i int) bool { return rows.Offset(i) > loadedOr(loaded, rows.Partition(i)) }); n > 0 {
			c.log.Info("a failed insert had been applied; not inserting its rows again", "rows", n)
			c.stats.duplicates.Add(uint64(n))
			if c.hooks.DuplicatesSkipped != nil {
				c.hooks.DuplicatesSkipped(n)
			}
		}
	}
	return true
}

// refreshLoaded waits until the query qid no longer runs and merges the
// loaded offsets ClickHouse reports into loaded.
func (c *Collector) refreshLoaded(qid string, loaded map[int]int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.InsertTimeout)
	defer cancel()
	running, err := c.loader.QueryRunning(ctx, qid)
	if err != nil {
		return err
	}
	if running {
		return fmt.Errorf("insert %s still running on the server", qid)
	}
	lo, err := c.loader.LoadedOffsets(ctx, c.cfg.Topic)
	if err != nil {
		return err
	}
	for p, o := range lo {
		if o > loadedOr(loaded, p) {
			loaded[p] = o
		}
	}
	return nil
}

// retrier spaces out retries with a doubling backoff and, once the
// generation is over, stops after DrainTimeout.
type retrier struct {
	cfg     Config
	backoff time.Duration
	stopBy  time.Time
}

func (r *retrier) reset() { r.backoff = 0 }

// wait sleeps before the next attempt. It reports false when the caller
// should give up: ctx is done and draining is false, or the drain time is
// over.
func (r *retrier) wait(ctx context.Context, draining bool) bool {
	if ctx.Err() != nil {
		if !draining {
			return false
		}
		if r.stopBy.IsZero() {
			r.stopBy = time.Now().Add(r.cfg.DrainTimeout)
		}
		if time.Now().After(r.stopBy) {
			return false
		}
	}
	if r.backoff == 0 {
		r.backoff = r.cfg.RetryBackoff
	}
	d := r.backoff
	r.backoff = min(2*r.backoff, r.cfg.MaxRetryBackoff)
	switch {
	case ctx.Err() == nil:
		sleep(ctx, d)
		return draining || ctx.Err() == nil
	default:
		// Draining past a cancelled ctx: the drain deadline bounds it.
		time.Sleep(min(d, time.Until(r.stopBy)))
		return true
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
