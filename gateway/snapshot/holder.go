package snapshot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/gateway/store"
)

// Retry delays after a failed rebuild (the store may be down): the last
// good snapshot keeps serving meanwhile.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 10 * time.Second
)

// Holder keeps the current snapshot of a store and rebuilds it when the
// store changes.
type Holder struct {
	st   store.Store
	deps Deps
	log  *slog.Logger

	cur       atomic.Pointer[Snapshot]
	appliedAt atomic.Int64 // unix nanoseconds

	mu      sync.Mutex
	started bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

// NewHolder returns a Holder of st's snapshots; Start builds the first one.
func NewHolder(st store.Store, deps Deps) *Holder {
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Holder{st: st, deps: deps, log: log}
}

// Load returns the current snapshot: never nil once Start has succeeded.
func (h *Holder) Load() *Snapshot { return h.cur.Load() }

// Applied returns the version of the current snapshot and when it was
// swapped in.
func (h *Holder) Applied() (version uint64, at time.Time) {
	s := h.cur.Load()
	if s == nil {
		return 0, time.Time{}
	}
	return s.Version, time.Unix(0, h.appliedAt.Load())
}

// Start builds the first snapshot (an error if it cannot: there is nothing
// to serve with), then rebuilds and swaps in a new snapshot after every
// change of the store until Close. Changes that arrive while a rebuild runs
// are coalesced into the next one. ctx bounds only the first build.
func (h *Holder) Start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errors.New("snapshot holder: closed")
	}
	if h.started {
		return errors.New("snapshot holder: already started")
	}
	// Subscribe before the first build so that a change made meanwhile is
	// not missed.
	changes, unsubscribe := h.st.Subscribe()
	if err := h.rebuild(ctx); err != nil {
		unsubscribe()
		return fmt.Errorf("snapshot holder: first snapshot: %w", err)
	}
	h.started = true
	h.stop = make(chan struct{})
	h.done = make(chan struct{})
	go h.watch(changes, unsubscribe)
	return nil
}

// watch rebuilds after each change notification, retrying with backoff
// while the store fails.
func (h *Holder) watch(changes <-chan struct{}, unsubscribe func()) {
	defer close(h.done)
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-h.stop:
			cancel()
		case <-ctx.Done():
		}
	}()

	var retry *time.Timer
	var retryC <-chan time.Time
	delay := retryMin
	for {
		select {
		case <-h.stop:
			if retry != nil {
				retry.Stop()
			}
			return
		case <-changes:
		case <-retryC:
			retryC = nil
		}
		if err := h.rebuild(ctx); err != nil {
			if ctx.Err() != nil {
				continue // stopping
			}
			h.log.Error("config rebuild failed; serving the last good snapshot",
				"version", h.versionOrZero(), "retry_in", delay, "error", err)
			if retry == nil {
				retry = time.NewTimer(delay)
			} else {
				retry.Reset(delay)
			}
			retryC = retry.C
			delay = min(delay*2, retryMax)
			continue
		}
		delay = retryMin
		if retry != nil {
			retry.Stop()
			retryC = nil
		}
	}
}

func (h *Holder) versionOrZero() uint64 {
	if s := h.cur.Load(); s != nil {
		return s.Version
	}
	return 0
}

// rebuild reads the store and swaps in a new snapshot unless the version is
// the one already served.
func (h *Holder) rebuild(ctx context.Context) error {
	start := time.Now()
	ss, err := h.st.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("read store: %w", err)
	}
	if cur := h.cur.Load(); cur != nil && cur.Version == ss.Version {
		return nil
	}
	snap, err := Build(ss, h.deps)
	if err != nil {
		return err
	}
	h.cur.Store(snap)
	h.appliedAt.Store(time.Now().UnixNano())
	h.deps.Metrics.SetConfigVersion(snap.Version)
	h.log.Info("config applied", "version", snap.Version, "routes", snap.Router.Len(),
		"took", time.Since(start))
	return nil
}

// Close stops watching the store; the current snapshot stays loadable. It
// is idempotent.
func (h *Holder) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	started := h.started
	h.mu.Unlock()
	if started {
		close(h.stop)
		<-h.done
	}
	return nil
}
