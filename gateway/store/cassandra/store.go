package cassandra

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/internal/broadcast"
	icass "github.com/tollgate/tollgate/internal/cassandra"
)

var _ store.Store = (*Store)(nil)

// Defaults of Options.
const (
	DefaultPollInterval = 100 * time.Millisecond
	DefaultChangeTTL    = 24 * time.Hour
)

// Errors.
var (
	// ErrUnavailable says a write could not reach Cassandra. Config
	// changes need it; reads keep answering from the last config applied.
	// It matches store.ErrUnavailable.
	ErrUnavailable = fmt.Errorf("cassandra unavailable: config changes need it (the node keeps serving the config it has): %w", store.ErrUnavailable)
	// ErrContention says a write lost the race for the next config version
	// too many times in a row to other nodes' writes.
	ErrContention = errors.New("config version contended by other nodes' writes, gave up")
	// ErrTooLarge says a change exceeds what one Cassandra mutation may
	// carry.
	ErrTooLarge = errors.New("config change too large for one Cassandra mutation")
)

const (
	// maxCommitAttempts bounds the retries of a write that keeps losing
	// the next version to other nodes.
	maxCommitAttempts = 20
	// maxChangeBytes keeps a change row under Cassandra's default maximum
	// mutation size (half of the 32 MiB commit log segment), with room for
	// the other columns.
	maxChangeBytes = 15 << 20
	// headCheckEvery is how many empty background polls pass between reads
	// of config_head.
	headCheckEvery = 10
	// cacheEvery is the least time between two writes of the cache file.
	cacheEvery = time.Second
	// connectRetry is the least time between two attempts to open a
	// session while Cassandra is away.
	connectRetry = time.Second
)

// Options configure Open.
type Options struct {
	// Cassandra says how to reach the cluster. The keyspace must hold the
	// tables of schema/cassandra (`tollgate migrate cassandra up`).
	Cassandra icass.Config
	// PollInterval is the time between two reads of the change log
	// (default 100ms): it bounds how late a node sees another's write.
	PollInterval time.Duration
	// ChangeTTL is how long a change stays in the log (default 24h, at
	// least a second). A node that was away for longer resynchronises
	// from the entities table.
	ChangeTTL time.Duration
	// CachePath is the file where the node keeps the last config it
	// applied, so that it can start while Cassandra is away. "" keeps no
	// cache: the node cannot start without Cassandra then.
	CachePath string
	// NodeID names this node in the change log (default: the hostname).
	// Nodes of a cluster must not share one: a writer recognises its own
	// change by it when a commit's outcome is reported late.
	NodeID string
	// Logger receives resyncs, staleness and cache messages (default:
	// discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnApply, when set, is called with the new config version each time
	// the node's config changes: its own writes, others' changes, resyncs.
	// It must not block; it is never called with the store's locks held.
	OnApply func(version uint64)

	// headRepairAfter is how long config_head may lag the applied version
	// before the poller writes the missing entities rows itself (a writer
	// that died between committing a change and writing its rows). Tests
	// shorten it.
	headRepairAfter time.Duration
}

func (o Options) withDefaults() Options {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.ChangeTTL <= 0 {
		o.ChangeTTL = DefaultChangeTTL
	}
	if o.ChangeTTL < time.Second {
		o.ChangeTTL = time.Second
	}
	if o.NodeID == "" {
		o.NodeID, _ = os.Hostname()
		if o.NodeID == "" {
			o.NodeID = "tollgate"
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.headRepairAfter <= 0 {
		o.headRepairAfter = max(5*time.Second, 20*o.PollInterval)
	}
	return o
}

// SyncState is how far the node's config is behind the cluster's, for
// /status and metrics.
type SyncState struct {
	// AppliedVersion is the config version the node serves.
	AppliedVersion uint64
	// HeadVersion is the newest config version the node knows the cluster
	// has committed (at least AppliedVersion).
	HeadVersion uint64
	// LastSync is the time of the last successful read of the change log.
	LastSync time.Time
	// LastError is the error of the last failed sync, "" once one succeeds.
	LastError string
	// Stale says the config may be behind: no successful sync for three
	// poll intervals, or Cassandra unreachable.
	Stale bool
	// Resyncs counts full resynchronisations since Open.
	Resyncs int64
	// FromCache says the node serves the config of its cache file and has
	// not reached Cassandra since it started.
	FromCache bool
}

// Store is a config store on Cassandra with an in-memory mirror of the
// whole config. It is safe for concurrent use.
type Store struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time
	lazy *icass.Lazy
	hub  broadcast.Hub
	ttl  int // ChangeTTL in seconds

	// mu guards the mirror and closed. seq counts the mirror's mutations
	// (under mu) so that the cache writer knows when it has news.
	mu     sync.RWMutex
	m      *mirror
	closed bool
	seq    uint64

	// writeMu serialises this node's writes: they would only race each
	// other for the same version.
	writeMu sync.Mutex

	// Sync rounds: the sync goroutine runs them; callers wait for the one
	// that starts after their request (see syncNow).
	roundMu sync.Mutex
	next    *round
	kick    chan struct{}

	// Used by rounds only (Open's, then the sync goroutine's).
	verifyCache bool // the mirror came from the cache: check it against the cluster once
	idlePolls   int  // rounds in a row that found nothing

	// State of the sync, read by SyncState.
	stateMu   sync.Mutex
	lastSync  time.Time
	lastErr   string
	head      uint64
	fromCache bool
	resyncs   int64
	lagHead   uint64    // config_head when it was first seen lagging
	lagSince  time.Time // when; zero when it does not lag
	down      atomic.Bool

	cacheKick    chan struct{}
	cacheMu      sync.Mutex // serialises cache writes
	cacheWritten uint64     // seq of the last cache write

	ctx       context.Context // cancelled by Close: in-flight queries end
	cancel    context.CancelFunc
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// round is one sync: done is closed when it has run, with err its outcome.
type round struct {
	done     chan struct{}
	err      error
	wantHead bool // a requester needs config_head read as well
}

func newRound() *round { return &round{done: make(chan struct{})} }

// Open connects to Cassandra, brings the node's config up to date and
// starts the background sync; Close stops it. When Cassandra cannot be
// reached, Open starts from the cache file (Options.CachePath) and keeps
// trying in the background; without a cache it fails.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := opts.Cassandra.Validate(); err != nil {
		return nil, fmt.Errorf("open config store: %w", err)
	}
	if opts.Cassandra.Keyspace == "" {
		return nil, errors.New("open config store: cassandra_keyspace: the keyspace holding the config tables is required")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open config store: %w", err)
	}
	s := &Store{
		opts:      opts,
		log:       opts.Logger,
		now:       opts.Now,
		lazy:      icass.NewLazy(opts.Cassandra, connectRetry),
		ttl:       int(opts.ChangeTTL / time.Second),
		next:      newRound(),
		kick:      make(chan struct{}, 1),
		cacheKick: make(chan struct{}, 1),
		stop:      make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	var cached *mirror
	var cachedAt time.Time
	if opts.CachePath != "" {
		var err error
		cached, cachedAt, err = loadCache(opts.CachePath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("config store: ignoring unreadable cache file", "path", opts.CachePath, "error", err)
			cached = nil
		}
	}
	if cached != nil {
		s.m = cached
		s.verifyCache = true
	}
	err := s.poll(ctx, false)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		s.shutdown()
		return nil, fmt.Errorf("open config store: %w", ctx.Err())
	case cached == nil:
		s.shutdown()
		return nil, s.openError(err)
	default:
		s.fromCache = true
		s.log.Warn("config store: cassandra unreachable, starting from the cached config",
			"version", cached.version, "cache_written_at", cachedAt, "path", opts.CachePath, "error", err)
	}
	s.wg.Add(2)
	go s.syncLoop()
	go s.cacheLoop()
	if s.seq > 0 {
		s.kickCache()
	}
	return s, nil
}

// openError says why Open fails and what to do about it. gocql reports a
// missing keyspace as a failure to connect, so the hint names both causes.
func (s *Store) openError(err error) error {
	c := s.opts.Cassandra
	cache := "no cache file is configured"
	if s.opts.CachePath != "" {
		cache = "there is no cached config at " + s.opts.CachePath
	}
	return fmt.Errorf("open config store: cannot load the config from cassandra at %s (%w) and %s: "+
		"start Cassandra or fix cassandra_hosts, and make sure `tollgate migrate cassandra up` has created keyspace %q; "+
		"a node starts without Cassandra only from the cache it writes once it has synced",
		strings.Join(c.Hosts, ","), err, cache, c.Keyspace)
}

// shutdown releases what Open made before the goroutines started.
func (s *Store) shutdown() {
	s.cancel()
	s.lazy.Close()
}

// Close stops the background sync, writes the cache file and closes the
// session. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
		s.cancel()
		// A write in flight finishes (or fails on the cancelled context)
		// before the session goes away.
		s.writeMu.Lock()
		s.wg.Wait()
		s.closeErr = s.writeCache()
		s.closeErr = errors.Join(s.closeErr, s.lazy.Close())
		s.writeMu.Unlock()
	})
	return s.closeErr
}

// Subscribe implements store.Store.
func (s *Store) Subscribe() (<-chan struct{}, func()) { return s.hub.Subscribe() }

// SyncState reports how current the node's config is.
func (s *Store) SyncState() SyncState {
	s.mu.RLock()
	var applied uint64
	if s.m != nil {
		applied = s.m.version
	}
	s.mu.RUnlock()
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	st := SyncState{
		AppliedVersion: applied,
		HeadVersion:    max(s.head, applied),
		LastSync:       s.lastSync,
		LastError:      s.lastErr,
		Resyncs:        s.resyncs,
		FromCache:      s.fromCache,
	}
	st.Stale = s.down.Load() || s.lastSync.IsZero() || s.now().Sub(s.lastSync) > 3*s.opts.PollInterval
	return st
}

// changed records that the mirror moved to version: subscribers, the
// cache and the OnApply hook hear of it. Callers hold no lock.
func (s *Store) changed(version uint64) {
	s.hub.Notify()
	s.kickCache()
	if s.opts.OnApply != nil {
		s.opts.OnApply(version)
	}
}
