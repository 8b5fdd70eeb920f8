package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/internal/entity"
)

// workspaceEntities lists every entity of every kind in ws.
func workspaceEntities(t *testing.T, s store.Store, ws string) []entity.Entity {
	t.Helper()
	var all []entity.Entity
	for _, k := range kinds() {
		all = append(all, listAll(t, s, k, ws, store.ListOptions{})...)
	}
	return all
}

func testReplace(t *testing.T, s store.Store) {
	ctx := context.Background()
	wsEntity := &entity.Workspace{Meta: entity.Meta{ID: newID()}, Name: wsA}
	mustCreate(t, s, wsEntity)
	old := []entity.Entity{}
	for _, k := range kinds() {
		old = append(old, sample(k, wsA, 1))
	}
	mustCreate(t, s, old...)
	untouched := []entity.Entity{sample(entity.KindService, wsB, 1), sample(entity.KindConsumer, wsB, 1)}
	mustCreate(t, s, untouched...)

	// The new set reuses a unique key of the old one (sample 1's service
	// name) under a new id, and brings kinds of its own.
	keep := sample(entity.KindService, wsA, 1)
	next := []entity.Entity{keep, sample(entity.KindService, wsA, 2), sample(entity.KindRoute, wsA, 2),
		sample(entity.KindKeyAuth, wsA, 2), sample(entity.KindPlugin, wsA, 2)}
	for _, e := range next {
		e.GetMeta().Workspace = "" // Replace puts them in the workspace it is given
	}
	if err := s.Replace(ctx, wsA, next); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	got := workspaceEntities(t, s, wsA)
	if !slices.Equal(sortedIDs(got), sortedIDs(next)) {
		t.Fatalf("after Replace the workspace holds %v, want %v", sortedIDs(got), sortedIDs(next))
	}
	for _, e := range next {
		g := mustGet(t, s, e.Kind(), wsA, e.GetMeta().ID)
		if g.GetMeta().Workspace != wsA {
			t.Fatalf("replaced entity has workspace %q", g.GetMeta().Workspace)
		}
	}
	for _, e := range old {
		_, err := s.Get(ctx, e.Kind(), wsA, e.GetMeta().ID)
		wantNotFound(t, err, "Get of a replaced entity")
	}
	byName, err := s.GetByKey(ctx, entity.KindService, wsA, "name", keep.(*entity.Service).Name)
	if err != nil || byName.GetMeta().ID != keep.GetMeta().ID {
		t.Fatalf("GetByKey of the reused name = %v, %v; want the new entity", byName, err)
	}
	// Keys of the old set are free; keys of the new one are taken.
	mustCreate(t, s, sample(entity.KindConsumer, wsA, 1))
	wantConflict(t, s.Create(ctx, sample(entity.KindService, wsA, 2)), entity.KindService, "name", "")
	// Other workspaces and the workspace entity itself are untouched.
	for _, e := range untouched {
		mustSame(t, mustGet(t, s, e.Kind(), wsB, e.GetMeta().ID), e)
	}
	mustSame(t, mustGet(t, s, entity.KindWorkspace, "", wsEntity.ID), wsEntity)
}

func testReplaceConflictChangesNothing(t *testing.T, s store.Store) {
	ctx := context.Background()
	before := []entity.Entity{sample(entity.KindService, wsA, 1), sample(entity.KindRoute, wsA, 1)}
	mustCreate(t, s, before...)
	v0, err := s.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dupName := sample(entity.KindService, wsA, 5)
	dupName.(*entity.Service).Name = "dup"
	dupName2 := sample(entity.KindService, wsA, 6)
	dupName2.(*entity.Service).Name = "dup"
	dupID := sample(entity.KindConsumer, wsA, 7)
	dupID2 := sample(entity.KindConsumer, wsA, 8)
	dupID2.GetMeta().ID = dupID.GetMeta().ID
	for _, tt := range []struct {
		name     string
		entities []entity.Entity
		field    string
		kind     entity.Kind
	}{
		{"duplicate name", []entity.Entity{sample(entity.KindService, wsA, 4), dupName, dupName2}, "name", entity.KindService},
		{"duplicate id", []entity.Entity{dupID, dupID2}, "id", entity.KindConsumer},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantConflict(t, s.Replace(ctx, wsA, tt.entities), tt.kind, tt.field, "")
			got := workspaceEntities(t, s, wsA)
			if !slices.Equal(sortedIDs(got), sortedIDs(before)) {
				t.Fatalf("a failed Replace changed the workspace: %v, want %v", sortedIDs(got), sortedIDs(before))
			}
			for _, e := range before {
				mustSame(t, mustGet(t, s, e.Kind(), wsA, e.GetMeta().ID), e)
			}
			v, err := s.Version(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v != v0 {
				t.Fatalf("a failed Replace moved the version from %d to %d", v0, v)
			}
		})
	}
	if err := s.Replace(ctx, wsA, []entity.Entity{&entity.Workspace{Meta: entity.Meta{ID: newID()}, Name: "x"}}); err == nil {
		t.Error("Replace with a workspace entity succeeded")
	}
}

func testReplaceEmpty(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, sample(entity.KindService, wsA, 1), sample(entity.KindService, wsB, 1))
	if err := s.Replace(ctx, wsA, nil); err != nil {
		t.Fatal(err)
	}
	if got := workspaceEntities(t, s, wsA); len(got) != 0 {
		t.Fatalf("workspace holds %d entities after an empty Replace", len(got))
	}
	if got := workspaceEntities(t, s, wsB); len(got) != 1 {
		t.Fatalf("other workspace holds %d entities, want 1", len(got))
	}
	// Replacing a workspace that holds nothing yet works too.
	if err := s.Replace(ctx, "fresh", []entity.Entity{sample(entity.KindService, "fresh", 1)}); err != nil {
		t.Fatal(err)
	}
	if got := workspaceEntities(t, s, "fresh"); len(got) != 1 {
		t.Fatalf("fresh workspace holds %d entities, want 1", len(got))
	}
}

func testSnapshot(t *testing.T, s store.Store) {
	ctx := context.Background()
	empty, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(empty.Entities) != 0 {
		t.Fatalf("snapshot of an empty store has %d entities", len(empty.Entities))
	}
	var all []entity.Entity
	all = append(all, sample(entity.KindWorkspace, "", 1))
	for _, k := range kinds() {
		all = append(all, sample(k, wsA, 1), sample(k, wsB, 1))
	}
	mustCreate(t, s, all...)
	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version != v {
		t.Fatalf("snapshot version %d, store version %d", snap.Version, v)
	}
	if !slices.Equal(sortedIDs(snap.Entities), sortedIDs(all)) {
		t.Fatalf("snapshot holds %d entities, want %d", len(snap.Entities), len(all))
	}
	byID := map[string]entity.Entity{}
	for _, e := range all {
		byID[e.GetMeta().ID] = e
	}
	for _, e := range snap.Entities {
		mustSame(t, e, byID[e.GetMeta().ID])
	}

	// Consistency: while writers create services in pairs with Replace, every
	// snapshot sees whole pairs, and its version orders it among the others.
	var wg sync.WaitGroup
	done := make(chan struct{})
	errc := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 30; i++ {
			pair := []entity.Entity{sample(entity.KindService, "pairs", 2*i), sample(entity.KindService, "pairs", 2*i+1)}
			if err := s.Replace(ctx, "pairs", pair); err != nil {
				errc <- err
				break
			}
		}
		close(done)
	}()
	var last uint64
	var lastCount = -1
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		default:
		}
		snap, err := s.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range snap.Entities {
			if e.GetMeta().Workspace == "pairs" {
				n++
			}
		}
		if n != 0 && n != 2 {
			t.Fatalf("snapshot at version %d sees %d entities of a pair", snap.Version, n)
		}
		if snap.Version < last {
			t.Fatalf("snapshot version went back from %d to %d", last, snap.Version)
		}
		if snap.Version == last && lastCount >= 0 && n != lastCount {
			t.Fatalf("two snapshots at version %d differ", last)
		}
		last, lastCount = snap.Version, n
	}
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
}

func testVersionGrows(t *testing.T, s store.Store) {
	ctx := context.Background()
	last, err := s.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check := func(op string) {
		t.Helper()
		v, err := s.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v <= last {
			t.Fatalf("Version after %s = %d, was %d", op, v, last)
		}
		last = v
	}
	e := sample(entity.KindService, wsA, 1)
	mustCreate(t, s, e)
	check("Create")
	upd := clone(t, e)
	upd.GetMeta().Tags = []string{"x"}
	if err := s.Update(ctx, upd); err != nil {
		t.Fatal(err)
	}
	check("Update")
	if err := s.Delete(ctx, entity.KindService, wsA, e.GetMeta().ID); err != nil {
		t.Fatal(err)
	}
	check("Delete")
	if err := s.Replace(ctx, wsA, []entity.Entity{sample(entity.KindService, wsA, 2)}); err != nil {
		t.Fatal(err)
	}
	check("Replace")
	if err := s.Replace(ctx, wsA, nil); err != nil {
		t.Fatal(err)
	}
	check("Replace with nothing")
	mustCreate(t, s, sample(entity.KindWorkspace, "", 1))
	check("Create of a workspace")
}

func testSubscribe(t *testing.T, s store.Store) {
	ctx := context.Background()
	ch1, stop1 := s.Subscribe()
	ch2, stop2 := s.Subscribe()
	defer stop2()

	e := sample(entity.KindService, wsA, 1)
	mustCreate(t, s, e)
	if !receive(ch1) || !receive(ch2) {
		t.Fatal("no signal after Create")
	}
	upd := clone(t, e)
	upd.GetMeta().Tags = []string{"x"}
	if err := s.Update(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if !receive(ch1) {
		t.Fatal("no signal after Update")
	}
	drain(ch2)

	// Several writes without a reader coalesce and never block the writer.
	for i := 2; i < 12; i++ {
		mustCreate(t, s, sample(entity.KindService, wsA, i))
	}
	if !receive(ch1) {
		t.Fatal("no signal after several writes")
	}
	drain(ch2)

	if err := s.Delete(ctx, entity.KindService, wsA, e.GetMeta().ID); err != nil {
		t.Fatal(err)
	}
	if !receive(ch1) {
		t.Fatal("no signal after Delete")
	}
	drain(ch2)
	if err := s.Replace(ctx, wsA, nil); err != nil {
		t.Fatal(err)
	}
	if !receive(ch1) {
		t.Fatal("no signal after Replace")
	}
	drain(ch2)

	stop1()
	stop1() // idempotent
	drain(ch1)
	mustCreate(t, s, sample(entity.KindService, wsA, 50))
	if !receive(ch2) {
		t.Fatal("the remaining subscriber got no signal")
	}
	select {
	case <-ch1:
		t.Fatal("signal after stop")
	case <-time.After(50 * time.Millisecond):
	}
}

func testContextCanceled(t *testing.T, s store.Store) {
	e := sample(entity.KindService, wsA, 1)
	mustCreate(t, s, e)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	id := e.GetMeta().ID
	_, errList := s.List(ctx, entity.KindService, wsA, store.ListOptions{})
	_, errGet := s.Get(ctx, entity.KindService, wsA, id)
	_, errKey := s.GetByKey(ctx, entity.KindService, wsA, "name", e.(*entity.Service).Name)
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
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", name, err)
		}
	}
	// Nothing was written.
	mustSame(t, mustGet(t, s, entity.KindService, wsA, id), e)
	if got := listAll(t, s, entity.KindService, wsA, store.ListOptions{}); len(got) != 1 {
		t.Fatalf("%d services after canceled writes, want 1", len(got))
	}
}

func testConcurrentUniqueCreate(t *testing.T, s store.Store) {
	const writers = 8
	for round := 0; round < 3; round++ {
		errs := make([]error, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := sample(entity.KindService, wsA, 1000+round) // same name, own id
				<-start
				errs[i] = s.Create(context.Background(), e)
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, store.ErrConflict):
			default:
				t.Fatalf("concurrent Create: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d creators won, want exactly 1", round, won)
		}
	}
}
