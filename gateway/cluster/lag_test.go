package cluster

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/lockedbuffer"

	"github.com/gocql/gocql"
)

var errAway = errors.New("cassandra is away")

func noSession() (*gocql.Session, error) { return nil, errAway }

func TestLagTracker(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		at      int    // ms after t0
		latest  uint64 // the maximum read then
		wantBar uint64
		wantOK  bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "no verdict before a grace period of watching",
			steps: []step{
				{at: 0, latest: 5},
				{at: 3999, latest: 5},
				{at: 4000, latest: 5, wantBar: 5, wantOK: true},
			},
		},
		{
			name: "a new maximum counts only after the grace period",
			steps: []step{
				{at: 0, latest: 5},
				{at: 4000, latest: 5, wantBar: 5, wantOK: true},
				{at: 5000, latest: 7, wantBar: 5, wantOK: true},
				{at: 8999, latest: 7, wantBar: 5, wantOK: true},
				{at: 9000, latest: 7, wantBar: 7, wantOK: true},
			},
		},
		{
			name: "steady writes: the bar trails the maximum by the grace period",
			steps: []step{
				{at: 0, latest: 1},
				{at: 2000, latest: 2},
				{at: 4000, latest: 3, wantBar: 1, wantOK: true},
				{at: 6000, latest: 4, wantBar: 2, wantOK: true},
				{at: 8000, latest: 5, wantBar: 3, wantOK: true},
			},
		},
		{
			name: "a falling maximum caps the bar",
			steps: []step{
				{at: 0, latest: 9},
				{at: 5000, latest: 4, wantBar: 4, wantOK: true},
				{at: 9000, latest: 4, wantBar: 4, wantOK: true},
			},
		},
		{
			name: "clock stepping back restarts the watch",
			steps: []step{
				{at: 0, latest: 3},
				{at: 5000, latest: 3, wantBar: 3, wantOK: true},
				{at: 1000, latest: 3},
				{at: 5000, latest: 3, wantBar: 3, wantOK: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := lagTracker{grace: 4 * time.Second}
			for i, s := range tt.steps {
				bar, ok := l.observe(at(s.at), s.latest)
				if bar != s.wantBar || ok != s.wantOK {
					t.Fatalf("step %d (at %dms, latest %d): bar %d ok %v, want %d %v", i, s.at, s.latest, bar, ok, s.wantBar, s.wantOK)
				}
			}
			if len(l.obs) > len(tt.steps) {
				t.Fatalf("kept %d observations for %d steps", len(l.obs), len(tt.steps))
			}
		})
	}
}

func TestLagTrackerBounded(t *testing.T) {
	l := lagTracker{grace: time.Second}
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 10_000 {
		l.observe(t0.Add(time.Duration(i)*10*time.Millisecond), uint64(i))
	}
	// One observation per 10ms over a one-second grace: about 100 kept.
	if len(l.obs) > 102 {
		t.Fatalf("kept %d observations, want those of the last grace period only", len(l.obs))
	}
}

func TestStatusShape(t *testing.T) {
	seen := time.Unix(1_700_000_100, 500_000_000)
	st := newStatus("prod", "n2", []NodeStatus{
		{NodeInfo: NodeInfo{ID: "n1", Hostname: "h1", ProxyListen: "0.0.0.0:8000", AdminListen: "127.0.0.1:8001", Version: "0.3.0",
			StartedAt: time.Unix(1_700_000_000, 0)}, ConfigVersion: 12, LastSeen: seen},
		{NodeInfo: NodeInfo{ID: "n2"}, ConfigVersion: 9, LastSeen: seen, Lagging: true},
	})
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"cluster":"prod","nodes":[` +
		`{"id":"n1","hostname":"h1","proxy_listen":"0.0.0.0:8000","admin_listen":"127.0.0.1:8001","version":"0.3.0","config_version":12,"last_seen":1700000100,"started_at":1700000000,"lagging":false,"sync_status":"normal"},` +
		`{"id":"n2","hostname":"","proxy_listen":"","admin_listen":"","version":"","config_version":9,"last_seen":1700000100,"started_at":0,"lagging":true,"sync_status":"lagging"}` +
		`],"latest_config_version":12,"this_node":"n2"}`
	if string(raw) != want {
		t.Fatalf("status JSON\n got %s\nwant %s", raw, want)
	}
	empty, _ := json.Marshal(newStatus("default", "n1", nil))
	if string(empty) != `{"cluster":"default","nodes":[],"latest_config_version":0,"this_node":"n1"}` {
		t.Fatalf("empty status: %s", empty)
	}
}

func TestNewRegistryOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    RegistryOptions
		wantErr string
		check   func(t *testing.T, r *Registry)
	}{
		{name: "no session", opts: RegistryOptions{Node: NodeInfo{ID: "n"}}, wantErr: "Session is required"},
		{name: "no id", opts: RegistryOptions{Session: noSession}, wantErr: "Node.ID is required"},
		{name: "ttl not above heartbeat", opts: RegistryOptions{Session: noSession, Node: NodeInfo{ID: "n"}, Heartbeat: 2 * time.Second, TTL: 2 * time.Second},
			wantErr: "TTL 2s must exceed Heartbeat 2s"},
		{name: "negative", opts: RegistryOptions{Session: noSession, Node: NodeInfo{ID: "n"}, Heartbeat: -1}, wantErr: "must not be negative"},
		{name: "defaults", opts: RegistryOptions{Session: noSession, Node: NodeInfo{ID: "n"}}, check: func(t *testing.T, r *Registry) {
			if r.opts.Cluster != "default" || r.opts.Heartbeat != 2*time.Second || r.opts.TTL != 10*time.Second ||
				r.ttlSecs != 10 || r.lag.grace != 4*time.Second || r.opts.Node.StartedAt.IsZero() {
				t.Fatalf("defaults: %+v ttl %d grace %v", r.opts, r.ttlSecs, r.lag.grace)
			}
		}},
		{name: "ttl follows a long heartbeat", opts: RegistryOptions{Session: noSession, Node: NodeInfo{ID: "n"}, Heartbeat: 5 * time.Second},
			check: func(t *testing.T, r *Registry) {
				if r.opts.TTL != 15*time.Second {
					t.Fatalf("TTL %v, want 15s", r.opts.TTL)
				}
			}},
		{name: "ttl rounded up to seconds", opts: RegistryOptions{Session: noSession, Node: NodeInfo{ID: "n"}, Heartbeat: 100 * time.Millisecond, TTL: 1500 * time.Millisecond},
			check: func(t *testing.T, r *Registry) {
				if r.ttlSecs != 2 {
					t.Fatalf("TTL %ds, want 2s", r.ttlSecs)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRegistry(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewRegistry: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewRegistry: %v", err)
			}
			tt.check(t, r)
		})
	}
}

// TestStartWithCassandraAway: a node starts while Cassandra is down; the
// registry keeps trying every heartbeat, logs the failure once, and Close
// stops it (goleak checks) however often it is called.
func TestStartWithCassandraAway(t *testing.T) {
	var calls atomic.Int64
	var logs lockedbuffer.Buffer
	r, err := NewRegistry(RegistryOptions{
		Session:   func() (*gocql.Session, error) { calls.Add(1); return nil, errAway },
		Node:      NodeInfo{ID: "n1"},
		Heartbeat: 10 * time.Millisecond,
		TTL:       time.Second,
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	r.Start()
	for deadline := time.Now().Add(10 * time.Second); calls.Load() < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("session asked %d times, want a retry every heartbeat", calls.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.Start() // after Close: nothing
	if n := strings.Count(logs.String(), "heartbeat failed"); n != 1 {
		t.Errorf("logged the failure %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), errAway.Error()) {
		t.Errorf("log does not say why:\n%s", logs.String())
	}
	if r.LiveNodes() != 1 || !r.LastHeartbeat().IsZero() {
		t.Errorf("LiveNodes %d, LastHeartbeat %v with no Cassandra", r.LiveNodes(), r.LastHeartbeat())
	}
	if _, err := r.ClusteringStatus(t.Context()); !errors.Is(err, errAway) {
		t.Errorf("ClusteringStatus: %v, want %v", err, errAway)
	}
}

func TestCloseWithoutStart(t *testing.T) {
	r, err := NewRegistry(RegistryOptions{Session: noSession, Node: NodeInfo{ID: "n"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.Start()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}
