package upstream

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// OutcomeKind says how a try against a target ended.
type OutcomeKind uint8

// Outcome kinds, as Kong's health checker distinguishes them.
const (
	// Success: the target answered and the answer counts as healthy
	// whatever its status (a stream, or a proxy that does not classify).
	Success OutcomeKind = iota
	// TCPFailure: connecting failed or the connection broke.
	TCPFailure
	// Timeout: connecting, writing or reading timed out.
	Timeout
	// HTTPStatus: the target answered with Outcome.Status, classified by the
	// upstream's passive http_statuses lists; a status in neither list
	// counts for nothing, as in Kong.
	HTTPStatus
)

func (k OutcomeKind) String() string {
	switch k {
	case Success:
		return "success"
	case TCPFailure:
		return "tcp_failure"
	case Timeout:
		return "timeout"
	case HTTPStatus:
		return "http_status"
	}
	return "outcome(" + strconv.Itoa(int(k)) + ")"
}

// Outcome is how one try against a peer went.
type Outcome struct {
	Kind   OutcomeKind
	Status int // for HTTPStatus
}

// report is one observation fed to a target's counters.
type report uint8

const (
	reportNone report = iota // counts for nothing
	reportSuccess
	reportTCPFailure
	reportTimeout
	reportHTTPFailure
)

func (r report) String() string {
	switch r {
	case reportSuccess:
		return "successes"
	case reportTCPFailure:
		return "tcp_failures"
	case reportTimeout:
		return "timeouts"
	case reportHTTPFailure:
		return "http_failures"
	}
	return "none"
}

func classify(o Outcome, th *thresholds) report {
	switch o.Kind {
	case Success:
		return reportSuccess
	case TCPFailure:
		return reportTCPFailure
	case Timeout:
		return reportTimeout
	case HTTPStatus:
		if th.healthy.has(o.Status) {
			return reportSuccess
		}
		if th.unhealthy.has(o.Status) {
			return reportHTTPFailure
		}
	}
	return reportNone
}

// target is the state of one target of one upstream. It outlives balancers:
// Sync hands it on to the next balancer of the same upstream while the target
// and the upstream's healthchecks stay, so that health and in-flight counts
// survive unrelated config changes.
type target struct {
	ws, upstream, addr string
	// peer is what Pick hands out: preallocated so that Pick does not
	// allocate, and pointing back here so that Done finds the state even
	// when the balancer has been replaced in between.
	peer Peer
	// hashSeed places the target on the consistent-hashing ring.
	hashSeed uint64

	healthy  atomic.Bool
	inflight atomic.Int64
	// retired: no current balancer uses this state any more (the target or
	// its upstream went, or the upstream's healthchecks changed), so late
	// reports about it are dropped rather than logged as news.
	retired atomic.Bool

	mu        sync.Mutex // guards the fields below
	successes int32
	tcpFails  int32
	timeouts  int32
	httpFails int32
	since     time.Time // of the last change of health
}

func newTarget(ws, upstream, addr string, now time.Time) *target {
	t := &target{ws: ws, upstream: upstream, addr: addr, hashSeed: hashString(addr), since: now}
	t.peer = Peer{Addr: addr, t: t}
	t.healthy.Store(true)
	return t
}

// healthChange describes a change of a target's health, for logs and
// Options.OnHealthChange.
type healthChange struct {
	ws, upstream, target string
	healthy              bool
	cause                string        // e.g. "passive tcp_failures 3/3"
	after                time.Duration // in the previous state
}

// observe feeds r to the counters the way lua-resty-healthcheck (Kong's
// health checker) does: a success clears the failure counters, a failure
// clears the success counter, and a counter reaching its threshold flips the
// target, clearing all counters. Active and passive checks share the
// counters; each compares them with its own thresholds. It returns the
// change, if any.
func (t *target) observe(r report, th *thresholds, source string, now func() time.Time) (healthChange, bool) {
	if r == reportNone || t.retired.Load() {
		return healthChange{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	healthy := t.healthy.Load()
	var count, limit int32
	switch r {
	case reportSuccess:
		t.successes++
		t.tcpFails, t.timeouts, t.httpFails = 0, 0, 0
		if healthy {
			return healthChange{}, false
		}
		count, limit = t.successes, th.successes
	case reportTCPFailure:
		t.tcpFails++
		t.successes = 0
		count, limit = t.tcpFails, th.tcpFailures
	case reportTimeout:
		t.timeouts++
		t.successes = 0
		count, limit = t.timeouts, th.timeouts
	case reportHTTPFailure:
		t.httpFails++
		t.successes = 0
		count, limit = t.httpFails, th.httpFailures
	}
	if r != reportSuccess && !healthy {
		return healthChange{}, false
	}
	if limit == 0 || count < limit {
		return healthChange{}, false
	}
	cause := source + " " + r.String() + " " + strconv.Itoa(int(count)) + "/" + strconv.Itoa(int(limit))
	return t.setLocked(r == reportSuccess, cause, now()), true
}

// set forces the target's health (Manager.SetHealth); ok is false when it
// already was in that state.
func (t *target) set(healthy bool, cause string, now time.Time) (healthChange, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.healthy.Load() == healthy {
		t.successes, t.tcpFails, t.timeouts, t.httpFails = 0, 0, 0, 0
		return healthChange{}, false
	}
	return t.setLocked(healthy, cause, now), true
}

func (t *target) setLocked(healthy bool, cause string, now time.Time) healthChange {
	t.successes, t.tcpFails, t.timeouts, t.httpFails = 0, 0, 0, 0
	t.healthy.Store(healthy)
	after := now.Sub(t.since)
	t.since = now
	return healthChange{ws: t.ws, upstream: t.upstream, target: t.addr, healthy: healthy, cause: cause, after: after}
}
