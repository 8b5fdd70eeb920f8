package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/internal/broadcast"
	"github.com/tollgate/tollgate/gateway/store/internal/listing"
	"github.com/tollgate/tollgate/gateway/store/internal/record"
	"github.com/tollgate/tollgate/internal/entity"
)

var _ store.Store = (*Store)(nil)

// Options tune Open.
type Options struct {
	// Logger receives the store's few messages (open, close). Default:
	// discard.
	Logger *slog.Logger
	// LockTimeout bounds the wait for the file lock that another process
	// may hold. Default 1s.
	LockTimeout time.Duration
}

// DefaultLockTimeout is the LockTimeout used when Options leaves it zero.
const DefaultLockTimeout = time.Second

// ErrLocked says the file is held by another process.
var ErrLocked = errors.New("another tollgate process holds the data dir")

const formatVersion = "1"

var (
	bucketMeta = []byte("meta")
	keyFormat  = []byte("format")
	keyVersion = []byte("version")
	bucketEnts = []byte("e")
	bucketKeys = []byte("u")
	bucketRefs = []byte("r")
)

// Store is a config store in a bbolt file. It is safe for concurrent use.
type Store struct {
	path string
	log  *slog.Logger
	hub  broadcast.Hub

	// mu is held shared by every operation and exclusively by Close, so
	// that Close waits for running operations and none starts after it.
	mu     sync.RWMutex
	closed bool
	db     *bbolt.DB
}

// Open opens (creating if needed) the store file at path, creating its
// directory as well. The file stays locked until Close.
func Open(path string, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open config store: %w", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open config store %s: %w (lock not acquired within %s)", path, ErrLocked, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open config store %s: %w", path, err)
	}
	var version uint64
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch f := meta.Get(keyFormat); {
		case f == nil:
			if err := meta.Put(keyFormat, []byte(formatVersion)); err != nil {
				return err
			}
		case string(f) != formatVersion:
			return fmt.Errorf("unsupported layout version %q (this build reads %q)", f, formatVersion)
		}
		for _, k := range entity.Kinds {
			if _, err := tx.CreateBucketIfNotExists([]byte(k)); err != nil {
				return err
			}
		}
		version = readVersion(tx)
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open config store %s: %w", path, err), db.Close())
	}
	log.Info("config store opened", "path", path, "version", version)
	return &Store{path: path, log: log, db: db}, nil
}

// Close releases the file. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close config store %s: %w", s.path, err)
	}
	s.log.Info("config store closed", "path", s.path)
	return nil
}

// Subscribe implements store.Store.
func (s *Store) Subscribe() (<-chan struct{}, func()) { return s.hub.Subscribe() }

// view runs fn in a read transaction.
func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// update runs fn in a write transaction that also bumps the version, and
// signals subscribers once it has committed.
func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		// A write that waited for the lock behind others may have been
		// abandoned meanwhile.
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], readVersion(tx)+1)
		return tx.Bucket(bucketMeta).Put(keyVersion, b[:])
	})
	if err != nil {
		return err
	}
	s.hub.Notify()
	return nil
}

func readVersion(tx *bbolt.Tx) uint64 {
	v := tx.Bucket(bucketMeta).Get(keyVersion)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// stored is the value under "e": the entity with its workspace beside it.
type stored struct {
	Workspace string          `json:"workspace"`
	Entity    json.RawMessage `json:"entity"`
}

func wsBucketName(ws string) []byte { return []byte("w" + ws) }

func uniqueKey(k record.Key) []byte { return []byte(k.Field + "\x00" + k.Value) }

func refPrefix(kind entity.Kind, id string) []byte {
	return []byte(string(kind) + "\x00" + id + "\x00")
}

// wsBuckets are the three buckets of one kind in one workspace.
type wsBuckets struct{ ents, keys, refs *bbolt.Bucket }

// buckets returns the buckets of kind in ws, creating them when create is
// set (in a write transaction); ok is false when they do not exist.
func buckets(tx *bbolt.Tx, kind entity.Kind, ws string, create bool) (wsBuckets, bool, error) {
	kb := tx.Bucket([]byte(kind))
	if kb == nil {
		return wsBuckets{}, false, fmt.Errorf("unknown entity kind %q", kind)
	}
	name := wsBucketName(ws)
	wb := kb.Bucket(name)
	if wb == nil {
		if !create {
			return wsBuckets{}, false, nil
		}
		var err error
		if wb, err = kb.CreateBucket(name); err != nil {
			return wsBuckets{}, false, err
		}
		for _, n := range [][]byte{bucketEnts, bucketKeys, bucketRefs} {
			if _, err := wb.CreateBucket(n); err != nil {
				return wsBuckets{}, false, err
			}
		}
	}
	return wsBuckets{wb.Bucket(bucketEnts), wb.Bucket(bucketKeys), wb.Bucket(bucketRefs)}, true, nil
}

func decode(kind entity.Kind, v []byte) (entity.Entity, error) {
	var st stored
	if err := json.Unmarshal(v, &st); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", kind, err)
	}
	return record.Unmarshal(kind, st.Workspace, st.Entity)
}

func encode(e entity.Entity, ws string) ([]byte, error) {
	data, err := record.Marshal(e)
	if err != nil {
		return nil, err
	}
	return json.Marshal(stored{Workspace: ws, Entity: data})
}

// insert writes a new entity and its index entries, unless its id or a
// unique key is taken.
func insert(tx *bbolt.Tx, ws string, e entity.Entity) error {
	v, err := encode(e, ws)
	if err != nil {
		return err
	}
	b, _, err := buckets(tx, e.Kind(), ws, true)
	if err != nil {
		return err
	}
	id := e.GetMeta().ID
	if b.ents.Get([]byte(id)) != nil {
		return &store.ConflictError{Kind: e.Kind(), Field: "id", Value: id}
	}
	keys := record.UniqueKeys(e)
	for _, k := range keys {
		if b.keys.Get(uniqueKey(k)) != nil {
			return &store.ConflictError{Kind: e.Kind(), Field: k.Field, Value: k.Value}
		}
	}
	if err := b.ents.Put([]byte(id), v); err != nil {
		return err
	}
	return putIndexes(b, e, keys)
}

func putIndexes(b wsBuckets, e entity.Entity, keys []record.Key) error {
	id := e.GetMeta().ID
	for _, k := range keys {
		if err := b.keys.Put(uniqueKey(k), []byte(id)); err != nil {
			return err
		}
	}
	for kind, ref := range e.Refs() {
		if err := b.refs.Put(append(refPrefix(kind, ref), id...), []byte{}); err != nil {
			return err
		}
	}
	return nil
}

func deleteIndexes(b wsBuckets, e entity.Entity) error {
	id := e.GetMeta().ID
	for _, k := range record.UniqueKeys(e) {
		if err := b.keys.Delete(uniqueKey(k)); err != nil {
			return err
		}
	}
	for kind, ref := range e.Refs() {
		if err := b.refs.Delete(append(refPrefix(kind, ref), id...)); err != nil {
			return err
		}
	}
	return nil
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, e entity.Entity) error {
	if err := record.Check(e); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		return insert(tx, record.Workspace(e), e)
	})
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, e entity.Entity) error {
	if err := record.Check(e); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	kind, id, ws := e.Kind(), e.GetMeta().ID, record.Workspace(e)
	v, err := encode(e, ws)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b, ok, err := buckets(tx, kind, ws, false)
		if err != nil {
			return err
		}
		var cur []byte
		if ok {
			cur = b.ents.Get([]byte(id))
		}
		if cur == nil {
			return fmt.Errorf("update %s %s: %w", kind, id, store.ErrNotFound)
		}
		old, err := decode(kind, cur)
		if err != nil {
			return err
		}
		keys := record.UniqueKeys(e)
		for _, k := range keys {
			if holder := b.keys.Get(uniqueKey(k)); holder != nil && string(holder) != id {
				return &store.ConflictError{Kind: kind, Field: k.Field, Value: k.Value}
			}
		}
		if err := deleteIndexes(b, old); err != nil {
			return err
		}
		if err := b.ents.Put([]byte(id), v); err != nil {
			return err
		}
		return putIndexes(b, e, keys)
	})
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, kind entity.Kind, workspace, id string) error {
	if kind == entity.KindWorkspace {
		workspace = ""
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b, ok, err := buckets(tx, kind, workspace, false)
		if err != nil {
			return err
		}
		var cur []byte
		if ok {
			cur = b.ents.Get([]byte(id))
		}
		if cur == nil {
			return fmt.Errorf("delete %s %s: %w", kind, id, store.ErrNotFound)
		}
		old, err := decode(kind, cur)
		if err != nil {
			return err
		}
		if err := deleteIndexes(b, old); err != nil {
			return err
		}
		return b.ents.Delete([]byte(id))
	})
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, kind entity.Kind, workspace, id string) (entity.Entity, error) {
	if kind == entity.KindWorkspace {
		workspace = ""
	}
	var e entity.Entity
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b, ok, err := buckets(tx, kind, workspace, false)
		if err != nil {
			return err
		}
		var v []byte
		if ok && id != "" {
			v = b.ents.Get([]byte(id))
		}
		if v == nil {
			return fmt.Errorf("get %s %s: %w", kind, id, store.ErrNotFound)
		}
		e, err = decode(kind, v)
		return err
	})
	return e, err
}

// GetByKey implements store.Store.
func (s *Store) GetByKey(ctx context.Context, kind entity.Kind, workspace, field, value string) (entity.Entity, error) {
	if kind == entity.KindWorkspace {
		workspace = ""
	}
	var e entity.Entity
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b, ok, err := buckets(tx, kind, workspace, false)
		if err != nil {
			return err
		}
		var v []byte
		if ok {
			if id := b.keys.Get(uniqueKey(record.Key{Field: field, Value: value})); id != nil {
				v = b.ents.Get(id)
			}
		}
		if v == nil {
			return fmt.Errorf("get %s by %s %q: %w", kind, field, value, store.ErrNotFound)
		}
		e, err = decode(kind, v)
		return err
	})
	return e, err
}

// List implements store.Store. Entities come in id order.
func (s *Store) List(ctx context.Context, kind entity.Kind, workspace string, opts store.ListOptions) (store.Page, error) {
	if kind == entity.KindWorkspace {
		workspace = ""
	}
	after, err := listing.DecodeOffset(opts.Offset)
	if err != nil {
		return store.Page{}, fmt.Errorf("list %s: %w", kind, err)
	}
	size := listing.Size(opts.Size)
	var page store.Page
	err = s.view(ctx, func(tx *bbolt.Tx) error {
		page = store.Page{}
		b, ok, err := buckets(tx, kind, workspace, false)
		if err != nil || !ok {
			return err
		}
		// Walk either every entity or the reference index range, both in
		// id order; yield gets each candidate id.
		walk := func(yield func(id []byte) (bool, error)) error {
			c := b.ents.Cursor()
			prefix := []byte{}
			if opts.RefKind != "" {
				c = b.refs.Cursor()
				prefix = refPrefix(opts.RefKind, opts.RefID)
			}
			seek := append(bytes.Clone(prefix), after...)
			for k, _ := c.Seek(seek); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				id := k[len(prefix):]
				if opts.Offset != "" && string(id) == after {
					continue
				}
				if more, err := yield(id); err != nil || !more {
					return err
				}
			}
			return nil
		}
		return walk(func(id []byte) (bool, error) {
			v := b.ents.Get(id)
			if v == nil {
				return false, fmt.Errorf("list %s: reference index names missing entity %s", kind, id)
			}
			e, err := decode(kind, v)
			if err != nil {
				return false, err
			}
			if !listing.Match(e, opts) {
				return true, nil
			}
			if len(page.Entities) == size {
				page.Next = listing.EncodeOffset(page.Entities[size-1].GetMeta().ID)
				return false, nil
			}
			page.Entities = append(page.Entities, e)
			return true, nil
		})
	})
	if err != nil {
		return store.Page{}, err
	}
	return page, nil
}

// Replace implements store.Store.
func (s *Store) Replace(ctx context.Context, workspace string, entities []entity.Entity) error {
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
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		name := wsBucketName(workspace)
		for _, k := range entity.Kinds {
			if k == entity.KindWorkspace {
				continue
			}
			kb := tx.Bucket([]byte(k))
			if kb.Bucket(name) == nil {
				continue
			}
			if err := kb.DeleteBucket(name); err != nil {
				return err
			}
		}
		for _, e := range entities {
			// The workspace is the one being replaced, whatever e says.
			if err := insert(tx, workspace, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// Snapshot implements store.Store.
func (s *Store) Snapshot(ctx context.Context) (*store.Snapshot, error) {
	var snap *store.Snapshot
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		snap = &store.Snapshot{Version: readVersion(tx)}
		for _, k := range entity.Kinds {
			kb := tx.Bucket([]byte(k))
			err := kb.ForEachBucket(func(name []byte) error {
				return kb.Bucket(name).Bucket(bucketEnts).ForEach(func(_, v []byte) error {
					e, err := decode(k, v)
					if err != nil {
						return err
					}
					snap.Entities = append(snap.Entities, e)
					return nil
				})
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// Version implements store.Store.
func (s *Store) Version(ctx context.Context) (uint64, error) {
	var v uint64
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		v = readVersion(tx)
		return nil
	})
	return v, err
}
