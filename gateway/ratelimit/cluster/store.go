package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
	"github.com/tollgate/tollgate/gateway/ratelimit"
)

// Options configures a Store.
type Options struct {
	// Session returns the session to Cassandra (keyspace set, tables
	// migrated). It is called at each sync and each TakeExact, and may fail
	// while Cassandra is away: (*cassandra.Lazy).Session fits, so a node can
	// start with Cassandra down. The Store never closes the session.
	// Required.
	Session func() (*gocql.Session, error)
	// NodeID names this node (TOLLGATE_NODE_ID). Rows are written under it
	// plus a random suffix per Store, so a restarted node never overwrites
	// the counts of its previous life. Required.
	NodeID string
	// SyncInterval is the time between rounds (default 100ms). Rounds are
	// aligned to multiples of it on the clock, so that the nodes of a
	// cluster write at about the same moment.
	SyncInterval time.Duration
	// PullDelay is how long after writing its row a node reads the others'
	// (default SyncInterval/4): long enough for most nodes' writes of the
	// round to land first, which keeps the nodes' views of a round alike
	// and their claims from colliding. Safety does not depend on it (see
	// the package doc).
	PullDelay time.Duration
	// Manual disables the background loop: the owner calls Sync (or Flush
	// then Pull) itself. Tests use it with an injected clock.
	Manual bool
	// IdleAfter is how long a key keeps being read after its last request
	// on this node (default 10s); after that the node keeps at most one hit
	// of its claim and stops reading the key.
	IdleAfter time.Duration
	// Grace is added to a window's length for the rows' TTL (default 60s).
	Grace time.Duration
	// MaxCASAttempts bounds the compare-and-set attempts of one TakeExact
	// (default 64).
	MaxCASAttempts int
	// Shards is the number of independently locked maps (default 32).
	Shards int
	// Logger receives sync failures and degraded transitions (default:
	// discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Metrics are called as things happen; nil funcs are skipped.
	Metrics Metrics
	// LiveNodes returns the number of live gateway nodes (the node
	// registry's count); it sets the claim a node asks for on a key it has
	// not read yet (1/LiveNodes of the limit). Default: the number of nodes
	// seen in slot rows during the last minute, at least 1.
	LiveNodes func() int
	// ColdHits and ColdShare set the allowance: how many hits a node may
	// admit in a window beyond its claim, while it has never read the key
	// or its last read found at least half the limit remaining. It is
	// max(ColdHits, ColdShare × limit / live nodes) (defaults 1 and 0.005;
	// ColdHits negative for none). It keeps a key far from its limit from
	// being refused while a node waits a round for its claim to grow (a
	// key new to the node, or served again after an idle spell); it is
	// the one way the nodes can admit more than the limit, by at most
	// ColdShare × limit + nodes × ColdHits in a window, and only when the
	// others spend over half the limit between a node's read and its use
	// of the allowance.
	ColdHits  int
	ColdShare float64
}

// Metrics are hooks for the node's metrics; every field is optional and
// must not block.
type Metrics struct {
	// Sync is called after each round with its duration and error.
	Sync func(d time.Duration, err error)
	// Ops is called with the number of Cassandra requests made (one per
	// query, batch or lightweight transaction).
	Ops func(n int)
	// Degraded is called when the store starts or stops answering from
	// local counts only.
	Degraded func(degraded bool)
	// LocalDecision is called for each Budget or TakeExact answered from
	// local counts because the cluster is unreachable.
	LocalDecision func()
}

// Stats are the store's counters since New.
type Stats struct {
	Syncs, SyncErrors, Ops, LocalDecisions int64
	Degraded                               bool
}

// Errors.
var (
	// ErrContention is returned by TakeExact when its compare-and-set lost
	// MaxCASAttempts times in a row.
	ErrContention = errors.New("cluster ratelimit: exact quota contended, gave up")
	errNoSession  = errors.New("cluster ratelimit: no session configured")
)

// Store is a ratelimit.Shared over Cassandra's ratelimit_slots and
// ratelimit_quotas tables. Safe for concurrent use; Close stops it.
type Store struct {
	opts     Options
	db       backend
	rowID    string // this Store's node column: NodeID/suffix
	interval int64  // SyncInterval in nanoseconds
	now      func() time.Time
	log      *slog.Logger

	shards  []shard
	readers int // partitions read at once
	cold    int64
	live    atomic.Int64 // live nodes as of the last round (allowance)
	// unsyncedAfter is how long without a successful round makes the
	// store degraded (3 intervals; the simulations raise it to keep slow
	// rounds from falling back to local counting).
	unsyncedAfter int64

	// lastOK is the clock reading (Unix ns) of the last round whose writes
	// and reads all succeeded (or New, before the first).
	lastOK    atomic.Int64
	degraded  atomic.Bool
	flushErr  error // error of the last Flush, under syncMu
	syncMu    sync.Mutex
	syncs     atomic.Int64
	syncErrs  atomic.Int64
	ops       atomic.Int64
	localDecs atomic.Int64

	seenMu sync.Mutex
	seen   map[string]int64 // row node id → last seen (Unix ns)

	exactMu sync.Mutex
	exact   map[exactKey]int64 // last known used of an exact quota
	exactLo map[exactKey]int64 // local counts of exact quotas while Cassandra is away

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool
}

var _ ratelimit.Shared = (*Store)(nil)

type shard struct {
	mu    sync.Mutex
	lanes map[laneKey]*lane
	_     [40]byte
}

// laneKey names the counters of one key for one window kind, across
// window starts.
type laneKey struct {
	key string
	w   ratelimit.Window
}

// lane holds one key and window kind: this node's demand rate, the rates
// last read, and the windows (series) counted.
type lane struct {
	key    string
	period string
	series []*series

	attempts   int64   // Budget calls since the last flush
	hits       int64   // hits added since the last flush
	rate       float64 // this node's demand, hits/s (EWMA)
	published  float64 // rate in this node's last row write; -1 never
	lastFlush  int64   // Unix ns of the last flush that measured the rate
	lastActive int64   // Unix ns (store clock) of the last call
	created    int64   // Unix ns (store clock) of the first call

	rates      []nodeRate // every node's rate from the last read, by node
	ratesAt    int64      // Unix ns of that read; 0 never
	ratesStart int64      // start of the window read
	// far: the last read found at least half the limit remaining, so a
	// window not read yet and not claimed ahead may use the allowance.
	far bool
	// weighsPrev: the caller reads ended windows (a sliding window), so
	// the next window's limit depends on this one's total and cannot be
	// claimed ahead.
	weighsPrev bool
}

// series is one window of a lane.
type series struct {
	start, end int64 // Unix ns
	mine       int64 // this node's count
	flushed    int64 // mine as last written to its row
	written    bool  // the row has been written

	// This node's claims (see the package doc): it admits while mine is
	// below claim, the claim in effect.
	claim     int64
	published int64 // claim of the last acknowledged row write; -1 unknown
	// pending is a claim above claim whose write was acknowledged: it takes
	// effect, trimmed to what the others' claims leave of pendingLimit, at
	// the next read of the partition. 0 when none.
	pending      int64
	pendingLimit int64

	// Snapshot of the last read of the window's partition.
	pulled      bool
	mark        int64      // this node's count in the rows read (flushed then)
	others      int64      // the other nodes' total in the rows read
	othersClaim int64      // the other nodes' claims in the rows read
	rates       []nodeRate // rates in the rows read, by node
	finalReads  int        // reads after the window ended

	nextRound int64 // the round (clock / SyncInterval) in which to sync next

	lastLimit      int64 // limit of the last Budget call
	exhausted      bool  // nothing remained of exhaustedLimit at the last read
	exhaustedLimit int64
}

// New returns a Store and, unless opts.Manual, starts its sync loop; Close
// stops it. It does no I/O.
func New(opts Options) *Store {
	return newStore(opts, gocqlBackend{session: opts.Session})
}

func newStore(opts Options, db backend) *Store {
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = 100 * time.Millisecond
	}
	if opts.PullDelay <= 0 {
		opts.PullDelay = opts.SyncInterval / 4
	}
	if opts.IdleAfter <= 0 {
		opts.IdleAfter = 10 * time.Second
	}
	if opts.Grace <= 0 {
		opts.Grace = time.Minute
	}
	if opts.MaxCASAttempts <= 0 {
		opts.MaxCASAttempts = 64
	}
	if opts.Shards <= 0 {
		opts.Shards = 32
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ColdHits == 0 {
		opts.ColdHits = 1
	}
	if opts.ColdShare <= 0 {
		opts.ColdShare = 0.005
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	s := &Store{
		opts:          opts,
		db:            db,
		rowID:         opts.NodeID + "/" + hex.EncodeToString(suffix[:]),
		interval:      int64(opts.SyncInterval),
		now:           opts.Now,
		log:           opts.Logger,
		shards:        make([]shard, opts.Shards),
		readers:       readers,
		unsyncedAfter: 3 * int64(opts.SyncInterval),
		cold:          int64(max(0, opts.ColdHits)),
		seen:          map[string]int64{},
		exact:         map[exactKey]int64{},
		exactLo:       map[exactKey]int64{},
		stop:          make(chan struct{}),
		done:          make(chan struct{}),
	}
	for i := range s.shards {
		s.shards[i].lanes = map[laneKey]*lane{}
	}
	s.lastOK.Store(s.now().UnixNano())
	s.live.Store(int64(s.liveNodes(s.now().UnixNano())))
	if opts.Manual {
		close(s.done)
	} else {
		go s.loop()
	}
	return s
}

// RowID is the node column this store writes its counts under.
func (s *Store) RowID() string { return s.rowID }

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Syncs: s.syncs.Load(), SyncErrors: s.syncErrs.Load(), Ops: s.ops.Load(),
		LocalDecisions: s.localDecs.Load(), Degraded: s.isDegraded(s.now().UnixNano()),
	}
}

func (s *Store) shard(key string) *shard {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return &s.shards[h%uint32(len(s.shards))]
}

// window returns the bounds of the window of w containing t.
func window(w ratelimit.Window, t time.Time) (start, end int64, err error) {
	st, en := ratelimit.Start(w, t)
	if !en.After(st) {
		return 0, 0, fmt.Errorf("%w %q", ratelimit.ErrUnknownWindow, string(w))
	}
	return st.UnixNano(), en.UnixNano(), nil
}

// get returns the lane and series of key, w at t, creating them; the
// shard's lock must be held.
func (sh *shard) get(key string, w ratelimit.Window, start, end, clock int64) (*lane, *series) {
	l := sh.lanes[laneKey{key, w}]
	if l == nil {
		l = &lane{key: key, period: string(w), published: -1, created: clock}
		sh.lanes[laneKey{key, w}] = l
	}
	for _, ser := range l.series {
		if ser.start == start {
			return l, ser
		}
	}
	ser := &series{start: start, end: end, published: -1}
	l.series = append(l.series, ser)
	return l, ser
}

// isDegraded reports whether no round has succeeded for more than three
// intervals.
func (s *Store) isDegraded(now int64) bool {
	return now-s.lastOK.Load() > s.unsyncedAfter
}

func (s *Store) unsynced() error {
	return fmt.Errorf("%w (no successful sync for over %s)", ratelimit.ErrUnsynced, time.Duration(s.unsyncedAfter))
}

// Add counts n hits of this node and returns the cluster total of the
// window: the others' total as last read plus this node's count. While the
// store is degraded it returns this node's count with an error wrapping
// ratelimit.ErrUnsynced.
func (s *Store) Add(key string, w ratelimit.Window, now time.Time, n int64) (int64, error) {
	start, end, err := window(w, now)
	if err != nil {
		return 0, err
	}
	clock := s.now().UnixNano()
	sh := s.shard(key)
	sh.mu.Lock()
	l, ser := sh.get(key, w, start, end, clock)
	ser.mine += n
	l.hits += n
	l.lastActive = clock
	mine, total := ser.mine, ser.others+ser.mine
	sh.mu.Unlock()
	if s.isDegraded(clock) {
		return mine, s.unsynced()
	}
	return total, nil
}

// Get returns the cluster total of the window without counting (this
// node's count alone, with ErrUnsynced, while degraded). It keeps the key
// read each round.
func (s *Store) Get(key string, w ratelimit.Window, now time.Time) (int64, error) {
	start, end, err := window(w, now)
	if err != nil {
		return 0, err
	}
	clock := s.now().UnixNano()
	sh := s.shard(key)
	sh.mu.Lock()
	l, ser := sh.get(key, w, start, end, clock)
	l.lastActive = clock
	if end <= clock {
		l.weighsPrev = true
	}
	mine, total := ser.mine, ser.others+ser.mine
	sh.mu.Unlock()
	if s.isDegraded(clock) {
		return mine, s.unsynced()
	}
	return total, nil
}

// Budget returns how many more hits this node may admit now: what its
// claim leaves (see the package doc), within the limit less the cluster
// total it knows. Each call counts as one request of demand for the key,
// admitted or not, in the rate this node publishes. While degraded it
// returns limit less this node's own count, with ErrUnsynced.
func (s *Store) Budget(key string, w ratelimit.Window, now time.Time, limit int64) (int64, error) {
	start, end, err := window(w, now)
	if err != nil {
		return 0, err
	}
	clock := s.now().UnixNano()
	sh := s.shard(key)
	sh.mu.Lock()
	l, ser := sh.get(key, w, start, end, clock)
	l.attempts++
	l.lastActive = clock
	ser.lastLimit = limit
	if s.isDegraded(clock) {
		mine := ser.mine
		sh.mu.Unlock()
		s.localDecs.Add(1)
		if f := s.opts.Metrics.LocalDecision; f != nil {
			f()
		}
		return max(0, limit-mine), s.unsynced()
	}
	b := s.budget(l, ser, limit)
	sh.mu.Unlock()
	return b, nil
}

// budget computes Budget with the shard's lock held.
func (s *Store) budget(l *lane, ser *series, limit int64) int64 {
	remaining := limit - ser.others - ser.mine
	part := ser.claim - ser.mine
	if extra := s.extra(l, ser, limit); extra > 0 {
		part = max(part, ser.claim+extra-ser.mine)
	}
	return max(0, min(remaining, part))
}

// extra is what ser may admit beyond its claim (the allowance, see
// Options.ColdHits). It fills the round a node waits for its claim to
// grow when the other nodes divided the limit without it:
//
//   - the node has never read the key: the allowance;
//   - the window was read, the node's rate in that read was zero (it was
//     idle, or new to the key), and the read found at least half the
//     limit remaining: as much of the allowance as the claims read leave
//     unclaimed;
//   - the window was not read yet nor claimed ahead, the node's rate was
//     zero in the last read of the key, which found it far from its limit:
//     the allowance.
//
// Otherwise nothing: a node the others divide for lives on its claim, and
// the claims alone keep the limit.
func (s *Store) extra(l *lane, ser *series, limit int64) int64 {
	switch {
	case l.ratesAt == 0:
		return s.allowance(limit)
	case ser.pulled:
		if rateOf(ser.rates, s.rowID) > 0 || 2*(limit-ser.others-ser.mark) < limit {
			return 0
		}
		return max(0, min(s.allowance(limit), limit-ser.othersClaim-ser.claim))
	case ser.written || ser.claim > 0 || ser.pending > 0:
		return 0 // claimed ahead: the window's limit is divided already
	case l.far && rateOf(l.rates, s.rowID) <= 0:
		return s.allowance(limit)
	}
	return 0
}

// rateOf returns node's rate in rates (0 when absent).
func rateOf(rates []nodeRate, node string) float64 {
	for _, r := range rates {
		if r.node == node {
			return r.rate
		}
	}
	return 0
}

// allowance is how many hits beyond its claim a node may admit in a
// window of limit while the key is far from it (Options.ColdHits).
func (s *Store) allowance(limit int64) int64 {
	share := int64(s.opts.ColdShare * float64(limit) / float64(max(1, s.live.Load())))
	return max(s.cold, share)
}

func (s *Store) liveNodes(clock int64) int {
	if f := s.opts.LiveNodes; f != nil {
		if n := f(); n > 0 {
			return n
		}
		return 1
	}
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	n := 0
	for _, at := range s.seen {
		if clock-at <= int64(time.Minute) {
			n++
		}
	}
	return max(1, n)
}

func (s *Store) countOps(n int) {
	s.ops.Add(int64(n))
	if f := s.opts.Metrics.Ops; f != nil {
		f(n)
	}
}
