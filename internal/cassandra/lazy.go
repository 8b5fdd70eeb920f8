package cassandra

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gocql/gocql"
)

// ErrClosed is returned by a closed Lazy.
var ErrClosed = errors.New("cassandra: session closed")

// Lazy opens one session on first use and shares it, so that a node can
// start while Cassandra is away and connect when it returns. After a failed
// attempt it waits RetryAfter before trying again, so callers polling it on
// every tick do not hammer an absent cluster. Safe for concurrent use.
type Lazy struct {
	cfg        Config
	retryAfter time.Duration
	now        func() time.Time

	mu        sync.Mutex
	session   *gocql.Session
	lastErr   error
	lastTry   time.Time
	closed    bool
	dialing   bool
	dialingCh chan struct{}
}

// NewLazy returns a Lazy for cfg; nothing is dialled until Session.
func NewLazy(cfg Config, retryAfter time.Duration) *Lazy {
	if retryAfter <= 0 {
		retryAfter = time.Second
	}
	return &Lazy{cfg: cfg, retryAfter: retryAfter, now: time.Now}
}

// Session returns the shared session, connecting if there is none and the
// last attempt is older than the retry delay; otherwise it returns the
// last connection error at once.
func (l *Lazy) Session() (*gocql.Session, error) {
	l.mu.Lock()
	for {
		if l.closed {
			l.mu.Unlock()
			return nil, ErrClosed
		}
		if l.session != nil {
			s := l.session
			l.mu.Unlock()
			return s, nil
		}
		if !l.dialing {
			break
		}
		ch := l.dialingCh
		l.mu.Unlock()
		<-ch
		l.mu.Lock()
		if l.session == nil && l.lastErr != nil {
			err := l.lastErr
			l.mu.Unlock()
			return nil, err
		}
	}
	if l.lastErr != nil && l.now().Sub(l.lastTry) < l.retryAfter {
		err := l.lastErr
		l.mu.Unlock()
		return nil, err
	}
	l.dialing = true
	l.dialingCh = make(chan struct{})
	l.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 2*l.cfg.ConnectTimeout+time.Second)
	s, err := Connect(ctx, l.cfg)
	cancel()

	l.mu.Lock()
	defer l.mu.Unlock()
	l.dialing = false
	close(l.dialingCh)
	l.lastTry = l.now()
	l.lastErr = err
	if err != nil {
		return nil, err
	}
	if l.closed {
		s.Close()
		return nil, ErrClosed
	}
	l.session = s
	return s, nil
}

// Close closes the session, if one was opened. It is idempotent.
func (l *Lazy) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.session != nil {
		l.session.Close()
		l.session = nil
	}
	return nil
}
