package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
)

// NodeInfo is what a node says about itself in the registry.
type NodeInfo struct {
	// ID names the node (TOLLGATE_NODE_ID, default the hostname); it is
	// the row's key, so two nodes with one ID overwrite each other.
	ID string
	// Hostname is the machine's name.
	Hostname string
	// ProxyListen and AdminListen are the node's listen addresses as
	// configured (TOLLGATE_PROXY_LISTEN, TOLLGATE_ADMIN_LISTEN).
	ProxyListen, AdminListen string
	// Version is Tollgate's version.
	Version string
	// StartedAt is when the node started (default: when NewRegistry ran).
	StartedAt time.Time
}

// RegistryOptions configure a Registry.
type RegistryOptions struct {
	// Session returns the session to Cassandra (keyspace set, schema
	// migrated). It is called at every heartbeat and List, and may fail
	// while Cassandra is away, so that a node can start with Cassandra
	// down and join the registry when it returns: (*cassandra.Lazy).Session
	// fits; for a session already open, pass
	// func() (*gocql.Session, error) { return s, nil }. The Registry never
	// closes the session. Required.
	Session func() (*gocql.Session, error)
	// Cluster names the cluster (cluster_name, default "default"): nodes
	// of different clusters can share a keyspace's registry without
	// seeing each other. It is the table's partition key.
	Cluster string
	// Node is this node's identity; Node.ID is required.
	Node NodeInfo
	// ConfigVersion returns the config version this node has applied
	// (the version of its routing snapshot); nil reports 0.
	ConfigVersion func() uint64
	// Heartbeat is the time between heartbeats (default 2s).
	Heartbeat time.Duration
	// TTL is how long a row outlives the heartbeat that wrote it: a node
	// is listed until TTL after its last heartbeat. Default three
	// heartbeats but at least 10s, so that a node survives a couple of
	// missed beats (a slow Cassandra, a GC pause). Cassandra counts TTLs
	// in whole seconds: it is rounded up. It must exceed Heartbeat.
	TTL time.Duration
	// LagGrace is how long a node may stay below a config version another
	// live node has reported before it is flagged as lagging (default two
	// heartbeats: one for the change to be applied, one for the
	// heartbeat that reports it).
	LagGrace time.Duration
	// Logger receives heartbeat failures and recoveries (default:
	// discard).
	Logger *slog.Logger
	// Now is the clock of last_seen, started_at and lag tracking (default
	// time.Now). Heartbeats are paced by a real ticker.
	Now func() time.Time
}

// NodeStatus is a live node as the registry lists it.
type NodeStatus struct {
	NodeInfo
	// ConfigVersion is the config version the node reported at its last
	// heartbeat.
	ConfigVersion uint64
	// LastSeen is the node's clock at its last heartbeat.
	LastSeen time.Time
	// Lagging says the node's config version is below one another live
	// node reported more than LagGrace ago (see the package doc).
	Lagging bool
}

// Registry heartbeats this node's row and lists the live nodes. Safe for
// concurrent use.
type Registry struct {
	opts    RegistryOptions
	ttlSecs int
	log     *slog.Logger
	now     func() time.Time

	insert string // the heartbeat's INSERT, with the TTL as a literal

	mu      sync.Mutex
	started bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}

	lag lagTracker

	live     atomic.Int64 // live nodes at the last successful read
	failing  atomic.Bool  // the last heartbeat failed (for logging transitions)
	lastBeat atomic.Int64 // Unix ns of the last successful heartbeat
}

// NewRegistry validates opts and returns a Registry; nothing runs until
// Start.
func NewRegistry(opts RegistryOptions) (*Registry, error) {
	var errs []error
	if opts.Session == nil {
		errs = append(errs, errors.New("cluster registry: Session is required"))
	}
	if opts.Node.ID == "" {
		errs = append(errs, errors.New("cluster registry: Node.ID is required"))
	}
	if opts.Heartbeat < 0 || opts.TTL < 0 || opts.LagGrace < 0 {
		errs = append(errs, errors.New("cluster registry: Heartbeat, TTL and LagGrace must not be negative"))
	}
	if opts.Cluster == "" {
		opts.Cluster = "default"
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 2 * time.Second
	}
	if opts.TTL == 0 {
		opts.TTL = max(3*opts.Heartbeat, 10*time.Second)
	}
	if opts.TTL <= opts.Heartbeat {
		errs = append(errs, fmt.Errorf("cluster registry: TTL %v must exceed Heartbeat %v, or every node would blink out between beats", opts.TTL, opts.Heartbeat))
	}
	if opts.LagGrace == 0 {
		opts.LagGrace = 2 * opts.Heartbeat
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ConfigVersion == nil {
		opts.ConfigVersion = func() uint64 { return 0 }
	}
	if opts.Node.StartedAt.IsZero() {
		opts.Node.StartedAt = opts.Now()
	}
	ttl := int(math.Ceil(opts.TTL.Seconds()))
	r := &Registry{
		opts:    opts,
		ttlSecs: ttl,
		log:     opts.Logger.With("cluster", opts.Cluster, "node", opts.Node.ID),
		now:     opts.Now,
		insert: fmt.Sprintf(`INSERT INTO cluster_nodes (cluster, node_id, hostname, proxy_listen, admin_listen, version, config_version, started_at, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL %d`, ttl),
	}
	r.lag.grace = opts.LagGrace
	r.live.Store(1)
	return r, nil
}

// Start begins heartbeating: one heartbeat at once, then one every
// Heartbeat, each followed by a read of the registry that keeps LiveNodes
// and the lag tracking current. It returns at once; Close stops it. Calls
// after the first, or after Close, do nothing.
func (r *Registry) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return
	}
	r.started = true
	r.stop = make(chan struct{})
	r.done = make(chan struct{})
	go r.loop(r.stop, r.done)
}

// Close stops heartbeating and waits for an heartbeat in flight. It does
// not remove the node's row, which expires after TTL. Idempotent.
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	stop, done := r.stop, r.done
	r.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	return nil
}

func (r *Registry) loop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Close cancels a heartbeat stuck on an unreachable Cassandra.
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(r.opts.Heartbeat)
	defer t.Stop()
	for {
		r.tick(ctx)
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// tick is one heartbeat and one read, bounded by a heartbeat interval so
// that a slow Cassandra delays no more than one beat.
func (r *Registry) tick(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Heartbeat)
	defer cancel()
	err := r.Beat(ctx)
	if err == nil {
		_, err = r.List(ctx)
	}
	switch {
	case err != nil && ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled):
		// Closing.
	case err != nil:
		if !r.failing.Swap(true) {
			r.log.Warn("node registry heartbeat failed; retrying every heartbeat", "err", err)
		}
	default:
		if r.failing.Swap(false) {
			r.log.Info("node registry heartbeat recovered")
		}
	}
}

// Beat writes this node's row once, with the TTL. Start calls it every
// Heartbeat; call it directly to heartbeat on a schedule of your own.
func (r *Registry) Beat(ctx context.Context) error {
	s, err := r.opts.Session()
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	n := r.opts.Node
	now := r.now()
	err = s.Query(r.insert,
		r.opts.Cluster, n.ID, n.Hostname, n.ProxyListen, n.AdminListen, n.Version,
		toBigint(r.opts.ConfigVersion()), n.StartedAt, now,
	).WithContext(ctx).Idempotent(true).Exec()
	if err != nil {
		return fmt.Errorf("heartbeat: write cluster_nodes: %w", err)
	}
	r.lastBeat.Store(now.UnixNano())
	return nil
}

// List reads the live nodes (the rows of the cluster's partition that
// have not expired), sorted by ID, and flags those that lag.
func (r *Registry) List(ctx context.Context) ([]NodeStatus, error) {
	s, err := r.opts.Session()
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	iter := s.Query(`SELECT node_id, hostname, proxy_listen, admin_listen, version, config_version, started_at, last_seen
FROM cluster_nodes WHERE cluster = ?`, r.opts.Cluster).WithContext(ctx).Idempotent(true).Iter()
	var (
		nodes []NodeStatus
		n     NodeStatus
		cv    int64
	)
	for iter.Scan(&n.ID, &n.Hostname, &n.ProxyListen, &n.AdminListen, &n.Version, &cv, &n.StartedAt, &n.LastSeen) {
		n.ConfigVersion = fromBigint(cv)
		nodes = append(nodes, n)
		n = NodeStatus{}
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("list nodes: read cluster_nodes: %w", err)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].ID < nodes[j].ID })

	var latest uint64
	for _, n := range nodes {
		latest = max(latest, n.ConfigVersion)
	}
	bar, ok := r.lag.observe(r.now(), latest)
	for i := range nodes {
		nodes[i].Lagging = ok && nodes[i].ConfigVersion < bar
	}
	r.live.Store(int64(max(len(nodes), 1)))
	return nodes, nil
}

// LiveNodes is the number of live nodes at the last successful read (by
// the heartbeat loop or List), at least 1: this node. It does no I/O, so
// the rate limiter may call it at will.
func (r *Registry) LiveNodes() int { return int(r.live.Load()) }

// LastHeartbeat is when this node's row was last written, zero before the
// first success.
func (r *Registry) LastHeartbeat() time.Time {
	ns := r.lastBeat.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Node is this node's identity as heartbeated.
func (r *Registry) Node() NodeInfo { return r.opts.Node }

// Cluster is the cluster's name.
func (r *Registry) Cluster() string { return r.opts.Cluster }

func toBigint(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

func fromBigint(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}

// lagTracker remembers, over the last grace period, the highest config
// version among the live nodes at each read, as a step function of time:
// an observation is kept only when the maximum changes.
type lagTracker struct {
	grace time.Duration

	mu  sync.Mutex
	obs []observation // ascending by at
}

type observation struct {
	at     time.Time
	latest uint64
}

// observe records latest, the maximum seen now, and returns the bar a node
// must reach not to lag: the maximum in effect grace ago, capped by latest
// (a maximum can fall when its node leaves). ok is false while the tracker
// has not watched for a grace period yet.
func (l *lagTracker) observe(now time.Time, latest uint64) (bar uint64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.obs); n > 0 && now.Before(l.obs[n-1].at) {
		// The clock stepped back: start over rather than keep a history
		// that is no longer in order.
		l.obs = l.obs[:0]
	}
	if n := len(l.obs); n == 0 || l.obs[n-1].latest != latest {
		l.obs = append(l.obs, observation{at: now, latest: latest})
	}
	cutoff := now.Add(-l.grace)
	// The last observation at or before cutoff is the maximum in effect
	// then; older ones are never needed again.
	k := -1
	for i, o := range l.obs {
		if o.at.After(cutoff) {
			break
		}
		k = i
	}
	if k < 0 {
		return 0, false
	}
	if k > 0 {
		l.obs = append(l.obs[:0], l.obs[k:]...)
	}
	return min(l.obs[0].latest, latest), true
}
