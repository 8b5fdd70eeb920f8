// Package store defines the config store: where a gateway keeps its entities.
//
// The interface assumes nothing about storage: the standalone implementation
// keeps entities in an embedded database under the data dir, the cluster one
// in Cassandra. Every implementation passes the conformance suite in
// package storetest. Stores check identity (ids, unique keys) but not schema:
// callers validate entities and references before writing them.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/tollgate/tollgate/internal/entity"
)

// Errors returned by stores, matched with errors.Is.
var (
	ErrNotFound = errors.New("entity not found")
	ErrConflict = errors.New("unique constraint violation")
	ErrClosed   = errors.New("store closed")
	// ErrUnavailable says the store cannot take writes now (its database
	// is unreachable); reads keep answering from what the node has.
	ErrUnavailable = errors.New("config store unavailable")
)

// ConflictError says which unique key of which entity was already taken. It
// matches ErrConflict.
type ConflictError struct {
	Kind  entity.Kind
	Field string // e.g. "name", "id"
	Value string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: %s %q already exists", ErrConflict, e.Field, e.Value)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ListOptions narrows and pages a List.
type ListOptions struct {
	// Tags keeps entities that have every tag (TagsAny: at least one).
	Tags    []string
	TagsAny bool
	// RefKind and RefID keep entities that reference the given entity, e.g.
	// the routes of one service.
	RefKind entity.Kind
	RefID   string
	// Size is the page size (default 100, at most 1000); Offset is the opaque
	// token a previous page returned as next.
	Size   int
	Offset string
}

// Page is one page of a List.
type Page struct {
	Entities []entity.Entity
	// Next is the offset of the following page, "" on the last one.
	Next string
}

// Snapshot is every entity of every workspace as of one config version.
type Snapshot struct {
	Version  uint64
	Entities []entity.Entity
}

// Store keeps entities. Implementations are safe for concurrent use.
// Entities passed in are not retained; entities returned are the caller's.
type Store interface {
	// Create stores a new entity. Its Meta must carry ID, Workspace and
	// timestamps. A taken id or unique key fails with a *ConflictError.
	Create(ctx context.Context, e entity.Entity) error
	// Update replaces the stored entity with the same kind, workspace and id;
	// ErrNotFound if there is none, *ConflictError if it would take a unique
	// key held by another entity.
	Update(ctx context.Context, e entity.Entity) error
	// Delete removes an entity; ErrNotFound if there is none. It does not
	// cascade: callers delete dependants first.
	Delete(ctx context.Context, kind entity.Kind, workspace, id string) error
	// Get returns an entity by id.
	Get(ctx context.Context, kind entity.Kind, workspace, id string) (entity.Entity, error)
	// GetByKey returns the entity whose unique key field has value.
	GetByKey(ctx context.Context, kind entity.Kind, workspace, field, value string) (entity.Entity, error)
	// List returns entities of a kind in a workspace, in a stable order.
	List(ctx context.Context, kind entity.Kind, workspace string, opts ListOptions) (Page, error)
	// Replace atomically swaps every entity of a workspace (other than the
	// workspace entity itself) for the given ones: declarative import. The
	// entities must satisfy uniqueness among themselves (*ConflictError).
	Replace(ctx context.Context, workspace string, entities []entity.Entity) error
	// Snapshot returns every entity of every workspace, consistently, with
	// the config version they make up.
	Snapshot(ctx context.Context) (*Snapshot, error)
	// Version returns the current config version: it grows with every write.
	Version(ctx context.Context) (uint64, error)
	// Subscribe returns a channel that receives after each change (coalesced:
	// one receive may stand for several changes) and a function that ends the
	// subscription. The channel is never closed by the store.
	Subscribe() (<-chan struct{}, func())
	// Close releases the store. It is idempotent.
	Close() error
}
