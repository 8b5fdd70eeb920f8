package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/internal/entity"
)

func createServices(t *testing.T, s store.Store, ws string, n int) []entity.Entity {
	t.Helper()
	es := make([]entity.Entity, n)
	for i := range es {
		es[i] = sample(entity.KindService, ws, i)
	}
	mustCreate(t, s, es...)
	return es
}

func testListStableOrder(t *testing.T, s store.Store) {
	created := createServices(t, s, wsA, 25)
	first := listAll(t, s, entity.KindService, wsA, store.ListOptions{})
	if !slices.Equal(sortedIDs(first), sortedIDs(created)) {
		t.Fatalf("List returned %d entities, want the %d created", len(first), len(created))
	}
	for i := 0; i < 3; i++ {
		again := listAll(t, s, entity.KindService, wsA, store.ListOptions{})
		if !slices.Equal(ids(again), ids(first)) {
			t.Fatalf("List order changed between calls:\n%v\n%v", ids(first), ids(again))
		}
		paged := listAll(t, s, entity.KindService, wsA, store.ListOptions{Size: 4})
		if !slices.Equal(ids(paged), ids(first)) {
			t.Fatalf("paged order differs from a single page:\n%v\n%v", ids(first), ids(paged))
		}
	}
	// Writes elsewhere do not reorder the others.
	mustCreate(t, s, sample(entity.KindService, wsA, 100))
	after := listAll(t, s, entity.KindService, wsA, store.ListOptions{})
	var kept []string
	for _, id := range ids(after) {
		if slices.Contains(ids(first), id) {
			kept = append(kept, id)
		}
	}
	if !slices.Equal(kept, ids(first)) {
		t.Fatal("creating an entity reordered the existing ones")
	}
	for _, e := range after {
		if e.GetMeta().Workspace != wsA {
			t.Fatalf("listed entity has workspace %q, want %q", e.GetMeta().Workspace, wsA)
		}
	}
}

func testListPagination(t *testing.T, s store.Store) {
	created := createServices(t, s, wsA, 23)
	createServices(t, s, wsB, 5)
	for _, size := range []int{1, 2, 5, 22, 23, 24, 1000} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			all := listAll(t, s, entity.KindService, wsA, store.ListOptions{Size: size})
			got := sortedIDs(all)
			if len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Fatalf("duplicates across pages: %v", got)
			}
			if !slices.Equal(got, sortedIDs(created)) {
				t.Fatalf("pages cover %d entities, want the %d of the workspace", len(got), len(created))
			}
		})
	}
	// Pages hold exactly Size entities until the last.
	ctx := context.Background()
	p, err := s.List(ctx, entity.KindService, wsA, store.ListOptions{Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entities) != 10 || p.Next == "" {
		t.Fatalf("first page: %d entities, next %q; want 10 and a next offset", len(p.Entities), p.Next)
	}
	// An entity deleted between pages does not break the listing.
	if err := s.Delete(ctx, entity.KindService, wsA, p.Entities[9].GetMeta().ID); err != nil {
		t.Fatal(err)
	}
	rest := listAll(t, s, entity.KindService, wsA, store.ListOptions{Size: 10, Offset: p.Next})
	if len(rest) != 13 {
		t.Fatalf("after deleting the page's last entity, the rest has %d entities, want 13", len(rest))
	}
}

func testListDefaultPageSize(t *testing.T, s store.Store) {
	es := make([]entity.Entity, 150)
	for i := range es {
		es[i] = sample(entity.KindConsumer, wsA, i)
	}
	if err := s.Replace(context.Background(), wsA, es); err != nil {
		t.Fatal(err)
	}
	p, err := s.List(context.Background(), entity.KindConsumer, wsA, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entities) != 100 || p.Next == "" {
		t.Fatalf("default page: %d entities, next %q; want 100 and a next offset", len(p.Entities), p.Next)
	}
	all := listAll(t, s, entity.KindConsumer, wsA, store.ListOptions{})
	if !slices.Equal(sortedIDs(all), sortedIDs(es)) {
		t.Fatalf("listing covers %d entities, want 150", len(all))
	}
}

func testListBadOffset(t *testing.T, s store.Store) {
	createServices(t, s, wsA, 3)
	_, err := s.List(context.Background(), entity.KindService, wsA, store.ListOptions{Offset: "%%% not an offset %%%"})
	if err == nil {
		t.Fatal("List with a garbage offset succeeded")
	}
}

func testListTags(t *testing.T, s store.Store) {
	tagged := map[string][]string{
		"none": nil,
		"a":    {"a"},
		"b":    {"b"},
		"ab":   {"a", "b"},
		"abc":  {"c", "b", "a"},
		"c":    {"c"},
	}
	byName := map[string]string{}
	n := 0
	for name, tags := range tagged {
		n++
		e := sample(entity.KindService, wsA, n)
		e.GetMeta().Tags = tags
		mustCreate(t, s, e)
		byName[e.GetMeta().ID] = name
		// The same tags in another workspace must not leak into wsA.
		o := sample(entity.KindService, wsB, n)
		o.GetMeta().Tags = tags
		mustCreate(t, s, o)
	}
	tests := []struct {
		name string
		opts store.ListOptions
		want []string
	}{
		{"all of a", store.ListOptions{Tags: []string{"a"}}, []string{"a", "ab", "abc"}},
		{"all of a b", store.ListOptions{Tags: []string{"a", "b"}}, []string{"ab", "abc"}},
		{"all of a c", store.ListOptions{Tags: []string{"a", "c"}}, []string{"abc"}},
		{"any of a c", store.ListOptions{Tags: []string{"a", "c"}, TagsAny: true}, []string{"a", "ab", "abc", "c"}},
		{"any of b", store.ListOptions{Tags: []string{"b"}, TagsAny: true}, []string{"ab", "abc", "b"}},
		{"all of missing", store.ListOptions{Tags: []string{"zzz"}}, nil},
		{"any of missing", store.ListOptions{Tags: []string{"zzz"}, TagsAny: true}, nil},
		{"paged", store.ListOptions{Tags: []string{"a"}, Size: 1}, []string{"a", "ab", "abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range listAll(t, s, entity.KindService, wsA, tt.opts) {
				got = append(got, byName[e.GetMeta().ID])
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func testListRefs(t *testing.T, s store.Store) {
	svc1, svc2 := newID(), newID()
	var of1, of2 []entity.Entity
	for i := 0; i < 12; i++ {
		r := sample(entity.KindRoute, wsA, i).(*entity.Route)
		switch i % 3 {
		case 0:
			r.Service = &entity.Ref{ID: svc1}
			of1 = append(of1, r)
		case 1:
			r.Service = &entity.Ref{ID: svc2}
			of2 = append(of2, r)
		default:
			r.Service = nil
		}
		mustCreate(t, s, r)
	}
	// A route of svc1 in another workspace is not listed.
	other := sample(entity.KindRoute, wsB, 0).(*entity.Route)
	other.Service = &entity.Ref{ID: svc1}
	mustCreate(t, s, other)

	for _, tt := range []struct {
		name string
		opts store.ListOptions
		want []entity.Entity
	}{
		{"svc1", store.ListOptions{RefKind: entity.KindService, RefID: svc1}, of1},
		{"svc2 paged", store.ListOptions{RefKind: entity.KindService, RefID: svc2, Size: 3}, of2},
		{"unknown", store.ListOptions{RefKind: entity.KindService, RefID: newID()}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := listAll(t, s, entity.KindRoute, wsA, tt.opts)
			if !slices.Equal(sortedIDs(got), sortedIDs(tt.want)) {
				t.Fatalf("got %v, want %v", sortedIDs(got), sortedIDs(tt.want))
			}
		})
	}

	// A reference changed by Update moves the entity between listings.
	moved := clone(t, of1[0]).(*entity.Route)
	moved.Service = &entity.Ref{ID: svc2}
	if err := s.Update(context.Background(), moved); err != nil {
		t.Fatal(err)
	}
	got1 := listAll(t, s, entity.KindRoute, wsA, store.ListOptions{RefKind: entity.KindService, RefID: svc1})
	got2 := listAll(t, s, entity.KindRoute, wsA, store.ListOptions{RefKind: entity.KindService, RefID: svc2})
	if len(got1) != len(of1)-1 || len(got2) != len(of2)+1 {
		t.Fatalf("after moving a route: %d and %d routes, want %d and %d", len(got1), len(got2), len(of1)-1, len(of2)+1)
	}
	// Refs and tags combine.
	tagged := clone(t, of2[0])
	tagged.GetMeta().Tags = []string{"t"}
	if err := s.Update(context.Background(), tagged); err != nil {
		t.Fatal(err)
	}
	both := listAll(t, s, entity.KindRoute, wsA, store.ListOptions{RefKind: entity.KindService, RefID: svc2, Tags: []string{"t"}})
	if len(both) != 1 || both[0].GetMeta().ID != tagged.GetMeta().ID {
		t.Fatalf("refs and tags: got %v, want [%s]", ids(both), tagged.GetMeta().ID)
	}
}

// testListRefsPaged: plugins reference several kinds at once; each
// reference lists them, across pages.
func testListRefsPaged(t *testing.T, s store.Store) {
	route, consumer := newID(), newID()
	var onRoute, onConsumer []entity.Entity
	for i := 0; i < 9; i++ {
		p := sample(entity.KindPlugin, wsA, i).(*entity.Plugin)
		p.Service = nil
		if i%2 == 0 {
			p.Route = &entity.Ref{ID: route}
			onRoute = append(onRoute, p)
		}
		if i%3 == 0 {
			p.Consumer = &entity.Ref{ID: consumer}
			onConsumer = append(onConsumer, p)
		}
		mustCreate(t, s, p)
	}
	got := listAll(t, s, entity.KindPlugin, wsA, store.ListOptions{RefKind: entity.KindRoute, RefID: route, Size: 2})
	if !slices.Equal(sortedIDs(got), sortedIDs(onRoute)) {
		t.Fatalf("plugins of the route: %v, want %v", sortedIDs(got), sortedIDs(onRoute))
	}
	got = listAll(t, s, entity.KindPlugin, wsA, store.ListOptions{RefKind: entity.KindConsumer, RefID: consumer, Size: 2})
	if !slices.Equal(sortedIDs(got), sortedIDs(onConsumer)) {
		t.Fatalf("plugins of the consumer: %v, want %v", sortedIDs(got), sortedIDs(onConsumer))
	}
}
