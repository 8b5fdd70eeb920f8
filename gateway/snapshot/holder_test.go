package snapshot

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/gateway/metrics"
	"github.com/tollgate/tollgate/gateway/route"
	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/memstore"
	"github.com/tollgate/tollgate/gateway/upstream"
	"github.com/tollgate/tollgate/internal/entity"
)

// flakyStore fails Snapshot while down is set.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

func (f *flakyStore) Snapshot(ctx context.Context) (*store.Snapshot, error) {
	if f.down.Load() {
		return nil, errStoreDown
	}
	return f.Store.Snapshot(ctx)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func matches(s *Snapshot, path string) bool {
	_, ok := s.Router.Match(&route.Request{Protocol: "http", Method: "GET", Path: path})
	return ok
}

func TestHolderFollowsStore(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	defer st.Close()
	must(t, st.Create(ctx, &entity.Service{Meta: meta("s"), Protocol: "http", Host: "up", Port: 80}))

	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	ups := upstream.NewManager(upstream.Options{})
	defer ups.Close()
	h := NewHolder(st, Deps{Metrics: m, Upstreams: ups})
	if h.Load() != nil {
		t.Fatal("Load before Start is not nil")
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	first := h.Load()
	if first == nil || matches(first, "/a") {
		t.Fatal("first snapshot wrong")
	}
	v0, at0 := h.Applied()
	if v0 != first.Version || at0.IsZero() {
		t.Fatalf("Applied = %d, %v", v0, at0)
	}

	must(t, st.Create(ctx, &entity.Route{Meta: meta("r"), Protocols: []string{"http"}, Paths: []string{"/a"}, Service: &entity.Ref{ID: "s"}}))
	waitFor(t, "route /a", func() bool { return matches(h.Load(), "/a") })
	if first.Router.Len() != 0 {
		t.Fatal("the old snapshot changed")
	}
	v1, _ := h.Applied()
	if v1 <= v0 {
		t.Fatalf("version did not grow: %d → %d", v0, v1)
	}
	if got := configVersion(t, reg); uint64(got) != v1 {
		t.Fatalf("config version gauge = %v, want %d", got, v1)
	}

	// Upstreams reach the manager.
	must(t, st.Create(ctx, &entity.Upstream{Meta: meta("u"), Name: "backend", Algorithm: "round-robin", Slots: 100}))
	waitFor(t, "upstream backend", func() bool { _, ok := ups.Lookup("default", "backend"); return ok })

	// A burst of changes ends at the last one.
	for i := 0; i < 20; i++ {
		must(t, st.Create(ctx, &entity.Route{Meta: meta("burst-" + string(rune('a'+i))), Protocols: []string{"http"}, Paths: []string{"/burst/" + string(rune('a'+i))}, Service: &entity.Ref{ID: "s"}}))
	}
	want, _ := st.Version(ctx)
	waitFor(t, "last version of the burst", func() bool { v, _ := h.Applied(); return v == want })
	if !matches(h.Load(), "/burst/t") {
		t.Fatal("last route of the burst missing")
	}
}

// configVersion reads tollgate_config_version from reg.
func configVersion(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "tollgate_config_version" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no tollgate_config_version")
	return 0
}

func TestHolderKeepsLastGoodSnapshot(t *testing.T) {
	ctx := context.Background()
	st := &flakyStore{Store: memstore.New()}
	defer st.Close()
	must(t, st.Create(ctx, &entity.Service{Meta: meta("s"), Protocol: "http", Host: "up", Port: 80}))
	must(t, st.Create(ctx, &entity.Route{Meta: meta("r1"), Protocols: []string{"http"}, Paths: []string{"/one"}, Service: &entity.Ref{ID: "s"}}))
	h := NewHolder(st, Deps{})
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	st.down.Store(true)
	must(t, st.Create(ctx, &entity.Route{Meta: meta("r2"), Protocols: []string{"http"}, Paths: []string{"/two"}, Service: &entity.Ref{ID: "s"}}))
	time.Sleep(50 * time.Millisecond)
	if !matches(h.Load(), "/one") || matches(h.Load(), "/two") {
		t.Fatal("snapshot changed while the store was down")
	}
	// Back up: the retry picks the change up without another write.
	st.down.Store(false)
	waitFor(t, "route /two after recovery", func() bool { return matches(h.Load(), "/two") })
}

func TestHolderStartFails(t *testing.T) {
	st := &flakyStore{Store: memstore.New()}
	defer st.Close()
	st.down.Store(true)
	h := NewHolder(st, Deps{})
	if err := h.Start(context.Background()); err == nil {
		t.Fatal("Start succeeded with the store down")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestHolderLifecycle(t *testing.T) {
	st := memstore.New()
	defer st.Close()
	h := NewHolder(st, Deps{})
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
	for i := 0; i < 2; i++ {
		if err := h.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if h.Load() == nil {
		t.Fatal("snapshot gone after Close")
	}
	if err := h.Start(context.Background()); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
