package upstream

import (
	"cmp"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

func passive(tcp, timeouts, http, successes int) func(*entity.Upstream) {
	return func(u *entity.Upstream) {
		p := &u.Healthchecks.Passive
		p.Unhealthy.TCPFailures, p.Unhealthy.Timeouts, p.Unhealthy.HTTPFailures = tcp, timeouts, http
		p.Healthy.Successes = successes
	}
}

func TestPassiveChecksTakeFailingTargetOut(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*entity.Upstream)
		failing func(t *testing.T) string // returns the bad target's address
		// failures is how many failed requests it takes.
		failures int
		// timeout is how long the proxy waits for an answer.
		timeout time.Duration
	}{
		{
			name: "http statuses",
			mod:  passive(0, 0, 3, 0),
			failing: func(t *testing.T) string {
				b := newBackend(t)
				b.status.Store(http.StatusServiceUnavailable)
				return b.addr()
			},
			failures: 3,
		},
		{
			name: "tcp failures",
			mod:  passive(2, 0, 0, 0),
			failing: func(t *testing.T) string {
				return closedAddr(t)
			},
			failures: 2,
		},
		{
			name: "timeouts",
			mod:  passive(0, 2, 0, 0),
			failing: func(t *testing.T) string {
				b := newBackend(t)
				b.delay.Store(int64(time.Hour)) // until the client gives up
				return b.addr()
			},
			failures: 2,
			timeout:  200 * time.Millisecond,
		},
		{
			name: "custom unhealthy statuses",
			mod: func(u *entity.Upstream) {
				passive(0, 0, 1, 0)(u)
				u.Healthchecks.Passive.Unhealthy.HTTPStatuses = []int{418}
			},
			failing: func(t *testing.T) string {
				b := newBackend(t)
				b.status.Store(http.StatusTeapot)
				return b.addr()
			},
			failures: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ch changes
			m := newTestManager(t, Options{OnHealthChange: ch.record})
			u := upstreamOf("svc", tc.mod)
			good := newBackend(t)
			bad := tc.failing(t)
			m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, good.addr(), 100), targetOf(u, bad, 100)}, nil)
			bal := mustLookup(t, m, "svc")

			// Round-robin alternates: 2*failures requests reach the bad
			// target failures times.
			timeout := cmp.Or(tc.timeout, 10*time.Second)
			for range 2 * tc.failures {
				if _, err := proxyWithin(t, timeout, bal, nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			if isHealthy(m, "svc", bad) {
				t.Fatalf("%s still healthy after %d failures", bad, tc.failures)
			}
			if !isHealthy(m, "svc", good.addr()) {
				t.Fatalf("good target %s marked unhealthy", good.addr())
			}
			before := good.hits.Load()
			for range 10 {
				addr, err := proxy(t, bal, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if addr == bad {
					t.Fatalf("picked unhealthy %s", bad)
				}
			}
			if got := good.hits.Load() - before; got != 10 {
				t.Errorf("good target served %d of 10", got)
			}
			want := "default/svc/" + bad + "=false"
			eventually(t, "OnHealthChange", func() bool { return slices.Equal(ch.list(), []string{want}) })
		})
	}
}

func TestPassiveFailuresMustBeConsecutive(t *testing.T) {
	// A healthy answer clears the failure counters (Kong's rule), so a
	// target that fails now and then is not taken out.
	m := newTestManager(t, Options{})
	u := upstreamOf("svc", passive(0, 0, 3, 0))
	m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, "a:1", 1)}, nil)
	bal := mustLookup(t, m, "svc")
	for range 10 {
		for _, status := range []int{500, 500, 200} {
			p, err := bal.Pick(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			bal.Done(p, Outcome{Kind: HTTPStatus, Status: status})
		}
	}
	if !isHealthy(m, "svc", "a:1") {
		t.Fatal("target taken out by non-consecutive failures")
	}
	for _, o := range []Outcome{{Kind: HTTPStatus, Status: 500}, {Kind: HTTPStatus, Status: 404}, {Kind: HTTPStatus, Status: 429}, {Kind: HTTPStatus, Status: 503}} {
		p, _ := bal.Pick(nil, nil)
		bal.Done(p, o) // 404 is in neither default list: it counts for nothing
	}
	if isHealthy(m, "svc", "a:1") {
		t.Fatal("target still healthy after 500, 429, 503")
	}
}

func TestPassiveDownStaysDownWithoutActiveChecks(t *testing.T) {
	var ch changes
	m := newTestManager(t, Options{OnHealthChange: ch.record})
	u := upstreamOf("svc", passive(0, 0, 1, 2))
	flaky, steady := newBackend(t), newBackend(t)
	flaky.status.Store(http.StatusInternalServerError)
	targets := []*entity.Target{targetOf(u, flaky.addr(), 100), targetOf(u, steady.addr(), 100)}
	m.Sync([]*entity.Upstream{u}, targets, nil)
	bal := mustLookup(t, m, "svc")
	for range 2 {
		if _, err := proxy(t, bal, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if isHealthy(m, "svc", flaky.addr()) {
		t.Fatal("flaky target not taken out")
	}

	// The target recovers, but nothing sends it traffic to prove it.
	flaky.status.Store(http.StatusOK)
	hits := flaky.hits.Load()
	for range 20 {
		if _, err := proxy(t, bal, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if flaky.hits.Load() != hits || isHealthy(m, "svc", flaky.addr()) {
		t.Fatal("target taken out by passive checks came back on its own")
	}

	// An unrelated config change keeps it down…
	m.Sync([]*entity.Upstream{u}, append(targets, targetOf(u, "other:80", 0)), nil)
	if isHealthy(m, "svc", flaky.addr()) {
		t.Fatal("adding a target brought the down target back")
	}
	// …putting it back by hand (Kong's POST …/targets/{t}/healthy) does not.
	if err := m.SetHealth(entity.DefaultWorkspace, "svc", flaky.addr(), true); err != nil {
		t.Fatal(err)
	}
	bal = mustLookup(t, m, "svc")
	for range 4 {
		if _, err := proxy(t, bal, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if flaky.hits.Load() == hits {
		t.Fatal("target set healthy gets no traffic")
	}
	// And changing the upstream's healthchecks starts it afresh too.
	if err := m.SetHealth(entity.DefaultWorkspace, "svc", flaky.addr(), false); err != nil {
		t.Fatal(err)
	}
	u2 := upstreamOf("svc", passive(0, 0, 2, 2))
	m.Sync([]*entity.Upstream{u2}, targets, nil)
	if !isHealthy(m, "svc", flaky.addr()) {
		t.Fatal("changed healthchecks kept the old verdict")
	}
	f := "default/svc/" + flaky.addr()
	want := []string{f + "=false", f + "=true", f + "=false"}
	eventually(t, "health changes", func() bool { return slices.Equal(ch.list(), want) })
}

func TestSetHealthErrors(t *testing.T) {
	m := newTestManager(t, Options{})
	u := upstreamOf("svc")
	m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, "10.0.0.1", 100)}, nil)
	tests := []struct {
		name, ws, upstream, target string
		wantErr                    bool
	}{
		{name: "default port may be left out", ws: "default", upstream: "svc", target: "10.0.0.1"},
		{name: "with port", ws: "default", upstream: "svc", target: "10.0.0.1:8000"},
		{name: "unknown target", ws: "default", upstream: "svc", target: "10.0.0.2:8000", wantErr: true},
		{name: "unknown upstream", ws: "default", upstream: "nope", target: "10.0.0.1", wantErr: true},
		{name: "other workspace", ws: "team-b", upstream: "svc", target: "10.0.0.1", wantErr: true},
		{name: "malformed target", ws: "default", upstream: "svc", target: "[::1", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := m.SetHealth(tc.ws, tc.upstream, tc.target, true)
			if tc.wantErr != (err != nil) {
				t.Fatalf("SetHealth = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrUnknownTarget) {
				t.Errorf("error %v is not ErrUnknownTarget", err)
			}
		})
	}
}

func active(typ string, interval time.Duration, mod ...func(*entity.ActiveHealthcheck)) func(*entity.Upstream) {
	return func(u *entity.Upstream) {
		a := &u.Healthchecks.Active
		a.Type = typ
		a.Timeout = 0.2
		a.HTTPSVerifyCertificate = new(true)
		a.Healthy.Interval = interval.Seconds()
		a.Healthy.Successes = 2
		a.Unhealthy.Interval = interval.Seconds()
		a.Unhealthy.HTTPFailures = 2
		a.Unhealthy.TCPFailures = 2
		a.Unhealthy.Timeouts = 2
		for _, f := range mod {
			f(a)
		}
	}
}

func TestActiveChecksTakeDownTargetOutAndBringItBack(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*entity.Upstream)
		// breakIt makes the target fail its probes; fixIt makes it pass.
		breakIt, fixIt func(b *backend)
	}{
		{
			name:    "http status",
			mod:     active("http", 50*time.Millisecond),
			breakIt: func(b *backend) { b.status.Store(http.StatusInternalServerError) },
			fixIt:   func(b *backend) { b.status.Store(http.StatusOK) },
		},
		{
			name:    "http timeout",
			mod:     active("http", 50*time.Millisecond),
			breakIt: func(b *backend) { b.delay.Store(int64(time.Second)) },
			fixIt:   func(b *backend) { b.delay.Store(0) },
		},
		{
			name: "custom path and statuses",
			mod: active("http", 50*time.Millisecond, func(a *entity.ActiveHealthcheck) {
				a.HTTPPath = "/healthz"
				a.Healthy.HTTPStatuses = []int{204}
				a.Unhealthy.HTTPStatuses = []int{418}
			}),
			breakIt: func(b *backend) { b.status.Store(http.StatusTeapot) },
			fixIt:   func(b *backend) { b.status.Store(http.StatusNoContent) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ch changes
			m := newTestManager(t, Options{OnHealthChange: ch.record})
			u := upstreamOf("svc", tc.mod)
			target, other := newBackend(t), newBackend(t)
			if strings.Contains(tc.name, "custom") {
				target.status.Store(http.StatusNoContent)
				other.status.Store(http.StatusNoContent)
			}
			m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, target.addr(), 100), targetOf(u, other.addr(), 100)}, nil)
			bal := mustLookup(t, m, "svc")
			eventually(t, "probes", func() bool { return target.hits.Load() >= 2 })
			if !isHealthy(m, "svc", target.addr()) {
				t.Fatal("answering target marked unhealthy")
			}

			tc.breakIt(target)
			eventually(t, "the target to go down", func() bool { return !isHealthy(m, "svc", target.addr()) })
			for range 10 {
				p, err := bal.Pick(nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if p.Addr == target.addr() {
					t.Fatal("picked the down target")
				}
				bal.Done(p, Outcome{Kind: Success})
			}

			tc.fixIt(target)
			eventually(t, "the target to come back", func() bool { return isHealthy(m, "svc", target.addr()) })
			seen := false
			for range 4 {
				p, err := bal.Pick(nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				seen = seen || p.Addr == target.addr()
				bal.Done(p, Outcome{Kind: Success})
			}
			if !seen {
				t.Error("recovered target gets no traffic")
			}
			if !isHealthy(m, "svc", other.addr()) {
				t.Error("the other target went down")
			}
			tg := "default/svc/" + target.addr()
			eventually(t, "health changes", func() bool {
				return slices.Equal(ch.list(), []string{tg + "=false", tg + "=true"})
			})
		})
	}
}

func TestActiveTCPChecks(t *testing.T) {
	m := newTestManager(t, Options{})
	u := upstreamOf("svc", active("tcp", 50*time.Millisecond))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	accepted := make(chan struct{}, 100)
	serve := func(l net.Listener) {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); serve(l) }()
	m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, addr, 100)}, nil)
	<-accepted
	if !isHealthy(m, "svc", addr) {
		t.Fatal("listening target unhealthy")
	}
	_ = l.Close()
	<-done
	eventually(t, "the closed target to go down", func() bool { return !isHealthy(m, "svc", addr) })
	if _, err := mustLookup(t, m, "svc").Pick(nil, nil); !errors.Is(err, ErrNoHealthyTarget) {
		t.Fatalf("Pick with the only target down: %v", err)
	}

	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s again to bring the target back: %v", addr, err)
	}
	done = make(chan struct{})
	go func() { defer close(done); serve(l) }()
	defer func() { _ = l.Close(); <-done }()
	eventually(t, "the target to come back", func() bool { return isHealthy(m, "svc", addr) })
}

func TestActiveHTTPSChecks(t *testing.T) {
	var probes atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { probes.Add(1) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	tests := []struct {
		name        string
		verify      bool
		wantHealthy bool
	}{
		{name: "self-signed, not verified", verify: false, wantHealthy: true},
		{name: "self-signed, verified", verify: true, wantHealthy: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestManager(t, Options{})
			u := upstreamOf("svc", active("https", 50*time.Millisecond, func(a *entity.ActiveHealthcheck) {
				a.HTTPSVerifyCertificate = new(tc.verify)
				a.Unhealthy.Interval = 0 // probe healthy targets only: a verdict stays put
			}))
			m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, addr, 100)}, nil)
			if tc.wantHealthy {
				start := probes.Load()
				eventually(t, "three probes", func() bool { return probes.Load() >= start+3 })
				if !isHealthy(m, "svc", addr) {
					t.Fatal("target went down")
				}
				return
			}
			eventually(t, "the target to go down", func() bool { return !isHealthy(m, "svc", addr) })
		})
	}
}

func TestActiveProbeRequest(t *testing.T) {
	m := newTestManager(t, Options{})
	b := newBackend(t)
	b.paths = make(chan string, 10)
	u := upstreamOf("svc", active("http", 50*time.Millisecond, func(a *entity.ActiveHealthcheck) { a.HTTPPath = "/status" }),
		func(u *entity.Upstream) { u.HostHeader = "api.internal" })
	m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, b.addr(), 100)}, nil)
	select {
	case got := <-b.paths:
		if want := "api.internal /status " + probeUserAgent; got != want {
			t.Errorf("probe %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no probe")
	}
}

func TestActiveChecksRecoverPassiveDown(t *testing.T) {
	// Kong's recommended mix: passive checks take a target out, active
	// checks of unhealthy targets only bring it back.
	m := newTestManager(t, Options{})
	u := upstreamOf("svc", passive(0, 0, 1, 0), active("http", 0, func(a *entity.ActiveHealthcheck) {
		a.Unhealthy.Interval = 0.05
	}))
	b := newBackend(t)
	m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, b.addr(), 100)}, nil)
	bal := mustLookup(t, m, "svc")
	p, err := bal.Pick(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	bal.Done(p, Outcome{Kind: HTTPStatus, Status: 500})
	if isHealthy(m, "svc", b.addr()) {
		t.Fatal("passive check did not take the target out")
	}
	eventually(t, "active checks to bring it back", func() bool { return isHealthy(m, "svc", b.addr()) })
}
