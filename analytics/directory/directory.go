package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/analytics/api"
	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/internal/entity"
)

var _ api.Directory = (*Directory)(nil)

// How long a failed rebuild waits before trying again, doubling from
// retryMin up to retryMax while the store keeps failing.
const (
	retryMin = 500 * time.Millisecond
	retryMax = 30 * time.Second
)

// Directory answers api.Directory from memory. It is safe for concurrent
// use; lookups never block on the store.
type Directory struct {
	st       store.Store
	log      *slog.Logger
	retryMin time.Duration
	retryMax time.Duration

	idx atomic.Pointer[index]

	unsubscribe func()
	cancel      context.CancelFunc
	done        chan struct{}
	closeOnce   sync.Once
}

// New loads the directory from st and keeps it current until Close: it
// subscribes to st's changes and rebuilds its index in a goroutine after
// each. ctx bounds the first load only. A nil log discards.
func New(ctx context.Context, st store.Store, log *slog.Logger) (*Directory, error) {
	return newDirectory(ctx, st, log, retryMin, retryMax)
}

func newDirectory(ctx context.Context, st store.Store, log *slog.Logger, retryMin, retryMax time.Duration) (*Directory, error) {
	if st == nil {
		return nil, errors.New("directory: no store")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Subscribing before the first load means a change made while it
	// runs triggers a rebuild instead of being missed.
	changes, unsubscribe := st.Subscribe()
	snap, err := st.Snapshot(ctx)
	if err != nil {
		unsubscribe()
		return nil, fmt.Errorf("directory: load config: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d := &Directory{
		st:          st,
		log:         log,
		retryMin:    retryMin,
		retryMax:    retryMax,
		unsubscribe: unsubscribe,
		cancel:      cancel,
		done:        make(chan struct{}),
	}
	d.idx.Store(build(snap, log))
	go d.run(runCtx, changes)
	return d, nil
}

// Close stops following the store and waits for a running rebuild to
// end. It is idempotent. Lookups keep answering from the last index.
func (d *Directory) Close() error {
	d.closeOnce.Do(func() {
		d.cancel()
		d.unsubscribe()
		<-d.done
	})
	return nil
}

// Version is the config version the directory answers from.
func (d *Directory) Version() uint64 { return d.idx.Load().version }

// Token implements api.Directory. Expired tokens are returned too, with
// their ExpiresAt: whether one still works is the API's to decide.
func (d *Directory) Token(hash string) (api.Token, bool) {
	t, ok := d.idx.Load().tokens[hash]
	return t, ok
}

// Entity implements api.Directory. Ids of entities imported from
// declarative files derive from their names, so one id may exist in
// several workspaces; workspace "" then finds the entity of the first
// workspace by name.
func (d *Directory) Entity(kind entity.Kind, workspace, idOrName string) (api.Named, bool) {
	idx := d.idx.Load()
	if n, ok := idx.byID[key{kind, workspace, idOrName}]; ok {
		return n, true
	}
	if workspace == "" {
		return api.Named{}, false
	}
	n, ok := idx.byName[key{kind, workspace, idOrName}]
	return n, ok
}

// Entities implements api.Directory. The slice is the caller's.
func (d *Directory) Entities(kind entity.Kind, workspace string) []api.Named {
	return slices.Clone(d.idx.Load().lists[key{kind, workspace, ""}])
}

// run rebuilds the index after each change until ctx ends, retrying a
// failed rebuild with backoff.
func (d *Directory) run(ctx context.Context, changes <-chan struct{}) {
	defer close(d.done)
	retry := time.NewTimer(0)
	if !retry.Stop() {
		<-retry.C
	}
	defer retry.Stop()
	backoff := d.retryMin
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
		case <-retry.C:
		}
		err := d.rebuild(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			d.log.Warn("analytics directory rebuild failed; answering from the previous config",
				"version", d.Version(), "retry_in", backoff, "err", err)
			retry.Reset(backoff)
			backoff = min(2*backoff, d.retryMax)
			continue
		}
		retry.Stop()
		backoff = d.retryMin
	}
}

// rebuild swaps in an index of the store's current config, unless the
// index already is of its version (notifications are coalesced, and a
// rebuild may have seen the change a later notification stands for).
func (d *Directory) rebuild(ctx context.Context) error {
	v, err := d.st.Version(ctx)
	if err != nil {
		return fmt.Errorf("read config version: %w", err)
	}
	if v == d.Version() {
		return nil
	}
	snap, err := d.st.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	d.idx.Store(build(snap, d.log))
	return nil
}
