package ratelimit

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrUnknownWindow is returned for a Window that is none of the constants.
var ErrUnknownWindow = errors.New("ratelimit: unknown window")

// LocalOptions configures a Local store.
type LocalOptions struct {
	// Shards is the number of independently locked maps (default 32), so
	// that concurrent requests for different keys rarely contend.
	Shards int
	// SweepInterval is how often a background janitor drops the counters of
	// windows before the previous one (default 10s). Negative disables the janitor;
	// Sweep can then be called by the owner.
	SweepInterval time.Duration
	// Now is the janitor's clock (default time.Now).
	Now func() time.Time
}

// Local is a Store that keeps counters in memory, for a single node. Safe
// for concurrent use. When its janitor runs, Close stops it.
type Local struct {
	shards []localShard
	now    func() time.Time

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type localShard struct {
	mu sync.Mutex
	m  map[counterKey]counter
	_  [40]byte // keep shards on separate cache lines
}

// counterKey names one window of one key; start is the window's start in
// Unix nanoseconds.
type counterKey struct {
	key   string
	w     Window
	start int64
}

type counter struct {
	n   int64
	end int64 // window end, Unix nanoseconds
}

var _ Store = (*Local)(nil)

// NewLocal returns an empty store and, unless opts.SweepInterval is
// negative, starts its janitor goroutine; Close stops it.
func NewLocal(opts LocalOptions) *Local {
	if opts.Shards <= 0 {
		opts.Shards = 32
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Local{shards: make([]localShard, opts.Shards), now: opts.Now}
	for i := range l.shards {
		l.shards[i].m = map[counterKey]counter{}
	}
	if opts.SweepInterval > 0 {
		l.stop = make(chan struct{})
		l.done = make(chan struct{})
		go l.janitor(opts.SweepInterval)
	}
	return l
}

func (l *Local) janitor(every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.Sweep(l.now())
		}
	}
}

// shard picks the shard of key with FNV-1a, without allocating.
func (l *Local) shard(key string) *localShard {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return &l.shards[h%uint32(len(l.shards))]
}

func window(w Window, now time.Time) (counterKey, int64, error) {
	start, end := Start(w, now)
	if !end.After(start) {
		return counterKey{}, 0, fmt.Errorf("%w %q", ErrUnknownWindow, string(w))
	}
	return counterKey{w: w, start: start.UnixNano()}, end.UnixNano(), nil
}

// Add counts n hits for key in the window of w containing now and returns
// the window's total.
func (l *Local) Add(key string, w Window, now time.Time, n int64) (int64, error) {
	k, end, err := window(w, now)
	if err != nil {
		return 0, err
	}
	k.key = key
	s := l.shard(key)
	s.mu.Lock()
	c := s.m[k]
	c.n += n
	c.end = end
	s.m[k] = c
	s.mu.Unlock()
	return c.n, nil
}

// Get returns the total of key in the window of w containing now.
func (l *Local) Get(key string, w Window, now time.Time) (int64, error) {
	k, _, err := window(w, now)
	if err != nil {
		return 0, err
	}
	k.key = key
	s := l.shard(key)
	s.mu.Lock()
	c := s.m[k]
	s.mu.Unlock()
	return c.n, nil
}

// Sweep drops the counters of windows whose next window ended at or before
// now (the previous window stays, for sliding windows) and returns how many
// it dropped.
func (l *Local) Sweep(now time.Time) int {
	cut := now.UnixNano()
	dropped := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for k, c := range s.m {
			if _, next := Start(k.w, time.Unix(0, c.end)); next.UnixNano() <= cut {
				delete(s.m, k)
				dropped++
			}
		}
		s.mu.Unlock()
	}
	return dropped
}

// Len returns the number of counters held (one per key and window).
func (l *Local) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// Close stops the janitor and waits for it. It is idempotent; the store
// keeps counting after Close, only without sweeping.
func (l *Local) Close() error {
	l.closeOnce.Do(func() {
		if l.stop != nil {
			close(l.stop)
			<-l.done
		}
	})
	return nil
}
