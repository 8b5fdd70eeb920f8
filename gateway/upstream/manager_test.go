package upstream

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

func TestSyncResolvesUpstreamsAndTargets(t *testing.T) {
	m := newTestManager(t, Options{})
	a := upstreamOf("api.v1")
	b := upstreamOf("api.v1") // same name, other workspace
	b.ID = "id-b"
	b.Workspace = "team-b"
	byName := &entity.Target{Target: "10.0.0.9", Weight: new(5), Upstream: &entity.Ref{ID: "api.v1"}}
	targets := []*entity.Target{
		targetOf(a, "10.0.0.1:80", 10),
		targetOf(a, "10.0.0.1:80", 99), // duplicate: the first stays
		targetOf(a, "[::1]:81", 10),
		targetOf(a, "not a target", 10),
		{Target: "10.0.0.3:80", Weight: new(1), Upstream: &entity.Ref{ID: "missing"}},
		{Target: "10.0.0.4:80", Weight: new(1)},
		byName,
		nil,
	}
	tb := targetOf(b, "10.1.0.1:80", 70000) // weight clamped to Kong's 65535
	tb.Workspace = "team-b"
	targets = append(targets, tb)
	m.Sync([]*entity.Upstream{a, b, nil, {Name: ""}}, targets, nil)

	got := m.Health()
	want := []TargetHealth{
		{Workspace: "default", Upstream: "api.v1", Target: "10.0.0.1:80", Weight: 10, Healthy: true},
		{Workspace: "default", Upstream: "api.v1", Target: "10.0.0.9:8000", Weight: 5, Healthy: true},
		{Workspace: "default", Upstream: "api.v1", Target: "[::1]:81", Weight: 10, Healthy: true},
		{Workspace: "team-b", Upstream: "api.v1", Target: "10.1.0.1:80", Weight: 65535, Healthy: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Health() =\n%v\nwant\n%v", got, want)
	}
	if _, ok := m.Lookup("team-c", "api.v1"); ok {
		t.Error("Lookup found an upstream in the wrong workspace")
	}
	p, err := mustLookup(t, m, "api.v1").Pick(nil, nil)
	if err != nil || p.Addr == "10.1.0.1:80" {
		t.Errorf("Pick = %v, %v: crossed workspaces", p, err)
	}
}

func TestSyncWorkspaceOf(t *testing.T) {
	m := newTestManager(t, Options{})
	u := upstreamOf("svc")
	m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, "a:1", 1)}, func(e entity.Entity) string {
		return "ws-" + string(e.Kind())
	})
	// The target is in another workspace than the upstream: it is not its.
	if _, ok := m.Lookup("ws-upstreams", "svc"); !ok {
		t.Fatal("upstream not in the workspace workspaceOf named")
	}
	if h := m.Health(); len(h) != 0 {
		t.Errorf("target of another workspace attached: %v", h)
	}
}

func TestSyncKeepsUnchangedState(t *testing.T) {
	m := newTestManager(t, Options{})
	u := upstreamOf("svc", passive(0, 0, 1, 0))
	other := upstreamOf("other")
	targets := []*entity.Target{targetOf(u, "a:1", 10), targetOf(u, "b:1", 10), targetOf(other, "c:1", 1)}
	m.Sync([]*entity.Upstream{u, other}, targets, nil)
	bal := mustLookup(t, m, "svc")
	if err := m.SetHealth(entity.DefaultWorkspace, "svc", "a:1", false); err != nil {
		t.Fatal(err)
	}
	held, err := bal.Pick(nil, nil) // b:1, in flight across the syncs below
	if err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name        string
		upstreams   []*entity.Upstream
		targets     []*entity.Target
		sameBal     bool
		wantHealthy map[string]bool
	}{
		{
			name:        "same config keeps the balancer",
			upstreams:   []*entity.Upstream{u, other},
			targets:     targets,
			sameBal:     true,
			wantHealthy: map[string]bool{"a:1": false, "b:1": true},
		},
		{
			name:        "another upstream's change keeps the balancer",
			upstreams:   []*entity.Upstream{u, upstreamOf("other", func(u *entity.Upstream) { u.Algorithm = "least-connections" })},
			targets:     targets,
			sameBal:     true,
			wantHealthy: map[string]bool{"a:1": false, "b:1": true},
		},
		{
			name:        "a new target keeps the others' health",
			upstreams:   []*entity.Upstream{u},
			targets:     append(targets[:2:2], targetOf(u, "d:1", 10)),
			wantHealthy: map[string]bool{"a:1": false, "b:1": true, "d:1": true},
		},
		{
			name:        "a weight change keeps health",
			upstreams:   []*entity.Upstream{u},
			targets:     []*entity.Target{targetOf(u, "a:1", 50), targetOf(u, "b:1", 10)},
			wantHealthy: map[string]bool{"a:1": false, "b:1": true},
		},
		{
			name:        "an algorithm change keeps health",
			upstreams:   []*entity.Upstream{upstreamOf("svc", passive(0, 0, 1, 0), func(u *entity.Upstream) { u.Algorithm = "least-connections" })},
			targets:     []*entity.Target{targetOf(u, "a:1", 50), targetOf(u, "b:1", 10)},
			wantHealthy: map[string]bool{"a:1": false, "b:1": true},
		},
		{
			name:        "a target removed and added back starts healthy",
			upstreams:   []*entity.Upstream{u},
			targets:     []*entity.Target{targetOf(u, "b:1", 10)},
			wantHealthy: map[string]bool{"b:1": true},
		},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			m.Sync(st.upstreams, st.targets, nil)
			now := mustLookup(t, m, "svc")
			if (now == bal) != st.sameBal {
				t.Errorf("balancer kept: %v, want %v", now == bal, st.sameBal)
			}
			bal = now
			got := map[string]bool{}
			for _, h := range m.Health() {
				if h.Upstream == "svc" {
					got[h.Target] = h.Healthy
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(st.wantHealthy) {
				t.Errorf("step %d: health %v, want %v", i, got, st.wantHealthy)
			}
		})
	}
	m.Sync([]*entity.Upstream{u}, targets[:2], nil)
	if !isHealthy(m, "svc", "a:1") {
		t.Error("a:1 added back is not healthy")
	}

	// The request picked before all that is still counted against b:1 and
	// its Done on the old balancer releases it.
	b := mustLookup(t, m, "svc")
	if n := b.members[b.byAddr["b:1"]].t.inflight.Load(); n != 1 {
		t.Errorf("b:1 in flight = %d, want 1", n)
	}
	bal.Done(held, Outcome{Kind: Success})
	if n := b.members[b.byAddr["b:1"]].t.inflight.Load(); n != 0 {
		t.Errorf("b:1 in flight after Done = %d, want 0", n)
	}
}

func TestSyncStopsCheckers(t *testing.T) {
	m := newTestManager(t, Options{})
	kept, gone := newBackend(t), newBackend(t)
	uKept := upstreamOf("kept", active("http", 20*time.Millisecond))
	uGone := upstreamOf("gone", active("http", 20*time.Millisecond))
	m.Sync([]*entity.Upstream{uKept, uGone}, []*entity.Target{targetOf(uKept, kept.addr(), 1), targetOf(uGone, gone.addr(), 1)}, nil)
	eventually(t, "probes of both", func() bool { return kept.hits.Load() > 0 && gone.hits.Load() > 0 })
	keptChecker := m.checkers[upstreamKey{"default", "kept"}]
	goneChecker := m.checkers[upstreamKey{"default", "gone"}]

	// The gone upstream goes; the kept one gets another target.
	extra := newBackend(t)
	m.Sync([]*entity.Upstream{uKept}, []*entity.Target{targetOf(uKept, kept.addr(), 1), targetOf(uKept, extra.addr(), 1)}, nil)
	if len(m.checkers) != 1 || m.checkers[upstreamKey{"default", "kept"}] != keptChecker {
		t.Fatalf("checkers after sync: %v, want the kept upstream's, unchanged", m.checkers)
	}
	select {
	case <-goneChecker.done:
	default:
		t.Fatal("Sync returned before the removed upstream's checker stopped")
	}
	select {
	case <-keptChecker.done:
		t.Fatal("the kept upstream's checker stopped")
	default:
	}
	// A probe cut short by the stop may still reach the server; after that
	// none may come while the kept checker goes on probing.
	eventually(t, "the new target to be probed", func() bool { return extra.hits.Load() >= 2 })
	stopped := gone.hits.Load()
	eventually(t, "more probes", func() bool { return extra.hits.Load() >= 6 })
	if n := gone.hits.Load(); n != stopped {
		t.Errorf("removed upstream probed %d more times", n-stopped)
	}

	// Turning active checks off stops the checker too.
	m.Sync([]*entity.Upstream{upstreamOf("kept")}, []*entity.Target{targetOf(uKept, kept.addr(), 1)}, nil)
	if len(m.checkers) != 0 {
		t.Fatalf("%d checkers left with active checks off", len(m.checkers))
	}
	<-keptChecker.done
}

func TestCloseIsIdempotent(t *testing.T) {
	m := NewManager(Options{})
	u := upstreamOf("svc", active("tcp", 10*time.Millisecond))
	m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, closedAddr(t), 1)}, nil)
	for i := range 3 {
		if err := m.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	// A closed manager ignores new config and starts no checker.
	m.Sync([]*entity.Upstream{u}, nil, nil)
	if len(m.checkers) != 0 {
		t.Fatal("checker started after Close")
	}
}

// TestConcurrentUse runs the request path against Sync, SetHealth, Health
// and active checks; it is meant for -race.
func TestConcurrentUse(t *testing.T) {
	m := newTestManager(t, Options{OnHealthChange: func(string, string, string, bool) {}})
	backends := []*backend{newBackend(t), newBackend(t), newBackend(t)}
	configs := [][]*entity.Upstream{
		{upstreamOf("svc", passive(3, 3, 3, 1), active("http", 5*time.Millisecond))},
		{upstreamOf("svc", passive(3, 3, 3, 1), func(u *entity.Upstream) { u.Algorithm = "least-connections" })},
		{upstreamOf("svc", func(u *entity.Upstream) { u.Algorithm, u.HashOn, u.Slots = "consistent-hashing", "ip", 100 })},
	}
	targetsFor := func(u *entity.Upstream, n int) []*entity.Target {
		var ts []*entity.Target
		for i := range n {
			ts = append(ts, targetOf(u, backends[i].addr(), 10+i))
		}
		return ts
	}
	m.Sync(configs[0], targetsFor(configs[0][0], 3), nil)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			in := &HashInput{ClientIP: fmt.Sprintf("10.0.0.%d", w)}
			var tried []string
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				bal, ok := m.Lookup(entity.DefaultWorkspace, "svc")
				if !ok {
					t.Error("upstream vanished during Sync")
					return
				}
				p, err := bal.Pick(in, tried)
				if errors.Is(err, ErrNoHealthyTarget) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				tried = append(tried[:0], p.Addr)
				o := Outcome{Kind: HTTPStatus, Status: 200}
				if i%7 == 0 {
					o = Outcome{Kind: OutcomeKind(i % 4), Status: 500}
				}
				bal.Done(p, o)
			}
		})
	}
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c := configs[i%len(configs)]
			m.Sync(c, targetsFor(c[0], 1+i%3), nil)
			_ = m.Health()
			_ = m.SetHealth(entity.DefaultWorkspace, "svc", backends[0].addr(), i%2 == 0)
			time.Sleep(time.Millisecond)
		}
	})
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	// Every Pick had its Done: nothing is left in flight.
	for _, bal := range m.snap.Load().all {
		for _, mb := range bal.members {
			if n := mb.t.inflight.Load(); n != 0 {
				t.Errorf("%s: %d in flight", mb.t.addr, n)
			}
		}
	}
}

func TestCallbackMayUseManager(t *testing.T) {
	var m *Manager
	called := make(chan struct{}, 10)
	m = NewManager(Options{OnHealthChange: func(ws, up, target string, healthy bool) {
		_ = m.Health()
		_ = m.SetHealth(ws, up, target, healthy) // already so: no new change
		called <- struct{}{}
	}})
	u := upstreamOf("svc")
	m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, "a:1", 1)}, nil)
	if err := m.SetHealth(entity.DefaultWorkspace, "svc", "a:1", false); err != nil {
		t.Fatal(err)
	}
	// Close while the callback may be running: it must not deadlock.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-called:
	default:
		t.Fatal("queued change not delivered before Close returned")
	}
}
