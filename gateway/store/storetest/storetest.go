package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/internal/entity"
)

// Run runs the conformance suite against stores made by open. Each subtest
// opens a fresh, empty store; Run closes it when the subtest ends (Close is
// idempotent, so open may register its own cleanup as well).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CRUD", testCRUD},
		{"CreateRequiresIdentity", testCreateRequiresIdentity},
		{"NotRetained", testNotRetained},
		{"WorkspaceIsolation", testWorkspaceIsolation},
		{"ConflictOnID", testConflictOnID},
		{"ConflictOnUniqueKeys", testConflictOnUniqueKeys},
		{"CompositeKeys", testCompositeKeys},
		{"KeyFreedAfterDelete", testKeyFreedAfterDelete},
		{"KeyFreedAfterUpdate", testKeyFreedAfterUpdate},
		{"UpdateConflictChangesNothing", testUpdateConflictChangesNothing},
		{"ListStableOrder", testListStableOrder},
		{"ListPagination", testListPagination},
		{"ListDefaultPageSize", testListDefaultPageSize},
		{"ListBadOffset", testListBadOffset},
		{"ListTags", testListTags},
		{"ListRefs", testListRefs},
		{"ListRefsPaged", testListRefsPaged},
		{"Replace", testReplace},
		{"ReplaceConflictChangesNothing", testReplaceConflictChangesNothing},
		{"ReplaceEmpty", testReplaceEmpty},
		{"Snapshot", testSnapshot},
		{"VersionGrows", testVersionGrows},
		{"Subscribe", testSubscribe},
		{"ContextCanceled", testContextCanceled},
		{"ConcurrentUniqueCreate", testConcurrentUniqueCreate},
		{"Close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

const (
	wsA = "team-a"
	wsB = "team-b"
)

// kinds returns the entity kinds stored in workspaces.
func kinds() []entity.Kind {
	return []entity.Kind{
		entity.KindService, entity.KindRoute, entity.KindConsumer, entity.KindPlugin,
		entity.KindUpstream, entity.KindTarget, entity.KindKeyAuth, entity.KindBasicAuth,
		entity.KindACL, entity.KindCertificate, entity.KindSNI, entity.KindAnalyticsToken,
	}
}

func newID() string { return uuid.NewString() }

// parentID is the id that sample entities reference; the store does not
// check references, so it need not exist.
const parentID = "9a1c7c36-0d3f-4d8e-9b0e-3f6f2d7a9c11"

// sample returns an entity of kind k in workspace ws whose unique keys are
// all derived from n.
func sample(k entity.Kind, ws string, n int) entity.Entity {
	meta := entity.Meta{ID: newID(), CreatedAt: 1700000000 + int64(n), UpdatedAt: 1700000000 + int64(n), Workspace: ws}
	name := fmt.Sprintf("%s-%d", k, n)
	parent := &entity.Ref{ID: parentID}
	switch k {
	case entity.KindWorkspace:
		meta.Workspace = ""
		return &entity.Workspace{Meta: meta, Name: fmt.Sprintf("ws-%d", n)}
	case entity.KindService:
		return &entity.Service{Meta: meta, Name: name, Protocol: "http", Host: "example.com", Port: 80}
	case entity.KindRoute:
		return &entity.Route{Meta: meta, Name: name, Protocols: []string{"http"}, Paths: []string{"/" + name}, Service: parent}
	case entity.KindConsumer:
		return &entity.Consumer{Meta: meta, Username: name, CustomID: "custom-" + name}
	case entity.KindPlugin:
		return &entity.Plugin{Meta: meta, Name: name, InstanceName: "instance-" + name,
			Config: json.RawMessage(`{"minute":5}`), Protocols: []string{"http"}, Service: parent}
	case entity.KindUpstream:
		return &entity.Upstream{Meta: meta, Name: name, Algorithm: "round-robin", Slots: 10000}
	case entity.KindTarget:
		return &entity.Target{Meta: meta, Target: name + ":8000", Weight: new(100), Upstream: parent}
	case entity.KindKeyAuth:
		return &entity.KeyAuthCredential{Meta: meta, KeyHash: fmt.Sprintf("%064x", n+1), KeyPrefix: "abcd", Consumer: parent}
	case entity.KindBasicAuth:
		return &entity.BasicAuthCredential{Meta: meta, Username: name, PasswordHash: "$2a$10$hash", Consumer: parent}
	case entity.KindACL:
		return &entity.ACLGroup{Meta: meta, Group: name, Consumer: parent}
	case entity.KindCertificate:
		return &entity.Certificate{Meta: meta, Cert: "cert " + name, Key: "key " + name}
	case entity.KindSNI:
		return &entity.SNI{Meta: meta, Name: name + ".example.com", Certificate: parent}
	case entity.KindAnalyticsToken:
		return &entity.AnalyticsToken{Meta: meta, Name: name, TokenHash: fmt.Sprintf("%064x", n+1),
			TokenPrefix: "tga_abcd", Consumer: parent, ExpiresAt: 1800000000 + int64(n)}
	}
	panic("storetest: no sample for kind " + string(k))
}

// clone copies e through its JSON form, keeping the workspace.
func clone(t *testing.T, e entity.Entity) entity.Entity {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	c, err := entity.Decode(e.Kind(), b)
	if err != nil {
		t.Fatal(err)
	}
	c.GetMeta().Workspace = e.GetMeta().Workspace
	return c
}

// same reports whether two entities are equal as the Admin API shows them,
// and in the same workspace.
func same(t *testing.T, a, b entity.Entity) bool {
	t.Helper()
	if a == nil || b == nil {
		return a == b
	}
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return a.Kind() == b.Kind() && a.GetMeta().Workspace == b.GetMeta().Workspace && string(ja) == string(jb)
}

func mustSame(t *testing.T, got, want entity.Entity) {
	t.Helper()
	if !same(t, got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Fatalf("got %s (workspace %q)\nwant %s (workspace %q)", gj, wsOf(got), wj, wsOf(want))
	}
}

func wsOf(e entity.Entity) string {
	if e == nil {
		return ""
	}
	return e.GetMeta().Workspace
}

func mustCreate(t *testing.T, s store.Store, es ...entity.Entity) {
	t.Helper()
	for _, e := range es {
		if err := s.Create(context.Background(), e); err != nil {
			t.Fatalf("Create %s %s: %v", e.Kind(), e.GetMeta().ID, err)
		}
	}
}

func mustGet(t *testing.T, s store.Store, k entity.Kind, ws, id string) entity.Entity {
	t.Helper()
	e, err := s.Get(context.Background(), k, ws, id)
	if err != nil {
		t.Fatalf("Get %s %s/%s: %v", k, ws, id, err)
	}
	return e
}

func wantNotFound(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: err = %v, want ErrNotFound", what, err)
	}
}

// wantConflict checks err is a *ConflictError naming field (and, when not
// "", value).
func wantConflict(t *testing.T, err error, kind entity.Kind, field, value string) {
	t.Helper()
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err = %v, want a conflict on %s", err, field)
	}
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %#v, want a *store.ConflictError", err)
	}
	if ce.Kind != kind || ce.Field != field || value != "" && ce.Value != value {
		t.Fatalf("conflict = {%s %s %q}, want {%s %s %q}", ce.Kind, ce.Field, ce.Value, kind, field, value)
	}
}

// listAll pages through a listing with the given page size.
func listAll(t *testing.T, s store.Store, k entity.Kind, ws string, opts store.ListOptions) []entity.Entity {
	t.Helper()
	var all []entity.Entity
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("listing does not end")
		}
		p, err := s.List(context.Background(), k, ws, opts)
		if err != nil {
			t.Fatalf("List %s %s: %v", k, ws, err)
		}
		if opts.Size > 0 && len(p.Entities) > opts.Size {
			t.Fatalf("page of %d entities, size %d", len(p.Entities), opts.Size)
		}
		all = append(all, p.Entities...)
		if p.Next == "" {
			return all
		}
		if len(p.Entities) == 0 {
			t.Fatal("empty page with a next offset")
		}
		opts.Offset = p.Next
	}
}

func ids(es []entity.Entity) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.GetMeta().ID
	}
	return out
}

func sortedIDs(es []entity.Entity) []string {
	out := ids(es)
	slices.Sort(out)
	return out
}

// receive waits for a change signal; the timeout only bounds a broken store.
func receive(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

// drain empties a pending signal.
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}
