package directory

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/lockedbuffer"

	"github.com/google/uuid"

	"github.com/tollgate/tollgate/analytics/api"
	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/bolt"
	"github.com/tollgate/tollgate/gateway/store/memstore"
	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
)

// stores are the config stores the directory is tested over.
var stores = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"memstore", func(t *testing.T) store.Store {
		st := memstore.New()
		t.Cleanup(func() { _ = st.Close() })
		return st
	}},
	{"bolt", func(t *testing.T) store.Store {
		st, err := bolt.Open(filepath.Join(t.TempDir(), "config.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}},
}

// eachStore runs fn against every store.
func eachStore(t *testing.T, fn func(t *testing.T, st store.Store)) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) { fn(t, s.open(t)) })
	}
}

func open(t *testing.T, st store.Store) *Directory {
	t.Helper()
	d, err := New(t.Context(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// writer creates entities with their identity filled in.
type writer struct {
	t  *testing.T
	st store.Store
}

func (w writer) create(ws string, e entity.Entity) entity.Entity {
	w.t.Helper()
	m := e.GetMeta()
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	m.Workspace, m.CreatedAt, m.UpdatedAt = ws, 1700000000, 1700000000
	if err := w.st.Create(context.Background(), e); err != nil {
		w.t.Fatalf("create %s: %v", e.Kind(), err)
	}
	return e
}

func (w writer) consumer(ws, username string) *entity.Consumer {
	return w.create(ws, &entity.Consumer{Username: username}).(*entity.Consumer)
}

func (w writer) service(ws, name string) *entity.Service {
	return w.create(ws, &entity.Service{Name: name, Protocol: "http", Host: name + ".internal", Port: 80}).(*entity.Service)
}

func (w writer) token(ws, name, secret string, consumer *entity.Consumer, expiresAt int64) *entity.AnalyticsToken {
	t := &entity.AnalyticsToken{Name: name, TokenHash: validate.HashKey(secret), TokenPrefix: secret[:8], ExpiresAt: expiresAt}
	if consumer != nil {
		t.Consumer = &entity.Ref{ID: consumer.ID}
	}
	return w.create(ws, t).(*entity.AnalyticsToken)
}

// caughtUp waits until d answers from st's current config version. The
// deadline only bounds a broken directory.
func caughtUp(t *testing.T, d *Directory, st store.Store) {
	t.Helper()
	want, err := st.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "directory at config version", func() bool { return d.Version() >= want })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		w := writer{t, st}
		alice := w.consumer("default", "alice")
		provider := w.token("default", "grafana", "tga_provider-secret-0001", nil, 0)
		consumerTok := w.token("default", "", "tga_alice-secret-000001", alice, 0)
		expired := w.token("default", "old", "tga_expired-secret-0001", nil, 1000)
		w.token("default", "orphan", "tga_orphan-secret-00001", &entity.Consumer{Meta: entity.Meta{ID: uuid.NewString()}}, 0)
		d := open(t, st)

		tests := []struct {
			name   string
			secret string
			want   api.Token
			ok     bool
		}{
			{"provider token", "tga_provider-secret-0001",
				api.Token{ID: provider.ID, Name: "grafana", Workspace: "default"}, true},
			{"consumer token", "tga_alice-secret-000001",
				api.Token{ID: consumerTok.ID, Workspace: "default", ConsumerID: alice.ID}, true},
			{"expired token is returned with its expiry", "tga_expired-secret-0001",
				api.Token{ID: expired.ID, Name: "old", Workspace: "default", ExpiresAt: 1000}, true},
			{"token of a missing consumer", "tga_orphan-secret-00001", api.Token{}, false},
			{"unknown token", "tga_nobody", api.Token{}, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, ok := d.Token(validate.HashKey(tt.secret))
				if ok != tt.ok || got != tt.want {
					t.Errorf("Token = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
				}
			})
		}
		if _, ok := d.Token("tga_provider-secret-0001"); ok {
			t.Error("a token must be looked up by its hash, not itself")
		}
	})
}

func TestNames(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		w := writer{t, st}
		svc := w.service("default", "orders")
		unnamed := w.create("default", &entity.Service{Protocol: "http", Host: "x.internal", Port: 80})
		rt := w.create("default", &entity.Route{Name: "orders-api", Protocols: []string{"http"}, Paths: []string{"/"}, Service: &entity.Ref{ID: svc.ID}})
		bob := w.consumer("default", "bob")
		customOnly := w.create("default", &entity.Consumer{CustomID: "c-42"})
		d := open(t, st)

		named := func(e entity.Entity, name string) api.Named {
			return api.Named{ID: e.GetMeta().ID, Name: name, Workspace: "default"}
		}
		tests := []struct {
			name      string
			kind      entity.Kind
			ws, query string
			want      api.Named
			ok        bool
		}{
			{"service by id", entity.KindService, "default", svc.ID, named(svc, "orders"), true},
			{"service by name", entity.KindService, "default", "orders", named(svc, "orders"), true},
			{"unnamed service by id", entity.KindService, "default", unnamed.GetMeta().ID, named(unnamed, ""), true},
			{"route by name", entity.KindRoute, "default", "orders-api", named(rt, "orders-api"), true},
			{"consumer by username", entity.KindConsumer, "default", "bob", named(bob, "bob"), true},
			{"consumer without username by id", entity.KindConsumer, "default", customOnly.GetMeta().ID, named(customOnly, ""), true},
			{"id in every workspace", entity.KindService, "", svc.ID, named(svc, "orders"), true},
			{"no names across workspaces", entity.KindService, "", "orders", api.Named{}, false},
			{"wrong kind", entity.KindRoute, "default", "orders", api.Named{}, false},
			{"custom id is not a name", entity.KindConsumer, "default", "c-42", api.Named{}, false},
			{"kind the directory does not name", entity.KindUpstream, "default", "orders", api.Named{}, false},
			{"unknown workspace", entity.KindService, "team-x", "orders", api.Named{}, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, ok := d.Entity(tt.kind, tt.ws, tt.query)
				if ok != tt.ok || got != tt.want {
					t.Errorf("Entity = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
				}
			})
		}
	})
}

func TestEntitiesSorted(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		w := writer{t, st}
		ids := []string{"00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000001"}
		b := w.consumer("default", "bravo")
		w.create("default", &entity.Consumer{Meta: entity.Meta{ID: ids[0]}, CustomID: "x"})
		w.create("default", &entity.Consumer{Meta: entity.Meta{ID: ids[1]}, CustomID: "y"})
		a := w.consumer("default", "alpha")
		c := w.consumer("team-a", "charlie")
		d := open(t, st)

		got := d.Entities(entity.KindConsumer, "default")
		want := []api.Named{
			{ID: ids[1], Workspace: "default"},
			{ID: ids[0], Workspace: "default"},
			{ID: a.ID, Name: "alpha", Workspace: "default"},
			{ID: b.ID, Name: "bravo", Workspace: "default"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("default consumers:\n got %+v\nwant %+v", got, want)
		}
		all := d.Entities(entity.KindConsumer, "")
		if len(all) != 5 || all[4] != (api.Named{ID: c.ID, Name: "charlie", Workspace: "team-a"}) {
			t.Errorf("every workspace's consumers: %+v", all)
		}
		if got := d.Entities(entity.KindService, "default"); len(got) != 0 {
			t.Errorf("services: %+v", got)
		}
		// The result is the caller's.
		got[0].Name = "changed"
		if d.Entities(entity.KindConsumer, "default")[0].Name != "" {
			t.Error("Entities shares its slice with the index")
		}
	})
}

func TestWorkspaceIsolation(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		w := writer{t, st}
		a := w.service("team-a", "orders")
		b := w.service("team-b", "orders")
		ca := w.consumer("team-a", "alice")
		w.consumer("team-b", "alice")
		ta := w.token("team-a", "dash", "tga_team-a-secret-00001", nil, 0)
		tb := w.token("team-b", "dash", "tga_team-b-secret-00001", nil, 0)
		d := open(t, st)

		for ws, want := range map[string]string{"team-a": a.ID, "team-b": b.ID} {
			got, ok := d.Entity(entity.KindService, ws, "orders")
			if !ok || got.ID != want || got.Workspace != ws {
				t.Errorf("orders of %s = %+v, %v", ws, got, ok)
			}
			if n := d.Entities(entity.KindService, ws); len(n) != 1 || n[0].ID != want {
				t.Errorf("services of %s = %+v", ws, n)
			}
		}
		if _, ok := d.Entity(entity.KindService, "team-a", b.ID); ok {
			t.Error("an id of team-b found in team-a")
		}
		if got, ok := d.Entity(entity.KindService, "", b.ID); !ok || got.Workspace != "team-b" {
			t.Errorf("team-b's service by id in every workspace = %+v, %v", got, ok)
		}
		if got, _ := d.Entity(entity.KindConsumer, "team-b", "alice"); got.ID == ca.ID {
			t.Error("team-b's alice is team-a's")
		}
		for _, tc := range []struct {
			secret string
			want   *entity.AnalyticsToken
		}{{"tga_team-a-secret-00001", ta}, {"tga_team-b-secret-00001", tb}} {
			got, ok := d.Token(validate.HashKey(tc.secret))
			if !ok || got.ID != tc.want.ID || got.Workspace != tc.want.Workspace {
				t.Errorf("token of %s = %+v, %v", tc.want.Workspace, got, ok)
			}
		}
	})
}

// TestSameIDInTwoWorkspaces: declarative imports derive ids from names,
// so the same consumer in two workspaces has one id.
func TestSameIDInTwoWorkspaces(t *testing.T) {
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	w := writer{t, st}
	id := uuid.NewString()
	w.create("team-b", &entity.Consumer{Meta: entity.Meta{ID: id}, Username: "alice"})
	w.create("team-a", &entity.Consumer{Meta: entity.Meta{ID: id}, Username: "alice"})
	d := open(t, st)
	for range 10 {
		if got, ok := d.Entity(entity.KindConsumer, "", id); !ok || got.Workspace != "team-a" {
			t.Fatalf("Entity = %+v, %v; want team-a's, every time", got, ok)
		}
	}
	for _, ws := range []string{"team-a", "team-b"} {
		if got, ok := d.Entity(entity.KindConsumer, ws, id); !ok || got.Workspace != ws {
			t.Errorf("Entity in %s = %+v, %v", ws, got, ok)
		}
	}
}

func TestFollowsChanges(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		w := writer{t, st}
		d := open(t, st)
		if _, ok := d.Entity(entity.KindService, "default", "orders"); ok {
			t.Fatal("empty store, yet a service")
		}

		svc := w.service("default", "orders")
		alice := w.consumer("default", "alice")
		tok := w.token("default", "alice-dash", "tga_alice-secret-000001", alice, 0)
		caughtUp(t, d, st)
		if _, ok := d.Entity(entity.KindService, "default", "orders"); !ok {
			t.Error("created service missing")
		}
		if got, ok := d.Token(tok.TokenHash); !ok || got.ConsumerID != alice.ID {
			t.Errorf("created token = %+v, %v", got, ok)
		}

		t.Run("updates", func(t *testing.T) {
			svc.Name = "billing"
			if err := st.Update(ctx, svc); err != nil {
				t.Fatal(err)
			}
			tok.ExpiresAt = 1900000000
			if err := st.Update(ctx, tok); err != nil {
				t.Fatal(err)
			}
			caughtUp(t, d, st)
			if _, ok := d.Entity(entity.KindService, "default", "orders"); ok {
				t.Error("old name still found")
			}
			if got, ok := d.Entity(entity.KindService, "default", "billing"); !ok || got.ID != svc.ID {
				t.Errorf("renamed service = %+v, %v", got, ok)
			}
			if got, _ := d.Token(tok.TokenHash); got.ExpiresAt != 1900000000 {
				t.Errorf("token expiry = %d", got.ExpiresAt)
			}
		})

		t.Run("deletes", func(t *testing.T) {
			for _, e := range []entity.Entity{tok, alice, svc} {
				if err := st.Delete(ctx, e.Kind(), "default", e.GetMeta().ID); err != nil {
					t.Fatal(err)
				}
			}
			caughtUp(t, d, st)
			if _, ok := d.Token(tok.TokenHash); ok {
				t.Error("deleted token still found")
			}
			if _, ok := d.Entity(entity.KindConsumer, "", alice.ID); ok {
				t.Error("deleted consumer still found")
			}
			if n := d.Entities(entity.KindService, ""); len(n) != 0 {
				t.Errorf("services after delete: %+v", n)
			}
		})

		t.Run("replace", func(t *testing.T) {
			next := &entity.Service{Meta: entity.Meta{ID: uuid.NewString(), Workspace: "default"}, Name: "inventory", Protocol: "http", Host: "i", Port: 80}
			if err := st.Replace(ctx, "default", []entity.Entity{next}); err != nil {
				t.Fatal(err)
			}
			caughtUp(t, d, st)
			if got := d.Entities(entity.KindService, "default"); len(got) != 1 || got[0].Name != "inventory" {
				t.Errorf("services after replace: %+v", got)
			}
		})
	})
}

// flakyStore fails Snapshot while fail is set.
type flakyStore struct {
	store.Store
	fail atomic.Bool
}

func (f *flakyStore) Snapshot(ctx context.Context) (*store.Snapshot, error) {
	if f.fail.Load() {
		return nil, errors.New("config database unreachable")
	}
	return f.Store.Snapshot(ctx)
}

func TestFailedRebuildKeepsLastIndex(t *testing.T) {
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	st := &flakyStore{Store: mem}
	w := writer{t, st}
	first := w.token("default", "first", "tga_first-secret-000001", nil, 0)

	var logs lockedbuffer.Buffer
	d, err := newDirectory(t.Context(), st, slog.New(slog.NewTextHandler(&logs, nil)), time.Millisecond, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })

	st.fail.Store(true)
	second := w.token("default", "second", "tga_second-secret-00001", nil, 0)
	waitFor(t, "a failed rebuild", func() bool { return strings.Count(logs.String(), "rebuild failed") >= 2 })
	if _, ok := d.Token(first.TokenHash); !ok {
		t.Error("a failed rebuild lost the last good index")
	}
	if _, ok := d.Token(second.TokenHash); ok {
		t.Error("a failed rebuild changed the index")
	}
	if !strings.Contains(logs.String(), "config database unreachable") {
		t.Errorf("log does not say why:\n%s", logs.String())
	}

	// The store recovers; the retry picks the change up with no further
	// notification.
	st.fail.Store(false)
	waitFor(t, "the retried rebuild", func() bool { _, ok := d.Token(second.TokenHash); return ok })
}

func TestNewFailsWithoutConfig(t *testing.T) {
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	st := &flakyStore{Store: mem}
	st.fail.Store(true)
	if d, err := New(t.Context(), st, nil); err == nil {
		_ = d.Close()
		t.Fatal("New succeeded without a config")
	}
	if _, err := New(t.Context(), nil, nil); err == nil {
		t.Fatal("New succeeded without a store")
	}
}

func TestClose(t *testing.T) {
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	w := writer{t, st}
	tok := w.token("default", "", "tga_close-secret-000001", nil, 0)
	d, err := New(t.Context(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := d.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	// The last index still answers (goleak checks the goroutine ended).
	if _, ok := d.Token(tok.TokenHash); !ok {
		t.Error("lookups after Close lost the index")
	}
}
