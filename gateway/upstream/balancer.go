package upstream

import (
	"errors"
	"sync"
	"time"
)

// Errors of this package, matched with errors.Is.
var (
	// ErrNoHealthyTarget: the upstream has no target that can take traffic
	// (none configured, all unhealthy or of weight 0, or the healthy weight
	// is below healthchecks.threshold). Kong answers 503 then.
	ErrNoHealthyTarget = errors.New("no healthy target")
	// ErrUnknownTarget: SetHealth named an upstream or target that the
	// current config does not have.
	ErrUnknownTarget = errors.New("unknown upstream target")
)

// HashInput is what consistent hashing may hash, per Kong's hash_on values.
// Only the fields the upstream's hash_on and hash_fallback name are read;
// nil funcs read as "absent".
type HashInput struct {
	// ConsumerID is the authenticated consumer's id or, without a consumer,
	// the credential's id (Kong's hash_on consumer).
	ConsumerID string
	// ClientIP is the client address as the proxy trusts it.
	ClientIP string
	// Header returns a request header's value ("" when absent; several
	// values joined, as Kong concatenates them).
	Header func(name string) string
	// Cookie returns a request cookie's value ("" when absent).
	Cookie func(name string) string
}

// Peer is the target Pick chose. It stays valid after a Sync replaced the
// balancer: hand it back to the Done of the balancer it came from.
type Peer struct {
	// Addr is host:port (with Kong's default port 8000 filled in). A host
	// name is resolved by the proxy's dialer.
	Addr string
	t    *target
}

// member is a target as one balancer sees it: its state and its weight.
type member struct {
	t      *target
	weight int
	cw     int // smooth round-robin's current weight, guarded by Balancer.mu
}

// Balancer spreads the requests of one upstream over its targets. It is
// immutable but for the algorithms' small counters; Sync replaces it when
// the upstream or its targets change.
type Balancer struct {
	ws, name    string
	algo        algorithm
	hostHeader  string
	fingerprint string // settingsFingerprint, to keep unchanged balancers
	healthFP    string // healthFingerprint, to keep health state

	hashOn, hashFallback             hashSource
	hashOnHeader, hashFallbackHeader string
	cookieName, cookiePath           string
	ring                             []int32 // slot → members index

	passive   thresholds
	passiveOn bool
	active    activeConfig
	threshold float64 // healthchecks.threshold, percent of weight

	members []member
	byAddr  map[string]int

	now    func() time.Time
	notify func(healthChange)

	mu   sync.Mutex // guards members[].cw and next
	next int        // least-connections' rotating start, for ties
}

// Name returns the upstream's name.
func (b *Balancer) Name() string { return b.name }

// HostHeader returns the upstream's host_header: when set, Kong sends it as
// the Host of proxied requests (unless the route preserves the host) and of
// active probes.
func (b *Balancer) HostHeader() string { return b.hostHeader }

// HashCookie reports whether the upstream hashes on a cookie, and which.
// Kong sets that cookie (with a new random value, on Path) in the response
// when the request had none, so that the client sticks from its next
// request on; the proxy does that, putting the value it generates into
// HashInput.Cookie of the same request.
func (b *Balancer) HashCookie() (name, path string, ok bool) {
	if b.hashOn != hashCookie {
		return "", "", false
	}
	return b.cookieName, b.cookiePath, true
}

// Pick chooses a healthy target, skipping the addresses in tried (retries
// go to another target when one exists; when every healthy target has been
// tried, one is tried again). It returns ErrNoHealthyTarget when none is
// available. Every Peer returned must be handed back to Done exactly once.
//
// Pick does not allocate for round-robin and least-connections, nor for
// consistent hashing beyond what in's funcs do.
func (b *Balancer) Pick(in *HashInput, tried []string) (*Peer, error) {
	if b.threshold > 0 && b.belowThreshold() {
		return nil, ErrNoHealthyTarget
	}
	var m *member
	switch b.algo {
	case algoHash:
		if key, ok := b.hashKey(in); ok {
			m = b.pickHash(hashString(key), tried)
			break
		}
		// No hash input and no fallback: spread by weight, as round-robin.
		b.mu.Lock()
		m = b.pickRoundRobin(tried)
		b.mu.Unlock()
	case algoLeastConn:
		b.mu.Lock()
		m = b.pickLeastConn(tried)
		if m != nil {
			// Counted under the lock so that concurrent picks see it.
			m.t.inflight.Add(1)
		}
		b.mu.Unlock()
		if m == nil {
			return nil, ErrNoHealthyTarget
		}
		return &m.t.peer, nil
	default:
		b.mu.Lock()
		m = b.pickRoundRobin(tried)
		b.mu.Unlock()
	}
	if m == nil {
		return nil, ErrNoHealthyTarget
	}
	m.t.inflight.Add(1)
	return &m.t.peer, nil
}

// Done reports how a request to p went: it releases p for
// least-connections and feeds passive health checks.
func (b *Balancer) Done(p *Peer, o Outcome) {
	if p == nil || p.t == nil {
		return
	}
	t := p.t
	if t.inflight.Add(-1) < 0 {
		t.inflight.Add(1) // a Done too many: keep the count sane
	}
	if !b.passiveOn {
		return
	}
	if ch, ok := t.observe(classify(o, &b.passive), &b.passive, "passive", b.now); ok {
		b.notify(ch)
	}
}

func (b *Balancer) belowThreshold() bool {
	var healthy, total int
	for i := range b.members {
		m := &b.members[i]
		total += m.weight
		if m.t.healthy.Load() {
			healthy += m.weight
		}
	}
	return total == 0 || float64(healthy)*100 < b.threshold*float64(total)
}

func contains(tried []string, addr string) bool {
	for _, a := range tried {
		if a == addr {
			return true
		}
	}
	return false
}

// usable reports whether m may take this try; with avoidTried, targets
// already tried are left out.
func usable(m *member, tried []string, avoidTried bool) bool {
	return m.weight > 0 && m.t.healthy.Load() && !(avoidTried && contains(tried, m.t.addr))
}

// pickRoundRobin is nginx's smooth weighted round-robin: every usable
// member's current weight grows by its weight, the largest wins and drops by
// the total. Over any run of sum(weights) picks each member is chosen
// exactly weight times, interleaved rather than in bursts. Callers hold mu.
func (b *Balancer) pickRoundRobin(tried []string) *member {
	for pass := 0; pass < 2; pass++ {
		avoid := pass == 0
		var best *member
		total := 0
		for i := range b.members {
			m := &b.members[i]
			if !usable(m, tried, avoid) {
				continue
			}
			m.cw += m.weight
			total += m.weight
			if best == nil || m.cw > best.cw {
				best = m
			}
		}
		if best != nil {
			best.cw -= total
			return best
		}
		if len(tried) == 0 {
			break
		}
	}
	return nil
}

// pickLeastConn picks the member with the fewest requests in flight
// relative to its weight, (inflight+1)/weight as Kong's least-connections
// does; ties go round the members so that equal targets share the load.
// Callers hold mu.
func (b *Balancer) pickLeastConn(tried []string) *member {
	n := len(b.members)
	if n == 0 {
		return nil
	}
	start := b.next
	b.next++
	if b.next >= n {
		b.next = 0
	}
	for pass := 0; pass < 2; pass++ {
		avoid := pass == 0
		var best *member
		var bestLoad int64
		for k := 0; k < n; k++ {
			m := &b.members[(start+k)%n]
			if !usable(m, tried, avoid) {
				continue
			}
			load := m.t.inflight.Load() + 1
			// load/weight < bestLoad/best.weight, without division.
			if best == nil || load*int64(best.weight) < bestLoad*int64(m.weight) {
				best, bestLoad = m, load
			}
		}
		if best != nil {
			return best
		}
		if len(tried) == 0 {
			break
		}
	}
	return nil
}

// pickHash maps h to its slot and the slot to its owner; when the owner is
// not usable, the slot goes to the runner-up of its draw among the usable
// members (see ring.go). It takes no lock: the ring is immutable.
func (b *Balancer) pickHash(h uint64, tried []string) *member {
	if len(b.ring) == 0 {
		return nil
	}
	slot := int(h % uint64(len(b.ring)))
	if i := b.ring[slot]; i >= 0 {
		if m := &b.members[i]; usable(m, tried, true) {
			return m
		}
	}
	for pass := 0; pass < 2; pass++ {
		avoid := pass == 0
		var best *member
		var bestCost float64
		for i := range b.members {
			m := &b.members[i]
			if !usable(m, tried, avoid) {
				continue
			}
			if c := drawCost(m.t.hashSeed, slot, m.weight); best == nil || c < bestCost {
				best, bestCost = m, c
			}
		}
		if best != nil {
			return best
		}
		if len(tried) == 0 {
			break
		}
	}
	return nil
}

// hashKey returns the value to hash, from hash_on or else hash_fallback.
func (b *Balancer) hashKey(in *HashInput) (string, bool) {
	if in == nil {
		return "", false
	}
	if k := b.hashValue(in, b.hashOn, b.hashOnHeader); k != "" {
		return k, true
	}
	if k := b.hashValue(in, b.hashFallback, b.hashFallbackHeader); k != "" {
		return k, true
	}
	return "", false
}

func (b *Balancer) hashValue(in *HashInput, src hashSource, header string) string {
	switch src {
	case hashConsumer:
		return in.ConsumerID
	case hashIP:
		return in.ClientIP
	case hashHeader:
		if in.Header != nil && header != "" {
			return in.Header(header)
		}
	case hashCookie:
		if in.Cookie != nil && b.cookieName != "" {
			return in.Cookie(b.cookieName)
		}
	}
	return ""
}
