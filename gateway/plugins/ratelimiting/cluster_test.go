package ratelimiting

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/plugin/plugintest"
	"github.com/tollgate/tollgate/gateway/ratelimit"
	"github.com/tollgate/tollgate/internal/entity"
)

// fakeShared is a ratelimit.Shared for the plugin's logic: counts in a
// local store, budgets as the test sets them, exact quotas in a map, and
// an error it returns with every answer.
type fakeShared struct {
	*ratelimit.Local
	budget map[ratelimit.Window]int64 // -1 or absent: limit - count
	limits []int64                    // limits Budget was called with
	exact  map[ratelimit.Window]int64
	takes  []ratelimit.Window
	err    error
}

func newFakeShared(t *testing.T) *fakeShared {
	l := ratelimit.NewLocal(ratelimit.LocalOptions{SweepInterval: -1})
	t.Cleanup(func() { l.Close() })
	return &fakeShared{Local: l, budget: map[ratelimit.Window]int64{}, exact: map[ratelimit.Window]int64{}}
}

func (f *fakeShared) Add(key string, w ratelimit.Window, now time.Time, n int64) (int64, error) {
	v, _ := f.Local.Add(key, w, now, n)
	return v, f.err
}

func (f *fakeShared) Get(key string, w ratelimit.Window, now time.Time) (int64, error) {
	v, _ := f.Local.Get(key, w, now)
	return v, f.err
}

func (f *fakeShared) Budget(key string, w ratelimit.Window, now time.Time, limit int64) (int64, error) {
	f.limits = append(f.limits, limit)
	if b, ok := f.budget[w]; ok && b >= 0 {
		return b, f.err
	}
	n, _ := f.Local.Get(key, w, now)
	return max(0, limit-n), f.err
}

func (f *fakeShared) TakeExact(_ context.Context, key string, w ratelimit.Window, now time.Time, limit int64) (int64, bool, error) {
	f.takes = append(f.takes, w)
	if f.exact[w] >= limit {
		return f.exact[w], false, f.err
	}
	f.exact[w]++
	return f.exact[w], true, f.err
}

var _ ratelimit.Shared = (*fakeShared)(nil)

// run builds one plugin over env and serves one request at now.
func run(t *testing.T, config string, env plugin.Env, now time.Time) *plugintest.Response {
	t.Helper()
	env.Now = func() time.Time { return now }
	set, err := plugin.NewSet(plugin.NewRegistry(Factory()),
		[]*entity.Plugin{{Meta: entity.Meta{ID: "p1"}, Name: Name, Config: json.RawMessage(config)}}, env)
	if err != nil {
		t.Fatal(err)
	}
	c := &plugin.Context{Request: plugintest.NewRequest("GET", "/", nil, nil), ClientIP: netip.MustParseAddr("192.0.2.1")}
	return plugintest.Serve(set, c, plugintest.NewResponse(200, nil, []byte("ok")))
}

func TestClusterPolicy(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 30, 0, time.UTC)
	const key = "p1:192.0.2.1"
	tests := []struct {
		name    string
		config  string
		setup   func(f *fakeShared)
		status  int
		headers map[string]string
		limits  string // limits Budget was called with
	}{
		{
			name: "admitted within the node's budget", config: `{"minute":10,"policy":"cluster"}`,
			setup:  func(f *fakeShared) { f.Local.Add(key, ratelimit.Minute, now, 4) },
			status: 200, headers: map[string]string{"X-RateLimit-Remaining-Minute": "5", "RateLimit-Remaining": "5"},
			limits: "[10]",
		},
		{
			name: "no budget left on this node although the cluster has some", config: `{"minute":10,"policy":"cluster"}`,
			setup: func(f *fakeShared) {
				f.Local.Add(key, ratelimit.Minute, now, 4)
				f.budget[ratelimit.Minute] = 0
			},
			status: 429, headers: map[string]string{"X-RateLimit-Remaining-Minute": "0", "Retry-After": "30"},
			limits: "[10]",
		},
		{
			name: "every window asks for a budget", config: `{"second":2,"hour":100,"policy":"cluster"}`,
			setup:  func(f *fakeShared) { f.budget[ratelimit.Hour] = 0 },
			status: 429, headers: map[string]string{"X-RateLimit-Remaining-Second": "2", "X-RateLimit-Remaining-Hour": "0"},
			limits: "[2 100]",
		},
		{
			name: "fractional limits admit whole hits below them", config: `{"minute":2.5,"policy":"cluster"}`,
			status: 200, limits: "[3]",
		},
		{
			name: "sliding: the previous window weighs in", config: `{"minute":10,"policy":"cluster","window_type":"sliding"}`,
			setup: func(f *fakeShared) {
				// 8 in the previous minute, half of this one to run: 4 count.
				f.Local.Add(key, ratelimit.Minute, now.Add(-time.Minute), 8)
				f.Local.Add(key, ratelimit.Minute, now, 1)
			},
			status: 200, headers: map[string]string{"X-RateLimit-Limit-Minute": "10", "X-RateLimit-Remaining-Minute": "4"},
			limits: "[6]",
		},
		{
			name: "sliding: full", config: `{"minute":10,"policy":"cluster","window_type":"sliding"}`,
			setup: func(f *fakeShared) {
				f.Local.Add(key, ratelimit.Minute, now.Add(-time.Minute), 8)
				f.Local.Add(key, ratelimit.Minute, now, 6)
			},
			status: 429, headers: map[string]string{"X-RateLimit-Remaining-Minute": "0"},
			limits: "[6]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeShared(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			before, _ := f.Local.Get(key, ratelimit.Minute, now)
			resp := run(t, tt.config, plugin.Env{Shared: f}, now)
			if resp.Status() != tt.status {
				t.Fatalf("status %d, want %d", resp.Status(), tt.status)
			}
			for name, want := range tt.headers {
				if got := resp.Header(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if got := fmt.Sprint(f.limits); got != tt.limits {
				t.Errorf("Budget limits %s, want %s", got, tt.limits)
			}
			after, _ := f.Local.Get(key, ratelimit.Minute, now)
			// Admitted requests are counted in every window (the minute
			// here, when configured); turned-away ones are not.
			want := int64(0)
			if tt.status == 200 && strings.Contains(tt.config, `"minute"`) {
				want = 1
			}
			if counted := after - before; counted != want {
				t.Errorf("counted %d in the minute, want %d", counted, want)
			}
		})
	}
}

// A standalone node (no shared counters) counts the cluster policy in its
// local store.
func TestClusterPolicyStandalone(t *testing.T) {
	h := newHarness(t, "p1", `{"minute":2,"policy":"cluster","sync_rate":0}`, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	h.expect(h.do(h.set, &plugin.Context{}), 200, map[string]string{"X-RateLimit-Remaining-Minute": "1"})
	h.expect(h.do(h.set, &plugin.Context{}), 200, map[string]string{"X-RateLimit-Remaining-Minute": "0"})
	h.expect(h.do(h.set, &plugin.Context{}), 429, nil)
	if n, _ := h.store.Get("p1:192.0.2.1", ratelimit.Minute, h.now); n != 2 {
		t.Errorf("local store counted %d, want 2", n)
	}
}

func TestSlidingLocal(t *testing.T) {
	start := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, "p1", `{"minute":10,"window_type":"sliding"}`, start.Add(-30*time.Second))
	for range 10 {
		h.expect(h.do(h.set, &plugin.Context{}), 200, nil)
	}
	h.expect(h.do(h.set, &plugin.Context{}), 429, nil)
	// A quarter into the next minute the previous one still weighs 7.5:
	// two more fit (0, 1 < 2.5), the third does not.
	h.now = start.Add(15 * time.Second)
	h.expect(h.do(h.set, &plugin.Context{}), 200, map[string]string{"X-RateLimit-Remaining-Minute": "2", "RateLimit-Reset": "45"})
	h.expect(h.do(h.set, &plugin.Context{}), 200, map[string]string{"X-RateLimit-Remaining-Minute": "1"})
	h.expect(h.do(h.set, &plugin.Context{}), 200, map[string]string{"X-RateLimit-Remaining-Minute": "0"})
	h.expect(h.do(h.set, &plugin.Context{}), 429, nil)
	// Fixed windows would have admitted ten.
	h.now = start.Add(45 * time.Second) // 2.5 of the previous 10 weigh: 3 + 2.5 < 10 → 5 more
	for range 5 {
		h.expect(h.do(h.set, &plugin.Context{}), 200, nil)
	}
	h.expect(h.do(h.set, &plugin.Context{}), 429, nil)
}

func TestExactQuotas(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	f := newFakeShared(t)
	cfg := `{"minute":3,"day":5,"policy":"cluster","sync_rate":0}`
	for i, want := range []int{200, 200, 200, 429} {
		resp := run(t, cfg, plugin.Env{Shared: f}, now)
		if resp.Status() != want {
			t.Fatalf("request %d: status %d, want %d", i, resp.Status(), want)
		}
	}
	if got := fmt.Sprint(f.takes); got != "[minute day minute day minute day minute]" {
		t.Errorf("takes %s: the minute stops the fourth before the day is counted", got)
	}
	// Budget-based counting is not used in exact mode.
	if n, _ := f.Local.Get("p1:192.0.2.1", ratelimit.Minute, now); n != 0 || len(f.limits) != 0 {
		t.Errorf("counted %d, budgets asked %v", n, f.limits)
	}
	// The next minute: the day has 2 left.
	now = now.Add(time.Minute)
	f.exact[ratelimit.Minute] = 0
	resp := run(t, cfg, plugin.Env{Shared: f}, now)
	if resp.Status() != 200 || resp.Header("X-RateLimit-Remaining-Day") != "1" || resp.Header("RateLimit-Remaining") != "1" {
		t.Errorf("status %d, day remaining %q, RateLimit-Remaining %q", resp.Status(), resp.Header("X-RateLimit-Remaining-Day"), resp.Header("RateLimit-Remaining"))
	}
	f.exact[ratelimit.Minute] = 3
	resp = run(t, cfg, plugin.Env{Shared: f}, now)
	if resp.Status() != 429 || resp.Header("X-RateLimit-Remaining-Day") != "" || resp.Header("RateLimit-Limit") != "3" {
		t.Errorf("stopped by the minute: status %d, day header %q (the day was not checked), RateLimit-Limit %q",
			resp.Status(), resp.Header("X-RateLimit-Remaining-Day"), resp.Header("RateLimit-Limit"))
	}
}

func TestClusterFaultTolerance(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	unsynced := fmt.Errorf("sync failed: %w", ratelimit.ErrUnsynced)
	tests := []struct {
		name   string
		config string
		err    error
		budget int64
		status int
	}{
		{"tolerant uses the local answer: room", `{"minute":5,"policy":"cluster"}`, unsynced, 3, 200},
		{"tolerant uses the local answer: full", `{"minute":5,"policy":"cluster"}`, unsynced, 0, 429},
		{"intolerant answers 500", `{"minute":5,"policy":"cluster","fault_tolerant":false}`, unsynced, 3, 500},
		{"tolerant lets other errors through", `{"minute":5,"policy":"cluster"}`, fmt.Errorf("broken"), 0, 200},
		{"exact tolerant uses the local answer", `{"minute":5,"policy":"cluster","sync_rate":0}`, unsynced, 0, 200},
		{"exact intolerant answers 500", `{"minute":5,"policy":"cluster","sync_rate":0,"fault_tolerant":false}`, unsynced, 0, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeShared(t)
			f.err = tt.err
			f.budget[ratelimit.Minute] = tt.budget
			resp := run(t, tt.config, plugin.Env{Shared: f}, now)
			if resp.Status() != tt.status {
				t.Fatalf("status %d, want %d", resp.Status(), tt.status)
			}
			if tt.status == 500 && string(resp.Body()) != `{"message":"An unexpected error occurred"}` {
				t.Errorf("body %s", resp.Body())
			}
		})
	}
}
