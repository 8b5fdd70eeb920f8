package upstream

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/entity"
)

func TestRoundRobinDistributesByWeight(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
	}{
		{name: "equal", weights: []int{1, 1, 1}},
		{name: "three to one", weights: []int{3, 1}},
		{name: "kong default weights", weights: []int{100, 100}},
		{name: "weight zero gets nothing", weights: []int{5, 0, 2}},
		{name: "uneven", weights: []int{7, 2, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestManager(t, Options{})
			u := upstreamOf("svc")
			var backends []*backend
			var targets []*entity.Target
			total := 0
			for _, w := range tc.weights {
				b := newBackend(t)
				backends = append(backends, b)
				targets = append(targets, targetOf(u, b.addr(), w))
				total += w
			}
			m.Sync([]*entity.Upstream{u}, targets, nil)
			bal := mustLookup(t, m, "svc")

			// Scale so that a cycle is at least 20 requests; smooth
			// round-robin is exact over every whole cycle.
			rounds := 1
			for total*rounds < 20 {
				rounds++
			}
			for range total * rounds {
				if _, err := proxy(t, bal, nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			for i, b := range backends {
				if got, want := b.hits.Load(), int64(tc.weights[i]*rounds); got != want {
					t.Errorf("target %d (weight %d): %d requests, want %d", i, tc.weights[i], got, want)
				}
			}
		})
	}
}

func TestRoundRobinIsSmooth(t *testing.T) {
	// nginx's smooth weighted round-robin for weights 5, 1, 1: the heavy
	// target's turns are spread out, not served in one burst.
	m := newTestManager(t, Options{})
	u := upstreamOf("svc")
	m.Sync([]*entity.Upstream{u}, []*entity.Target{
		targetOf(u, "a:1", 5), targetOf(u, "b:1", 1), targetOf(u, "c:1", 1),
	}, nil)
	bal := mustLookup(t, m, "svc")
	var seq []string
	for range 14 {
		p, err := bal.Pick(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, p.Addr[:1])
		bal.Done(p, Outcome{Kind: Success})
	}
	if got, want := strings.Join(seq, ""), "aabacaaaabacaa"; got != want {
		t.Errorf("sequence %s, want %s", got, want)
	}
}

func TestRetriesSkipTriedTargets(t *testing.T) {
	for _, algo := range []string{"round-robin", "least-connections", "consistent-hashing"} {
		t.Run(algo, func(t *testing.T) {
			m := newTestManager(t, Options{})
			u := upstreamOf("svc", func(u *entity.Upstream) {
				u.Algorithm = algo
				if algo == "consistent-hashing" {
					u.HashOn = "ip"
				}
			})
			a, b, c := newBackend(t), newBackend(t), newBackend(t)
			m.Sync([]*entity.Upstream{u}, []*entity.Target{
				targetOf(u, a.addr(), 100), targetOf(u, b.addr(), 100), targetOf(u, c.addr(), 100),
			}, nil)
			bal := mustLookup(t, m, "svc")
			for i := range 30 {
				in := &HashInput{ClientIP: fmt.Sprintf("10.0.0.%d", i)}
				var tried []string
				for try := range 3 {
					addr, err := proxy(t, bal, in, tried)
					if err != nil {
						t.Fatal(err)
					}
					for _, prev := range tried {
						if prev == addr {
							t.Fatalf("request %d try %d went to %s again (tried %v)", i, try, addr, tried)
						}
					}
					tried = append(tried, addr)
				}
				// Every target tried: a fourth try reuses one rather than fail.
				if _, err := proxy(t, bal, in, tried); err != nil {
					t.Fatalf("request %d, fourth try: %v", i, err)
				}
			}
			if got := a.hits.Load() + b.hits.Load() + c.hits.Load(); got != 120 {
				t.Errorf("backends served %d requests, want 120", got)
			}
		})
	}
}

func TestLeastConnectionsPrefersIdleTarget(t *testing.T) {
	m := newTestManager(t, Options{})
	u := upstreamOf("svc", func(u *entity.Upstream) { u.Algorithm = "least-connections" })
	busy, idle := newBackend(t), newBackend(t)
	release := make(chan struct{})
	busy.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		busy.hits.Add(1)
		<-release
	})
	m.Sync([]*entity.Upstream{u}, []*entity.Target{
		targetOf(u, busy.addr(), 100), targetOf(u, idle.addr(), 100),
	}, nil)
	bal := mustLookup(t, m, "svc")

	// Hold requests to the busy target open until both targets have had
	// a turn; from then on only the idle one has no request in flight.
	type held struct {
		p    *Peer
		done chan struct{}
	}
	var open []held
	for range 2 {
		p, err := bal.Pick(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Addr == idle.addr() {
			bal.Done(p, Outcome{Kind: HTTPStatus, Status: 200})
			continue
		}
		h := held{p: p, done: make(chan struct{})}
		go func() {
			defer close(h.done)
			resp, err := noKeepAlive.Get("http://" + p.Addr + "/")
			if err == nil {
				_ = resp.Body.Close()
			}
		}()
		open = append(open, h)
	}
	if len(open) != 1 {
		t.Fatalf("%d requests to the busy target, want 1", len(open))
	}
	eventually(t, "the busy target to hold a request", func() bool { return busy.hits.Load() == 1 })

	for range 20 {
		addr, err := proxy(t, bal, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if addr != idle.addr() {
			t.Fatalf("picked %s while it had a request in flight", addr)
		}
	}
	close(release)
	for _, h := range open {
		<-h.done
		bal.Done(h.p, Outcome{Kind: HTTPStatus, Status: 200})
	}
	// Both idle again: they share the load.
	seen := map[string]int{}
	for range 10 {
		addr, err := proxy(t, bal, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen[addr]++
	}
	if seen[busy.addr()] != 5 || seen[idle.addr()] != 5 {
		t.Errorf("after release: %v, want 5 each", seen)
	}
}

func TestLeastConnectionsWeighsConnections(t *testing.T) {
	// With weights 3:1 and requests left in flight, the heavy target takes
	// three times the concurrent requests.
	m := newTestManager(t, Options{})
	u := upstreamOf("svc", func(u *entity.Upstream) { u.Algorithm = "least-connections" })
	m.Sync([]*entity.Upstream{u}, []*entity.Target{
		targetOf(u, "heavy:80", 300), targetOf(u, "light:80", 100),
	}, nil)
	bal := mustLookup(t, m, "svc")
	var peers []*Peer
	count := map[string]int{}
	for range 40 {
		p, err := bal.Pick(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, p)
		count[p.Addr]++
	}
	if count["heavy:80"] != 30 || count["light:80"] != 10 {
		t.Errorf("in flight: %v, want heavy:80=30 light:80=10", count)
	}
	for _, p := range peers {
		bal.Done(p, Outcome{Kind: Success})
	}
	for _, mb := range bal.members {
		if n := mb.t.inflight.Load(); n != 0 {
			t.Errorf("%s: %d in flight after every Done", mb.t.addr, n)
		}
	}
}

func TestNoHealthyTarget(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*entity.Upstream)
		targets func(*entity.Upstream) []*entity.Target
		down    []string
	}{
		{
			name:    "no targets",
			targets: func(*entity.Upstream) []*entity.Target { return nil },
		},
		{
			name: "only weight zero",
			targets: func(u *entity.Upstream) []*entity.Target {
				return []*entity.Target{targetOf(u, "a:1", 0), targetOf(u, "b:1", 0)}
			},
		},
		{
			name: "all unhealthy",
			targets: func(u *entity.Upstream) []*entity.Target {
				return []*entity.Target{targetOf(u, "a:1", 10), targetOf(u, "b:1", 10)}
			},
			down: []string{"a:1", "b:1"},
		},
		{
			name: "all unhealthy, hashing",
			mod:  func(u *entity.Upstream) { u.Algorithm, u.HashOn = "consistent-hashing", "ip" },
			targets: func(u *entity.Upstream) []*entity.Target {
				return []*entity.Target{targetOf(u, "a:1", 10), targetOf(u, "b:1", 10)}
			},
			down: []string{"a:1", "b:1"},
		},
		{
			name: "all unhealthy, least connections",
			mod:  func(u *entity.Upstream) { u.Algorithm = "least-connections" },
			targets: func(u *entity.Upstream) []*entity.Target {
				return []*entity.Target{targetOf(u, "a:1", 10), targetOf(u, "b:1", 10)}
			},
			down: []string{"a:1", "b:1"},
		},
		{
			name: "healthy weight below threshold",
			mod:  func(u *entity.Upstream) { u.Healthchecks.Threshold = 50 },
			targets: func(u *entity.Upstream) []*entity.Target {
				return []*entity.Target{targetOf(u, "a:1", 30), targetOf(u, "b:1", 70)}
			},
			down: []string{"b:1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestManager(t, Options{})
			var mods []func(*entity.Upstream)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			u := upstreamOf("svc", mods...)
			m.Sync([]*entity.Upstream{u}, tc.targets(u), nil)
			for _, d := range tc.down {
				if err := m.SetHealth(entity.DefaultWorkspace, "svc", d, false); err != nil {
					t.Fatal(err)
				}
			}
			bal := mustLookup(t, m, "svc")
			for _, tried := range [][]string{nil, {"a:1"}} {
				p, err := bal.Pick(&HashInput{ClientIP: "1.2.3.4"}, tried)
				if !errors.Is(err, ErrNoHealthyTarget) {
					t.Errorf("Pick(tried %v) = %v, %v; want ErrNoHealthyTarget", tried, p, err)
				}
			}
		})
	}
}

func TestThresholdMet(t *testing.T) {
	m := newTestManager(t, Options{})
	u := upstreamOf("svc", func(u *entity.Upstream) { u.Healthchecks.Threshold = 50 })
	m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, "a:1", 30), targetOf(u, "b:1", 70)}, nil)
	if err := m.SetHealth(entity.DefaultWorkspace, "svc", "a:1", false); err != nil {
		t.Fatal(err)
	}
	p, err := mustLookup(t, m, "svc").Pick(nil, nil)
	if err != nil || p.Addr != "b:1" {
		t.Fatalf("Pick = %v, %v; want b:1 (70%% of the weight is healthy)", p, err)
	}
}
