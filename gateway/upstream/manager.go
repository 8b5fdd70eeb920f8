package upstream

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

// Options configures a Manager.
type Options struct {
	// Logger receives config warnings and health changes; nil discards.
	Logger *slog.Logger
	// OnHealthChange is called when a target turns healthy or unhealthy,
	// for metrics and logs. Calls come in order from one goroutine of the
	// Manager's, never from the request path; a slow callback delays later
	// calls but never a request.
	OnHealthChange func(workspace, upstream, target string, healthy bool)
	// Client probes targets for active health checks (probes are off the
	// request path). Each probe's context carries the check's timeout; with
	// a Client given, following redirects and verifying certificates are
	// the Client's business. nil: a client per upstream that does not follow
	// redirects, verifies certificates as https_verify_certificate says and
	// opens a fresh connection per probe.
	Client *http.Client
	// Now tells the time of health changes; nil: time.Now.
	Now func() time.Time
}

// TargetHealth is the state of one target, for /metrics and the Admin API's
// /upstreams/{upstream}/health.
type TargetHealth struct {
	Workspace string
	Upstream  string
	Target    string // host:port
	Weight    int
	Healthy   bool
}

// Manager owns the balancers of every upstream in the config, their targets'
// health and the active checkers. Lookup, Pick and Done may run concurrently
// with Sync.
type Manager struct {
	log    *slog.Logger
	now    func() time.Time
	client *http.Client
	events *events

	snap atomic.Pointer[snapshot]

	mu       sync.Mutex // serialises Sync, SetHealth and Close
	closed   bool
	checkers map[upstreamKey]*checker

	closeOnce sync.Once
}

type upstreamKey struct{ ws, name string }

// snapshot is the immutable set of balancers Lookup reads.
type snapshot struct {
	byWS map[string]map[string]*Balancer
	all  []*Balancer // sorted by workspace and name
}

func (s *snapshot) lookup(ws, name string) *Balancer {
	if s == nil {
		return nil
	}
	return s.byWS[ws][name]
}

// NewManager returns a Manager without upstreams. It starts one goroutine
// that delivers health changes; Close stops it.
func NewManager(opts Options) *Manager {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	m := &Manager{
		log:      log,
		now:      now,
		client:   opts.Client,
		events:   newEvents(log, opts.OnHealthChange),
		checkers: map[upstreamKey]*checker{},
	}
	m.snap.Store(&snapshot{})
	go m.events.run()
	return m
}

// Lookup returns the balancer of the upstream called name in workspace.
func (m *Manager) Lookup(workspace, name string) (*Balancer, bool) {
	b := m.snap.Load().lookup(workspace, name)
	return b, b != nil
}

// upstreamConf is one upstream of a Sync with its targets.
type upstreamConf struct {
	u       *entity.Upstream
	ws      string
	targets []targetSpec
	seen    map[string]bool
}

// Sync reconciles the manager with a new config: balancers of unchanged
// upstreams and the health state of unchanged targets are kept, active
// checkers of removed ones stopped, new ones started. targets carry their
// Upstream ref (an id or, as declarative config allows, a name).
// workspaceOf names an entity's workspace; nil uses Meta.Workspace. Entities
// that cannot be used (a target of no upstream, a malformed target) are
// logged and left out. Safe to call while requests are being balanced.
//
// A target keeps its health while it stays in its upstream, whatever else
// changes, except the upstream's healthchecks (or host_header): verdicts
// reached under other rules do not carry over, so the targets start healthy.
func (m *Manager) Sync(upstreams []*entity.Upstream, targets []*entity.Target, workspaceOf func(entity.Entity) string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		m.log.Warn("upstream config ignored: manager closed")
		return
	}
	wsOf := func(e entity.Entity) string {
		ws := ""
		if workspaceOf != nil {
			ws = workspaceOf(e)
		}
		if ws == "" {
			ws = e.GetMeta().Workspace
		}
		if ws == "" {
			ws = entity.DefaultWorkspace
		}
		return ws
	}

	confs := m.collect(upstreams, targets, wsOf)
	old := m.snap.Load()
	next := &snapshot{byWS: map[string]map[string]*Balancer{}}
	kept := map[*target]bool{}
	for _, c := range confs {
		b := m.balancerFor(c, old.lookup(c.ws, c.u.Name))
		if next.byWS[c.ws] == nil {
			next.byWS[c.ws] = map[string]*Balancer{}
		}
		next.byWS[c.ws][c.u.Name] = b
		next.all = append(next.all, b)
		for i := range b.members {
			kept[b.members[i].t] = true
		}
	}
	slices.SortFunc(next.all, func(a, b *Balancer) int {
		return cmp.Or(cmp.Compare(a.ws, b.ws), cmp.Compare(a.name, b.name))
	})
	m.snap.Store(next)

	for _, b := range old.all {
		for i := range b.members {
			if t := b.members[i].t; !kept[t] {
				t.retired.Store(true)
			}
		}
	}
	m.syncCheckers(next)
}

// collect groups targets under their upstreams, normalising and
// de-duplicating them.
func (m *Manager) collect(upstreams []*entity.Upstream, targets []*entity.Target, wsOf func(entity.Entity) string) []*upstreamConf {
	var confs []*upstreamConf
	byID := map[upstreamKey]*upstreamConf{}
	byName := map[upstreamKey]*upstreamConf{}
	for _, u := range upstreams {
		if u == nil || u.Name == "" {
			continue
		}
		ws := wsOf(u)
		k := upstreamKey{ws, u.Name}
		if byName[k] != nil {
			m.log.Warn("duplicate upstream name; keeping the first", "workspace", ws, "upstream", u.Name, "id", u.ID)
			continue
		}
		c := &upstreamConf{u: u, ws: ws, seen: map[string]bool{}}
		confs = append(confs, c)
		byName[k] = c
		if u.ID != "" {
			byID[upstreamKey{ws, u.ID}] = c
		}
	}
	for _, t := range targets {
		if t == nil {
			continue
		}
		ws, ref := wsOf(t), entity.RefID(t.Upstream)
		c := byID[upstreamKey{ws, ref}]
		if c == nil {
			c = byName[upstreamKey{ws, ref}]
		}
		if c == nil {
			m.log.Warn("target of unknown upstream ignored", "workspace", ws, "upstream", ref, "target", t.Target, "id", t.ID)
			continue
		}
		addr, err := normalizeTarget(t.Target)
		if err != nil {
			m.log.Warn("malformed target ignored", "workspace", ws, "upstream", c.u.Name, "id", t.ID, "error", err)
			continue
		}
		if c.seen[addr] {
			m.log.Warn("duplicate target ignored", "workspace", ws, "upstream", c.u.Name, "target", addr, "id", t.ID)
			continue
		}
		c.seen[addr] = true
		c.targets = append(c.targets, targetSpec{addr: addr, weight: clampWeight(t.WeightValue())})
	}
	return confs
}

// balancerFor returns old when nothing about the upstream changed, else a
// new balancer that takes over old's target states if its health rules
// are the same.
func (m *Manager) balancerFor(c *upstreamConf, old *Balancer) *Balancer {
	u := c.u
	fp := settingsFingerprint(u, c.targets)
	if old != nil && old.fingerprint == fp {
		return old
	}
	warn := func(msg string) {
		m.log.Warn(msg, "workspace", c.ws, "upstream", u.Name)
	}
	b := &Balancer{
		ws:                 c.ws,
		name:               u.Name,
		hostHeader:         u.HostHeader,
		fingerprint:        fp,
		healthFP:           healthFingerprint(u),
		hashOnHeader:       u.HashOnHeader,
		hashFallbackHeader: u.HashFallbackHeader,
		cookieName:         u.HashOnCookie,
		cookiePath:         u.HashOnCookiePath,
		passive:            passiveThresholds(u.Healthchecks.Passive),
		active:             compileActive(u, warn),
		threshold:          u.Healthchecks.Threshold,
		now:                m.now,
		notify:             m.events.emit,
		byAddr:             make(map[string]int, len(c.targets)),
	}
	b.passiveOn = b.passive.enabled()
	if b.cookiePath == "" {
		b.cookiePath = "/"
	}
	var ok bool
	if b.hashOn, ok = parseHashOn(u.HashOn); !ok {
		warn(fmt.Sprintf("hash_on %q is not supported; not hashing", u.HashOn))
	}
	if b.hashFallback, ok = parseHashOn(u.HashFallback); !ok {
		warn(fmt.Sprintf("hash_fallback %q is not supported; no fallback", u.HashFallback))
	}
	switch u.Algorithm {
	case "round-robin":
		b.algo = algoRoundRobin
	case "consistent-hashing":
		b.algo = algoHash
	case "least-connections":
		b.algo = algoLeastConn
	case "":
		// Before Kong 2.7 a hash_on other than none meant hashing.
		if b.hashOn != hashNone {
			b.algo = algoHash
		}
	default:
		warn(fmt.Sprintf("algorithm %q is not supported; using round-robin", u.Algorithm))
	}

	reuse := old != nil && old.healthFP == b.healthFP
	now := m.now()
	b.members = make([]member, len(c.targets))
	for i, spec := range c.targets {
		var t *target
		if reuse {
			if j, ok := old.byAddr[spec.addr]; ok {
				t = old.members[j].t
			}
		}
		if t == nil {
			t = newTarget(c.ws, u.Name, spec.addr, now)
		}
		b.members[i] = member{t: t, weight: spec.weight}
		b.byAddr[spec.addr] = i
	}
	if b.algo == algoHash {
		b.ring = buildRing(b.members, clampSlots(u.Slots))
	}
	m.log.Debug("upstream balancer built", "workspace", c.ws, "upstream", u.Name,
		"algorithm", b.algo.String(), "targets", len(b.members), "health_kept", reuse)
	return b
}

// syncCheckers stops the checkers of upstreams that are gone or whose
// active checks changed or were turned off, hands the others their new
// balancer, and starts the missing ones.
func (m *Manager) syncCheckers(next *snapshot) {
	for k, c := range m.checkers {
		b := next.lookup(k.ws, k.name)
		if b == nil || !b.active.enabled() || b.healthFP != c.healthFP {
			c.stop()
			delete(m.checkers, k)
		}
	}
	for _, b := range next.all {
		if !b.active.enabled() {
			continue
		}
		k := upstreamKey{b.ws, b.name}
		if c := m.checkers[k]; c != nil {
			c.bal.Store(b)
			continue
		}
		m.checkers[k] = startChecker(b, m.client, m.now, m.events.emit)
	}
}

// Health lists every target's state, sorted by workspace, upstream and
// target.
func (m *Manager) Health() []TargetHealth {
	s := m.snap.Load()
	var out []TargetHealth
	for _, b := range s.all {
		start := len(out)
		for i := range b.members {
			mb := &b.members[i]
			out = append(out, TargetHealth{
				Workspace: b.ws,
				Upstream:  b.name,
				Target:    mb.t.addr,
				Weight:    mb.weight,
				Healthy:   mb.t.healthy.Load(),
			})
		}
		slices.SortFunc(out[start:], func(a, b TargetHealth) int { return cmp.Compare(a.Target, b.Target) })
	}
	return out
}

// SetHealth marks a target healthy or unhealthy by hand and clears its
// counters, as Kong's Admin API endpoints
// POST /upstreams/{upstream}/targets/{target}/healthy and /unhealthy do. It
// is how a target taken out by passive checks alone comes back. Checks go on
// as before: the next probe or proxied request may change the state again.
// target may omit the default port, as in Kong.
func (m *Manager) SetHealth(workspace, upstream, target string, healthy bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.snap.Load().lookup(workspace, upstream)
	if b == nil {
		return fmt.Errorf("upstream %q in workspace %q: %w", upstream, workspace, ErrUnknownTarget)
	}
	addr, err := normalizeTarget(target)
	if err != nil {
		return fmt.Errorf("upstream %q: %w: %w", upstream, ErrUnknownTarget, err)
	}
	i, ok := b.byAddr[addr]
	if !ok {
		return fmt.Errorf("upstream %q: target %q: %w", upstream, addr, ErrUnknownTarget)
	}
	if ch, changed := b.members[i].t.set(healthy, "set by hand", m.now()); changed {
		m.events.emit(ch)
	}
	return nil
}

// Close stops every active checker and the delivery of health changes, and
// waits for them. Balancers already looked up keep working, without active
// checks. Close is idempotent; it takes no lock while it waits, so an
// OnHealthChange callback may use the Manager.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	stopping := m.checkers
	m.checkers = map[upstreamKey]*checker{}
	m.mu.Unlock()
	// A second Close waits here for the first to finish.
	m.closeOnce.Do(func() {
		for _, c := range stopping {
			c.stop()
		}
		m.events.close()
	})
	return nil
}

// events delivers health changes in order on its own goroutine, so that
// the request path that noticed a change only appends to a slice.
type events struct {
	log *slog.Logger
	fn  func(workspace, upstream, target string, healthy bool)

	mu      sync.Mutex
	queue   []healthChange
	dropped int
	closed  bool

	wake chan struct{} // capacity 1: "the queue is not empty"
	quit chan struct{}
	done chan struct{}
}

// maxQueuedEvents bounds the queue when the callback is stuck; changes
// beyond it are counted and logged, not kept.
const maxQueuedEvents = 4096

func newEvents(log *slog.Logger, fn func(string, string, string, bool)) *events {
	return &events{log: log, fn: fn, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
}

func (e *events) emit(ch healthChange) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	if len(e.queue) >= maxQueuedEvents {
		e.dropped++
	} else {
		e.queue = append(e.queue, ch)
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *events) run() {
	defer close(e.done)
	for {
		select {
		case <-e.wake:
			e.deliver()
		case <-e.quit:
			e.deliver()
			return
		}
	}
}

func (e *events) deliver() {
	e.mu.Lock()
	q, dropped := e.queue, e.dropped
	e.queue, e.dropped = nil, 0
	e.mu.Unlock()
	if dropped > 0 {
		e.log.Error("target health changes dropped: callback too slow", "dropped", dropped)
	}
	for _, ch := range q {
		level, msg := slog.LevelWarn, "target unhealthy"
		if ch.healthy {
			level, msg = slog.LevelInfo, "target healthy"
		}
		e.log.Log(context.Background(), level, msg,
			"workspace", ch.ws, "upstream", ch.upstream, "target", ch.target,
			"cause", ch.cause, "previous_state_for", ch.after.Round(time.Millisecond))
		if e.fn != nil {
			e.fn(ch.ws, ch.upstream, ch.target, ch.healthy)
		}
	}
}

func (e *events) close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	e.mu.Unlock()
	close(e.quit)
	<-e.done
}
