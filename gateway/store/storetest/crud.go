package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/internal/entity"
)

func testCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, k := range append(kinds(), entity.KindWorkspace) {
		t.Run(string(k), func(t *testing.T) {
			e := sample(k, wsA, 1)
			ws := e.GetMeta().Workspace
			id := e.GetMeta().ID
			mustCreate(t, s, e)
			mustSame(t, mustGet(t, s, k, ws, id), e)

			for field, value := range e.UniqueKeys() {
				got, err := s.GetByKey(ctx, k, ws, field, value)
				if err != nil {
					t.Fatalf("GetByKey %s=%q: %v", field, value, err)
				}
				mustSame(t, got, e)
				_, err = s.GetByKey(ctx, k, ws, field, value+"-missing")
				wantNotFound(t, err, "GetByKey of a missing value")
			}

			upd := clone(t, e)
			upd.GetMeta().Tags = []string{"updated"}
			upd.GetMeta().UpdatedAt++
			if err := s.Update(ctx, upd); err != nil {
				t.Fatalf("Update: %v", err)
			}
			mustSame(t, mustGet(t, s, k, ws, id), upd)

			if err := s.Delete(ctx, k, ws, id); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			_, err := s.Get(ctx, k, ws, id)
			wantNotFound(t, err, "Get after Delete")
			for field, value := range e.UniqueKeys() {
				_, err := s.GetByKey(ctx, k, ws, field, value)
				wantNotFound(t, err, "GetByKey after Delete")
			}
			wantNotFound(t, s.Delete(ctx, k, ws, id), "second Delete")
			wantNotFound(t, s.Update(ctx, upd), "Update after Delete")
			p, err := s.List(ctx, k, ws, store.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Entities) != 0 || p.Next != "" {
				t.Fatalf("List after Delete = %d entities, next %q", len(p.Entities), p.Next)
			}
		})
	}
}

// testCreateRequiresIdentity: the store refuses entities without an id, and
// non-workspace entities without a workspace.
func testCreateRequiresIdentity(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := sample(entity.KindService, wsA, 1)
	e.GetMeta().ID = ""
	if err := s.Create(ctx, e); err == nil {
		t.Error("Create without id succeeded")
	}
	e = sample(entity.KindService, "", 2)
	if err := s.Create(ctx, e); err == nil {
		t.Error("Create of a service without workspace succeeded")
	}
	if err := s.Create(ctx, nil); err == nil {
		t.Error("Create(nil) succeeded")
	}
	_, err := s.Get(ctx, entity.Kind("nonsense"), wsA, e.GetMeta().ID)
	if err == nil {
		t.Error("Get of an unknown kind succeeded")
	}
}

// testNotRetained: the store neither keeps the caller's entity nor shares
// the ones it returns.
func testNotRetained(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := sample(entity.KindRoute, wsA, 1).(*entity.Route)
	want := clone(t, e)
	mustCreate(t, s, e)
	e.Name = "changed"
	e.Paths[0] = "/changed"
	e.Service.ID = "changed"
	got := mustGet(t, s, entity.KindRoute, wsA, e.ID).(*entity.Route)
	mustSame(t, got, want)
	got.Name = "changed again"
	got.Paths[0] = "/changed-again"
	mustSame(t, mustGet(t, s, entity.KindRoute, wsA, e.ID), want)

	p, err := s.List(ctx, entity.KindRoute, wsA, store.ListOptions{})
	if err != nil || len(p.Entities) != 1 {
		t.Fatalf("List = %d entities, %v", len(p.Entities), err)
	}
	p.Entities[0].(*entity.Route).Paths[0] = "/x"
	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, se := range snap.Entities {
		if r, ok := se.(*entity.Route); ok {
			mustSame(t, r, want)
			r.Paths[0] = "/y"
		}
	}
	mustSame(t, mustGet(t, s, entity.KindRoute, wsA, e.ID), want)
}

func testWorkspaceIsolation(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, k := range kinds() {
		t.Run(string(k), func(t *testing.T) {
			a := sample(k, wsA, 1)
			b := sample(k, wsB, 1) // same unique keys, other workspace
			mustCreate(t, s, a, b)
			_, err := s.Get(ctx, k, wsB, a.GetMeta().ID)
			wantNotFound(t, err, "Get from the other workspace")
			wantNotFound(t, s.Delete(ctx, k, wsB, a.GetMeta().ID), "Delete from the other workspace")
			moved := clone(t, a)
			moved.GetMeta().Workspace = wsB
			wantNotFound(t, s.Update(ctx, moved), "Update in the other workspace")
			for field, value := range a.UniqueKeys() {
				got, err := s.GetByKey(ctx, k, wsB, field, value)
				if err != nil {
					t.Fatalf("GetByKey: %v", err)
				}
				mustSame(t, got, b)
			}
			for ws, want := range map[string]entity.Entity{wsA: a, wsB: b} {
				got := listAll(t, s, k, ws, store.ListOptions{})
				if len(got) != 1 {
					t.Fatalf("List %s: %d entities, want 1", ws, len(got))
				}
				mustSame(t, got[0], want)
			}
		})
	}
}

func testConflictOnID(t *testing.T, s store.Store) {
	for _, k := range append(kinds(), entity.KindWorkspace) {
		t.Run(string(k), func(t *testing.T) {
			a := sample(k, wsA, 1)
			mustCreate(t, s, a)
			b := sample(k, wsA, 2)
			b.GetMeta().ID = a.GetMeta().ID
			wantConflict(t, s.Create(context.Background(), b), k, "id", a.GetMeta().ID)
			mustSame(t, mustGet(t, s, k, a.GetMeta().Workspace, a.GetMeta().ID), a)
		})
	}
}

// testConflictOnUniqueKeys: each unique key of each kind is enforced on
// its own.
func testConflictOnUniqueKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	n := 0
	for _, k := range append(kinds(), entity.KindWorkspace) {
		n += 10
		a := sample(k, wsA, n)
		mustCreate(t, s, a)
		for field, value := range a.UniqueKeys() {
			t.Run(string(k)+"/"+field, func(t *testing.T) {
				// b shares only this key with a: its other keys come from
				// another sample.
				n++
				b := sample(k, wsA, n)
				setKey(t, b, field, a)
				if got := b.UniqueKeys()[field]; got != value {
					t.Fatalf("test setup: %s = %q, want %q", field, got, value)
				}
				wantConflict(t, s.Create(ctx, b), k, field, value)
				_, err := s.Get(ctx, k, b.GetMeta().Workspace, b.GetMeta().ID)
				wantNotFound(t, err, "Get of the refused entity")
			})
		}
	}
}

// setKey copies the fields behind unique key field from src to dst.
func setKey(t *testing.T, dst entity.Entity, field string, src entity.Entity) {
	t.Helper()
	switch d := dst.(type) {
	case *entity.Workspace:
		d.Name = src.(*entity.Workspace).Name
	case *entity.Service:
		d.Name = src.(*entity.Service).Name
	case *entity.Route:
		d.Name = src.(*entity.Route).Name
	case *entity.Consumer:
		if field == "username" {
			d.Username = src.(*entity.Consumer).Username
		} else {
			d.CustomID = src.(*entity.Consumer).CustomID
		}
	case *entity.Plugin:
		sp := src.(*entity.Plugin)
		if field == "instance_name" {
			d.InstanceName = sp.InstanceName
		} else {
			d.Name, d.Route, d.Service, d.Consumer = sp.Name, sp.Route, sp.Service, sp.Consumer
		}
	case *entity.Upstream:
		d.Name = src.(*entity.Upstream).Name
	case *entity.Target:
		d.Target, d.Upstream = src.(*entity.Target).Target, src.(*entity.Target).Upstream
	case *entity.KeyAuthCredential:
		d.KeyHash = src.(*entity.KeyAuthCredential).KeyHash
	case *entity.BasicAuthCredential:
		d.Username = src.(*entity.BasicAuthCredential).Username
	case *entity.ACLGroup:
		d.Group, d.Consumer = src.(*entity.ACLGroup).Group, src.(*entity.ACLGroup).Consumer
	case *entity.SNI:
		d.Name = src.(*entity.SNI).Name
	case *entity.AnalyticsToken:
		if field == "name" {
			d.Name = src.(*entity.AnalyticsToken).Name
		} else {
			d.TokenHash = src.(*entity.AnalyticsToken).TokenHash
		}
	default:
		t.Fatalf("no unique key %q for %s", field, dst.Kind())
	}
}

// testCompositeKeys: keys made of several fields conflict only when every
// part is equal.
func testCompositeKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	other := &entity.Ref{ID: "5b0f6e8c-8f7e-4a43-a6a9-5f4c0c3f2e77"}

	p1 := &entity.Plugin{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Name: "key-auth", Service: &entity.Ref{ID: parentID}}
	mustCreate(t, s, p1)
	p2 := &entity.Plugin{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Name: "key-auth", Service: &entity.Ref{ID: parentID}}
	wantConflict(t, s.Create(ctx, p2), entity.KindPlugin, "scope", "")
	for _, p := range []*entity.Plugin{
		{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Name: "key-auth"},                                                      // global
		{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Name: "key-auth", Service: other},                                      // other service
		{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Name: "key-auth", Service: &entity.Ref{ID: parentID}, Route: other},    // narrower scope
		{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Name: "key-auth", Service: &entity.Ref{ID: parentID}, Consumer: other}, // consumer scope
		{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Name: "acl", Service: &entity.Ref{ID: parentID}},                       // other plugin
	} {
		mustCreate(t, s, p)
	}

	t1 := &entity.Target{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Target: "a:80", Upstream: &entity.Ref{ID: parentID}}
	mustCreate(t, s, t1)
	t2 := &entity.Target{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Target: "a:80", Upstream: &entity.Ref{ID: parentID}}
	wantConflict(t, s.Create(ctx, t2), entity.KindTarget, "target", parentID+"|a:80")
	mustCreate(t, s, &entity.Target{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Target: "a:80", Upstream: other})
	mustCreate(t, s, &entity.Target{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Target: "a:81", Upstream: &entity.Ref{ID: parentID}})

	a1 := &entity.ACLGroup{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Group: "admins", Consumer: &entity.Ref{ID: parentID}}
	mustCreate(t, s, a1)
	a2 := &entity.ACLGroup{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Group: "admins", Consumer: &entity.Ref{ID: parentID}}
	wantConflict(t, s.Create(ctx, a2), entity.KindACL, "group", parentID+"|admins")
	mustCreate(t, s, &entity.ACLGroup{Meta: entity.Meta{ID: newID(), Workspace: wsA}, Group: "admins", Consumer: other})

	got, err := s.GetByKey(ctx, entity.KindACL, wsA, "group", parentID+"|admins")
	if err != nil {
		t.Fatal(err)
	}
	mustSame(t, got, a1)
}

func testKeyFreedAfterDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, k := range append(kinds(), entity.KindWorkspace) {
		t.Run(string(k), func(t *testing.T) {
			a := sample(k, wsA, 1)
			mustCreate(t, s, a)
			if err := s.Delete(ctx, k, a.GetMeta().Workspace, a.GetMeta().ID); err != nil {
				t.Fatal(err)
			}
			b := sample(k, wsA, 1) // same keys, new id
			mustCreate(t, s, b)
			// The old id is free again as well.
			c := sample(k, wsA, 2)
			c.GetMeta().ID = a.GetMeta().ID
			mustCreate(t, s, c)
		})
	}
}

func testKeyFreedAfterUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := sample(entity.KindConsumer, wsA, 1).(*entity.Consumer)
	mustCreate(t, s, a)
	oldName, oldCustom := a.Username, a.CustomID
	upd := clone(t, a).(*entity.Consumer)
	upd.Username, upd.CustomID = "renamed", ""
	if err := s.Update(ctx, upd); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetByKey(ctx, entity.KindConsumer, wsA, "username", "renamed")
	if err != nil {
		t.Fatal(err)
	}
	mustSame(t, got, upd)
	_, err = s.GetByKey(ctx, entity.KindConsumer, wsA, "username", oldName)
	wantNotFound(t, err, "GetByKey of the old username")
	_, err = s.GetByKey(ctx, entity.KindConsumer, wsA, "custom_id", oldCustom)
	wantNotFound(t, err, "GetByKey of a dropped custom_id")

	b := sample(entity.KindConsumer, wsA, 1) // takes the old username and custom_id
	mustCreate(t, s, b)
	c := sample(entity.KindConsumer, wsA, 3).(*entity.Consumer)
	c.Username = "renamed"
	wantConflict(t, s.Create(ctx, c), entity.KindConsumer, "username", "renamed")

	// An update that keeps its own keys does not conflict with itself.
	same := clone(t, upd)
	same.GetMeta().Tags = []string{"x"}
	if err := s.Update(ctx, same); err != nil {
		t.Fatalf("Update keeping its keys: %v", err)
	}
}

func testUpdateConflictChangesNothing(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := sample(entity.KindService, wsA, 1).(*entity.Service)
	b := sample(entity.KindService, wsA, 2).(*entity.Service)
	mustCreate(t, s, a, b)
	v0, err := s.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	upd := clone(t, b).(*entity.Service)
	upd.Name = a.Name
	upd.Host = "changed.example.com"
	wantConflict(t, s.Update(ctx, upd), entity.KindService, "name", a.Name)
	mustSame(t, mustGet(t, s, entity.KindService, wsA, b.ID), b)
	got, err := s.GetByKey(ctx, entity.KindService, wsA, "name", b.Name)
	if err != nil {
		t.Fatal(err)
	}
	mustSame(t, got, b)
	got, err = s.GetByKey(ctx, entity.KindService, wsA, "name", a.Name)
	if err != nil {
		t.Fatal(err)
	}
	mustSame(t, got, a)
	v1, err := s.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v1 != v0 {
		t.Errorf("Version went from %d to %d on a failed update", v0, v1)
	}
}

func testClose(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := sample(entity.KindService, wsA, 1)
	mustCreate(t, s, e)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	id := e.GetMeta().ID
	_, errList := s.List(ctx, entity.KindService, wsA, store.ListOptions{})
	_, errGet := s.Get(ctx, entity.KindService, wsA, id)
	_, errKey := s.GetByKey(ctx, entity.KindService, wsA, "name", "x")
	_, errSnap := s.Snapshot(ctx)
	_, errVer := s.Version(ctx)
	for name, err := range map[string]error{
		"Create":   s.Create(ctx, sample(entity.KindService, wsA, 2)),
		"Update":   s.Update(ctx, e),
		"Delete":   s.Delete(ctx, entity.KindService, wsA, id),
		"Replace":  s.Replace(ctx, wsA, nil),
		"List":     errList,
		"Get":      errGet,
		"GetByKey": errKey,
		"Snapshot": errSnap,
		"Version":  errVer,
	} {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
	// Subscribing to a closed store is harmless.
	_, stop := s.Subscribe()
	stop()
}
