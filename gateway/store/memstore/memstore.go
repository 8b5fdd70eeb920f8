package memstore

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/internal/broadcast"
	"github.com/tollgate/tollgate/gateway/store/internal/listing"
	"github.com/tollgate/tollgate/gateway/store/internal/record"
	"github.com/tollgate/tollgate/internal/entity"
)

var _ store.Store = (*Store)(nil)

// Store keeps entities in memory. It is safe for concurrent use.
type Store struct {
	hub broadcast.Hub

	mu      sync.RWMutex
	closed  bool
	version uint64
	tables  map[tableKey]*table
}

// tableKey names the entities of one kind in one workspace ("" for
// workspaces themselves).
type tableKey struct {
	kind entity.Kind
	ws   string
}

// table is one kind in one workspace.
type table struct {
	byID   map[string][]byte // JSON, as record.Marshal returns it
	ids    []string          // sorted: the List order
	unique map[record.Key]string
}

func newTable() *table {
	return &table{byID: map[string][]byte{}, unique: map[record.Key]string{}}
}

// New returns an empty store.
func New() *Store {
	return &Store{tables: map[tableKey]*table{}}
}

// check reports a closed store or a done ctx before an operation.
func (s *Store) check(ctx context.Context) error {
	if s.closed {
		return store.ErrClosed
	}
	return ctx.Err()
}

// committed records a write: callers hold the write lock.
func (s *Store) committed() {
	s.version++
	s.hub.Notify()
}

func (s *Store) table(k tableKey, create bool) *table {
	t := s.tables[k]
	if t == nil && create {
		t = newTable()
		s.tables[k] = t
	}
	return t
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, e entity.Entity) error {
	if err := record.Check(e); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	data, err := record.Marshal(e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	t := s.table(tableKey{e.Kind(), record.Workspace(e)}, true)
	if err := t.insert(e, data); err != nil {
		return err
	}
	s.committed()
	return nil
}

// insert adds e to t unless its id or a unique key is taken.
func (t *table) insert(e entity.Entity, data []byte) error {
	id := e.GetMeta().ID
	if _, ok := t.byID[id]; ok {
		return &store.ConflictError{Kind: e.Kind(), Field: "id", Value: id}
	}
	keys := record.UniqueKeys(e)
	for _, k := range keys {
		if _, ok := t.unique[k]; ok {
			return &store.ConflictError{Kind: e.Kind(), Field: k.Field, Value: k.Value}
		}
	}
	for _, k := range keys {
		t.unique[k] = id
	}
	t.byID[id] = data
	i, _ := slices.BinarySearch(t.ids, id)
	t.ids = slices.Insert(t.ids, i, id)
	return nil
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, e entity.Entity) error {
	if err := record.Check(e); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	data, err := record.Marshal(e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	ws := record.Workspace(e)
	t := s.table(tableKey{e.Kind(), ws}, false)
	id := e.GetMeta().ID
	if t == nil || t.byID[id] == nil {
		return fmt.Errorf("update %s %s: %w", e.Kind(), id, store.ErrNotFound)
	}
	old, err := record.Unmarshal(e.Kind(), ws, t.byID[id])
	if err != nil {
		return err
	}
	keys := record.UniqueKeys(e)
	for _, k := range keys {
		if holder, ok := t.unique[k]; ok && holder != id {
			return &store.ConflictError{Kind: e.Kind(), Field: k.Field, Value: k.Value}
		}
	}
	for _, k := range record.UniqueKeys(old) {
		delete(t.unique, k)
	}
	for _, k := range keys {
		t.unique[k] = id
	}
	t.byID[id] = data
	s.committed()
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, kind entity.Kind, workspace, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	if kind == entity.KindWorkspace {
		workspace = ""
	}
	t := s.table(tableKey{kind, workspace}, false)
	if t == nil || t.byID[id] == nil {
		return fmt.Errorf("delete %s %s: %w", kind, id, store.ErrNotFound)
	}
	old, err := record.Unmarshal(kind, workspace, t.byID[id])
	if err != nil {
		return err
	}
	for _, k := range record.UniqueKeys(old) {
		delete(t.unique, k)
	}
	delete(t.byID, id)
	if i, ok := slices.BinarySearch(t.ids, id); ok {
		t.ids = slices.Delete(t.ids, i, i+1)
	}
	s.committed()
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, kind entity.Kind, workspace, id string) (entity.Entity, error) {
	if !record.KnownKind(kind) {
		return nil, fmt.Errorf("get: unknown entity kind %q", kind)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if kind == entity.KindWorkspace {
		workspace = ""
	}
	t := s.table(tableKey{kind, workspace}, false)
	if t == nil || t.byID[id] == nil {
		return nil, fmt.Errorf("get %s %s: %w", kind, id, store.ErrNotFound)
	}
	return record.Unmarshal(kind, workspace, t.byID[id])
}

// GetByKey implements store.Store.
func (s *Store) GetByKey(ctx context.Context, kind entity.Kind, workspace, field, value string) (entity.Entity, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if kind == entity.KindWorkspace {
		workspace = ""
	}
	t := s.table(tableKey{kind, workspace}, false)
	if t != nil {
		if id, ok := t.unique[record.Key{Field: field, Value: value}]; ok {
			return record.Unmarshal(kind, workspace, t.byID[id])
		}
	}
	return nil, fmt.Errorf("get %s by %s %q: %w", kind, field, value, store.ErrNotFound)
}

// List implements store.Store. Entities come in id order.
func (s *Store) List(ctx context.Context, kind entity.Kind, workspace string, opts store.ListOptions) (store.Page, error) {
	after, err := listing.DecodeOffset(opts.Offset)
	if err != nil {
		return store.Page{}, fmt.Errorf("list %s: %w", kind, err)
	}
	size := listing.Size(opts.Size)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return store.Page{}, err
	}
	if kind == entity.KindWorkspace {
		workspace = ""
	}
	t := s.table(tableKey{kind, workspace}, false)
	if t == nil {
		return store.Page{}, nil
	}
	return listing.Sorted(t.ids, after, opts, size, func(id string) (entity.Entity, error) {
		return record.Unmarshal(kind, workspace, t.byID[id])
	})
}

// Replace implements store.Store.
func (s *Store) Replace(ctx context.Context, workspace string, entities []entity.Entity) error {
	fresh := map[tableKey]*table{}
	for _, e := range entities {
		if e == nil {
			return fmt.Errorf("replace: %w", record.ErrNoEntity)
		}
		if e.Kind() == entity.KindWorkspace {
			return fmt.Errorf("replace %s: workspace entities are not part of a workspace", workspace)
		}
		if e.GetMeta().ID == "" {
			return fmt.Errorf("replace: %s: %w", e.Kind(), record.ErrNoID)
		}
		data, err := record.Marshal(e)
		if err != nil {
			return err
		}
		k := tableKey{e.Kind(), workspace}
		t := fresh[k]
		if t == nil {
			t = newTable()
			fresh[k] = t
		}
		if err := t.insert(e, data); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	for k := range s.tables {
		if k.ws == workspace && k.kind != entity.KindWorkspace {
			delete(s.tables, k)
		}
	}
	for k, t := range fresh {
		s.tables[k] = t
	}
	s.committed()
	return nil
}

// Snapshot implements store.Store.
func (s *Store) Snapshot(ctx context.Context) (*store.Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	snap := &store.Snapshot{Version: s.version}
	for k, t := range s.tables {
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

// Version implements store.Store.
func (s *Store) Version(ctx context.Context) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	return s.version, nil
}

// Subscribe implements store.Store.
func (s *Store) Subscribe() (<-chan struct{}, func()) { return s.hub.Subscribe() }

// Close implements store.Store. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.tables = nil
	return nil
}
