package cassandra

import (
	"context"
	"errors"
	"fmt"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/internal/listing"
	"github.com/tollgate/tollgate/gateway/store/internal/record"
	"github.com/tollgate/tollgate/internal/entity"
)

// fresh brings the mirror up to date before a read, so that a read sees
// every write committed before it, on any node. When Cassandra is away it
// does not wait: the read answers from the config the node has, which is
// what a gateway must keep serving.
func (s *Store) fresh(ctx context.Context) error {
	if err := s.checkOpen(ctx); err != nil {
		return err
	}
	if s.down.Load() {
		return nil
	}
	err := s.syncNow(ctx, false)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, store.ErrClosed):
		return store.ErrClosed
	}
	return nil // the sync logged it and marked the state stale
}

// view runs fn on the mirror under the read lock.
func (s *Store) view(fn func(m *mirror) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return fn(s.m)
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, kind entity.Kind, workspace, id string) (entity.Entity, error) {
	if !record.KnownKind(kind) {
		return nil, fmt.Errorf("get: unknown entity kind %q", kind)
	}
	if err := s.fresh(ctx); err != nil {
		return nil, err
	}
	if kind == entity.KindWorkspace {
		workspace = ""
	}
	var e entity.Entity
	err := s.view(func(m *mirror) error {
		body := m.get(kind, workspace, id)
		if body == nil {
			return fmt.Errorf("get %s %s: %w", kind, id, store.ErrNotFound)
		}
		var err error
		e, err = record.Unmarshal(kind, workspace, body)
		return err
	})
	return e, err
}

// GetByKey implements store.Store.
func (s *Store) GetByKey(ctx context.Context, kind entity.Kind, workspace, field, value string) (entity.Entity, error) {
	if err := s.fresh(ctx); err != nil {
		return nil, err
	}
	if kind == entity.KindWorkspace {
		workspace = ""
	}
	var e entity.Entity
	err := s.view(func(m *mirror) error {
		if t := m.tables[tableKey{kind, workspace}]; t != nil {
			if id, ok := t.unique[record.Key{Field: field, Value: value}]; ok {
				var err error
				e, err = record.Unmarshal(kind, workspace, t.byID[id])
				return err
			}
		}
		return fmt.Errorf("get %s by %s %q: %w", kind, field, value, store.ErrNotFound)
	})
	return e, err
}

// List implements store.Store. Entities come in id order.
func (s *Store) List(ctx context.Context, kind entity.Kind, workspace string, opts store.ListOptions) (store.Page, error) {
	after, err := listing.DecodeOffset(opts.Offset)
	if err != nil {
		return store.Page{}, fmt.Errorf("list %s: %w", kind, err)
	}
	if err := s.fresh(ctx); err != nil {
		return store.Page{}, err
	}
	if kind == entity.KindWorkspace {
		workspace = ""
	}
	var page store.Page
	err = s.view(func(m *mirror) error {
		var err error
		page, err = m.list(kind, workspace, after, opts, listing.Size(opts.Size))
		return err
	})
	return page, err
}

// Snapshot implements store.Store.
func (s *Store) Snapshot(ctx context.Context) (*store.Snapshot, error) {
	if err := s.fresh(ctx); err != nil {
		return nil, err
	}
	var snap *store.Snapshot
	err := s.view(func(m *mirror) error {
		var err error
		snap, err = m.snapshot()
		return err
	})
	return snap, err
}

// Version implements store.Store.
func (s *Store) Version(ctx context.Context) (uint64, error) {
	if err := s.fresh(ctx); err != nil {
		return 0, err
	}
	var v uint64
	err := s.view(func(m *mirror) error {
		v = m.version
		return nil
	})
	return v, err
}
