package cassandra

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/internal/listing"
	"github.com/tollgate/tollgate/gateway/store/internal/record"
	"github.com/tollgate/tollgate/internal/entity"
)

// tableKey names the entities of one kind in one workspace ("" for
// workspaces themselves): one partition of the entities table.
type tableKey struct {
	kind entity.Kind
	ws   string
}

// table is one kind in one workspace. Bodies are never modified in place
// once stored, so they may be shared with a cache write outside the lock.
type table struct {
	byID   map[string][]byte // JSON, as record.Marshal returns it
	ids    []string          // sorted: the List order
	unique map[record.Key]string
}

func newTable() *table {
	return &table{byID: map[string][]byte{}, unique: map[record.Key]string{}}
}

// mirror is the whole config at one version. The Store guards it with its
// lock; the functions here do no locking.
type mirror struct {
	version uint64
	tables  map[tableKey]*table
}

func newMirror() *mirror { return &mirror{tables: map[tableKey]*table{}} }

func (m *mirror) table(k tableKey, create bool) *table {
	t := m.tables[k]
	if t == nil && create {
		t = newTable()
		m.tables[k] = t
	}
	return t
}

// get returns the stored JSON of an entity, nil if there is none.
func (m *mirror) get(kind entity.Kind, ws, id string) []byte {
	if t := m.tables[tableKey{kind, ws}]; t != nil {
		return t.byID[id]
	}
	return nil
}

// workspaces returns every workspace that holds an entity.
func (m *mirror) workspaces() []string {
	seen := map[string]bool{}
	for k := range m.tables {
		if k.ws != "" {
			seen[k.ws] = true
		}
	}
	out := make([]string, 0, len(seen))
	for ws := range seen {
		out = append(out, ws)
	}
	sort.Strings(out)
	return out
}

// checkCreate returns the conflict Create of e would meet, as memstore
// reports it.
func (m *mirror) checkCreate(e entity.Entity) error {
	t := m.table(tableKey{e.Kind(), record.Workspace(e)}, false)
	if t == nil {
		return nil
	}
	id := e.GetMeta().ID
	if _, ok := t.byID[id]; ok {
		return &store.ConflictError{Kind: e.Kind(), Field: "id", Value: id}
	}
	for _, k := range record.UniqueKeys(e) {
		if _, ok := t.unique[k]; ok {
			return &store.ConflictError{Kind: e.Kind(), Field: k.Field, Value: k.Value}
		}
	}
	return nil
}

// checkUpdate returns ErrNotFound or the conflict Update of e would meet.
func (m *mirror) checkUpdate(e entity.Entity) error {
	id := e.GetMeta().ID
	t := m.table(tableKey{e.Kind(), record.Workspace(e)}, false)
	if t == nil || t.byID[id] == nil {
		return fmt.Errorf("update %s %s: %w", e.Kind(), id, store.ErrNotFound)
	}
	for _, k := range record.UniqueKeys(e) {
		if holder, ok := t.unique[k]; ok && holder != id {
			return &store.ConflictError{Kind: e.Kind(), Field: k.Field, Value: k.Value}
		}
	}
	return nil
}

// set stores body as the entity kind/ws/id, creating or replacing it, and
// keeps the indexes. It checks nothing: writers check before committing,
// and a change in the log is applied as it was committed.
func (m *mirror) set(kind entity.Kind, ws, id string, body []byte) error {
	e, err := record.Unmarshal(kind, ws, body)
	if err != nil {
		return fmt.Errorf("decode %s %s: %w", kind, id, err)
	}
	t := m.table(tableKey{kind, ws}, true)
	if old := t.byID[id]; old != nil {
		t.dropKeys(kind, ws, id, old)
	} else {
		i, _ := slices.BinarySearch(t.ids, id)
		t.ids = slices.Insert(t.ids, i, id)
	}
	t.byID[id] = body
	for _, k := range record.UniqueKeys(e) {
		t.unique[k] = id
	}
	return nil
}

// remove deletes an entity if it is there.
func (m *mirror) remove(kind entity.Kind, ws, id string) {
	t := m.tables[tableKey{kind, ws}]
	if t == nil || t.byID[id] == nil {
		return
	}
	t.dropKeys(kind, ws, id, t.byID[id])
	delete(t.byID, id)
	if i, ok := slices.BinarySearch(t.ids, id); ok {
		t.ids = slices.Delete(t.ids, i, i+1)
	}
	if len(t.byID) == 0 {
		delete(m.tables, tableKey{kind, ws})
	}
}

// dropKeys removes the unique keys that old (the stored JSON of id) holds.
// A key is only dropped if it still points at id, so that replaying
// changes over a state that is ahead of them cannot orphan another
// entity's key.
func (t *table) dropKeys(kind entity.Kind, ws, id string, old []byte) {
	e, err := record.Unmarshal(kind, ws, old)
	if err != nil {
		return // it was decoded when stored; nothing sensible to drop
	}
	for _, k := range record.UniqueKeys(e) {
		if t.unique[k] == id {
			delete(t.unique, k)
		}
	}
}

// clearWorkspace drops every entity of ws but the workspace entity.
func (m *mirror) clearWorkspace(ws string) {
	for k := range m.tables {
		if k.ws == ws && k.kind != entity.KindWorkspace {
			delete(m.tables, k)
		}
	}
}

// reindex rebuilds the sorted ids and unique keys of every table from the
// bodies: after a resync or a cache load, which fill byID alone. An entity
// that does not decode is dropped, and reported in the error; the mirror
// is consistent either way.
func (m *mirror) reindex() error {
	var errs []error
	for k, t := range m.tables {
		all := make([]string, 0, len(t.byID))
		for id := range t.byID {
			all = append(all, id)
		}
		sort.Strings(all)
		t.ids = all[:0]
		t.unique = map[record.Key]string{}
		for _, id := range all {
			e, err := record.Unmarshal(k.kind, k.ws, t.byID[id])
			if err != nil {
				errs = append(errs, fmt.Errorf("decode %s %s in workspace %q: %w", k.kind, id, k.ws, err))
				delete(t.byID, id)
				continue
			}
			t.ids = append(t.ids, id)
			for _, key := range record.UniqueKeys(e) {
				t.unique[key] = id
			}
		}
		if len(t.byID) == 0 {
			delete(m.tables, k)
		}
	}
	return errors.Join(errs...)
}

// putRaw stores body without decoding or indexing it; reindex follows.
func (m *mirror) putRaw(kind entity.Kind, ws, id string, body []byte) {
	m.table(tableKey{kind, ws}, true).byID[id] = body
}

// removeRaw is remove before reindex.
func (m *mirror) removeRaw(kind entity.Kind, ws, id string) {
	if t := m.tables[tableKey{kind, ws}]; t != nil {
		delete(t.byID, id)
	}
}

// list is store.List over the mirror.
func (m *mirror) list(kind entity.Kind, ws string, after string, opts store.ListOptions, size int) (store.Page, error) {
	t := m.tables[tableKey{kind, ws}]
	if t == nil {
		return store.Page{}, nil
	}
	return listing.Sorted(t.ids, after, opts, size, func(id string) (entity.Entity, error) {
		return record.Unmarshal(kind, ws, t.byID[id])
	})
}

// snapshot decodes every entity.
func (m *mirror) snapshot() (*store.Snapshot, error) {
	snap := &store.Snapshot{Version: m.version}
	for k, t := range m.tables {
		for _, id := range t.ids {
			e, err := record.Unmarshal(k.kind, k.ws, t.byID[id])
			if err != nil {
				return nil, err
			}
			snap.Entities = append(snap.Entities, e)
		}
	}
	return snap, nil
}

// stored is one entity as the cache file and replace changes keep it.
type stored struct {
	kind entity.Kind
	ws   string
	id   string
	body []byte
}

// all returns every entity's stored form, sharing the bodies.
func (m *mirror) all() []stored {
	var out []stored
	for k, t := range m.tables {
		for _, id := range t.ids {
			out = append(out, stored{k.kind, k.ws, id, t.byID[id]})
		}
	}
	return out
}
