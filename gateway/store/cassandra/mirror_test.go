package cassandra

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/internal/record"
	"github.com/tollgate/tollgate/internal/entity"
)

func svc(id, ws, name string) *entity.Service {
	return &entity.Service{Meta: entity.Meta{ID: id, Workspace: ws, CreatedAt: 1, UpdatedAt: 1},
		Name: name, Protocol: "http", Host: "example.com", Port: 80}
}

func mustBody(t *testing.T, e entity.Entity) []byte {
	t.Helper()
	b, err := record.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setChange(t *testing.T, v uint64, op string, e entity.Entity) change {
	return change{version: v, op: op, kind: e.Kind(), ws: record.Workspace(e), id: e.GetMeta().ID, body: mustBody(t, e)}
}

func replaceChange(t *testing.T, v uint64, ws string, es ...entity.Entity) change {
	items := []replaceItem{}
	for _, e := range es {
		items = append(items, replaceItem{Kind: e.Kind(), ID: e.GetMeta().ID, Entity: mustBody(t, e)})
	}
	b, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	return change{version: v, op: opReplace, ws: ws, body: b}
}

// dump lists a mirror as comparable strings.
func dump(m *mirror) []string {
	var out []string
	for _, s := range m.all() {
		out = append(out, string(s.kind)+"/"+s.ws+"/"+s.id+"="+string(s.body))
	}
	slices.Sort(out)
	return out
}

func TestMirrorApplyAndChecks(t *testing.T) {
	m := newMirror()
	a := svc("a", "ws", "alpha")
	b := svc("b", "ws", "beta")
	for _, c := range []change{setChange(t, 1, opCreate, a), setChange(t, 2, opCreate, b)} {
		if err := c.apply(m); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		check func() error
		want  error
		field string
	}{
		{"create with taken id", func() error { return m.checkCreate(svc("a", "ws", "other")) }, store.ErrConflict, "id"},
		{"create with taken name", func() error { return m.checkCreate(svc("c", "ws", "alpha")) }, store.ErrConflict, "name"},
		{"create in other workspace", func() error { return m.checkCreate(svc("a", "ws2", "alpha")) }, nil, ""},
		{"update of missing", func() error { return m.checkUpdate(svc("c", "ws", "gamma")) }, store.ErrNotFound, ""},
		{"update taking a name", func() error { return m.checkUpdate(svc("b", "ws", "alpha")) }, store.ErrConflict, "name"},
		{"update keeping its name", func() error { return m.checkUpdate(svc("b", "ws", "beta")) }, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check()
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var ce *store.ConflictError
			if tt.field != "" && (!errors.As(err, &ce) || ce.Field != tt.field) {
				t.Fatalf("err = %#v, want a conflict on %s", err, tt.field)
			}
		})
	}

	// A rename frees the old name; a delete frees everything.
	if err := (&change{version: 3, op: opUpdate, kind: entity.KindService, ws: "ws", id: "b", body: mustBody(t, svc("b", "ws", "beta2"))}).apply(m); err != nil {
		t.Fatal(err)
	}
	if err := m.checkCreate(svc("c", "ws", "beta")); err != nil {
		t.Fatalf("old name still taken: %v", err)
	}
	(&change{version: 4, op: opDelete, kind: entity.KindService, ws: "ws", id: "a"}).apply(m)
	if err := m.checkCreate(svc("a", "ws", "alpha")); err != nil {
		t.Fatalf("deleted entity's keys still taken: %v", err)
	}

	// Replace drops the workspace's entities, keeps the workspace entity
	// and other workspaces.
	wsEnt := &entity.Workspace{Meta: entity.Meta{ID: "w"}, Name: "ws"}
	other := svc("o", "ws2", "other")
	for _, c := range []change{setChange(t, 5, opCreate, wsEnt), setChange(t, 6, opCreate, other), replaceChange(t, 7, "ws", svc("n", "ws", "new"))} {
		if err := c.apply(m); err != nil {
			t.Fatal(err)
		}
	}
	if m.get(entity.KindService, "ws", "b") != nil || m.get(entity.KindService, "ws", "n") == nil ||
		m.get(entity.KindWorkspace, "", "w") == nil || m.get(entity.KindService, "ws2", "o") == nil {
		t.Fatalf("after replace: %v", dump(m))
	}
	if err := m.checkCreate(svc("x", "ws", "new")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("replaced entity's name not taken: %v", err)
	}
}

// TestReplayOverNewerState: a resync replays the log over an entities
// table that may already hold some of the changes; the result must be the
// state of the last change, with consistent indexes.
func TestReplayOverNewerState(t *testing.T) {
	x1 := svc("x", "ws", "name")
	y := svc("y", "ws", "name") // takes x's name after x is renamed
	x2 := svc("x", "ws", "renamed")
	log := []change{
		setChange(t, 1, opCreate, x1),
		setChange(t, 2, opUpdate, x2),
		setChange(t, 3, opCreate, y),
		replaceChange(t, 4, "ws2", svc("r", "ws2", "r")),
		{version: 5, op: opDelete, kind: entity.KindService, ws: "ws", id: "x"},
	}
	want := newMirror()
	for _, c := range log {
		if err := c.apply(want); err != nil {
			t.Fatal(err)
		}
	}
	for from := range log {
		t.Run("entities table at change "+string(rune('0'+from)), func(t *testing.T) {
			// The entities table as of some later change, then the whole
			// log replayed from an earlier one.
			m := newMirror()
			for _, c := range log[:from+1] {
				if err := c.applyRaw(m); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range log {
				if err := c.applyRaw(m); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.reindex(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(dump(m), dump(want)) {
				t.Fatalf("replayed:\n%v\nwant:\n%v", dump(m), dump(want))
			}
			if id := m.tables[tableKey{entity.KindService, "ws"}].unique[record.Key{Field: "name", Value: "name"}]; id != "y" {
				t.Fatalf("name is held by %q, want y", id)
			}
		})
	}
}

func TestContiguousAndBuckets(t *testing.T) {
	rows := func(vs ...uint64) []change {
		var out []change
		for _, v := range vs {
			out = append(out, change{version: v})
		}
		return out
	}
	for _, tt := range []struct {
		name  string
		after uint64
		rows  []change
		want  int
	}{
		{"none", 4, nil, 0},
		{"all", 4, rows(5, 6, 7), 3},
		{"hole first", 4, rows(6, 7), 0},
		{"hole later", 4, rows(5, 6, 8), 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := contiguous(tt.rows, tt.after); got != tt.want {
				t.Fatalf("contiguous = %d, want %d", got, tt.want)
			}
		})
	}
	if bucketOf(1023) != 0 || bucketOf(1024) != 1 || !lastInBucket(1023) || lastInBucket(1024) {
		t.Fatal("bucket arithmetic does not follow the schema (bucket = version / 1024)")
	}
	if writeTimestamp(5)-1 <= writeTimestamp(4) {
		t.Fatal("a replace's deletion would not shadow the previous change's rows")
	}
}

func TestChangeSameAs(t *testing.T) {
	c := setChange(t, 7, opCreate, svc("a", "ws", "alpha"))
	c.node = "n1"
	same := c
	same.at = time.Now() // the time is not compared: it round-trips with less precision
	other := c
	other.node = "n2"
	if !c.sameAs(&same) || c.sameAs(&other) {
		t.Fatal("sameAs does not identify a change by node, op and body")
	}
}

func TestCacheRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "config-cache.json")
	s := &Store{opts: Options{CachePath: path, NodeID: "n1"}, now: time.Now, m: newMirror()}
	for _, c := range []change{
		setChange(t, 1, opCreate, &entity.Workspace{Meta: entity.Meta{ID: "w"}, Name: "ws"}),
		setChange(t, 2, opCreate, svc("a", "ws", "alpha")),
		setChange(t, 3, opCreate, svc("b", "ws2", "beta")),
	} {
		if err := c.apply(s.m); err != nil {
			t.Fatal(err)
		}
		s.m.version = c.version
	}
	s.seq = 1 // one mutation the cache does not hold
	if err := s.writeCache(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := s.writeCache(); err != nil { // nothing new: nothing written
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("cache rewritten without a change: %v", err)
	}
	s.seq = 2
	if err := s.writeCache(); err != nil {
		t.Fatal(err)
	}
	got, at, err := loadCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.version != 3 || !slices.Equal(dump(got), dump(s.m)) || time.Since(at) > time.Hour {
		t.Fatalf("cache holds version %d (%v) written at %v, want version 3 (%v)", got.version, dump(got), at, dump(s.m))
	}
	if err := got.checkCreate(svc("c", "ws", "alpha")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a loaded cache does not index unique keys: %v", err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Fatalf("cache directory holds %v (%v), want the cache file alone", entries, err)
	}

	for _, tt := range []struct{ name, content string }{
		{"not json", "{"},
		{"other format", `{"format": 99}`},
		{"bad kind", `{"format": 1, "entities": [{"kind": "nope", "id": "x", "entity": {}}]}`},
		{"bad entity", `{"format": 1, "entities": [{"kind": "services", "id": "x", "entity": "s"}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := loadCache(p); err == nil {
				t.Fatal("loadCache succeeded")
			}
		})
	}
	if _, _, err := loadCache(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing cache: err = %v, want ErrNotExist", err)
	}
}
