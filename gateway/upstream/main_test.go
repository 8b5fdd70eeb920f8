package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tollgate/tollgate/internal/entity"
)

// TestMain fails the package if a checker or the event goroutine outlives
// the Manager that started it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// upstreamOf returns an upstream with Kong's defaults for the fields the
// Admin API fills in.
func upstreamOf(name string, mod ...func(*entity.Upstream)) *entity.Upstream {
	u := &entity.Upstream{
		Meta:         entity.Meta{ID: "id-" + name},
		Name:         name,
		Algorithm:    "round-robin",
		HashOn:       "none",
		HashFallback: "none",
		Slots:        10000,
	}
	for _, f := range mod {
		f(u)
	}
	return u
}

func targetOf(u *entity.Upstream, addr string, weight int) *entity.Target {
	return &entity.Target{
		Meta:     entity.Meta{ID: "t-" + u.Name + "-" + addr},
		Target:   addr,
		Weight:   &weight,
		Upstream: &entity.Ref{ID: u.ID},
	}
}

// backend is a real HTTP server standing in for a target; it counts the
// requests it serves and answers with a status that tests can change.
type backend struct {
	srv    *httptest.Server
	hits   atomic.Int64
	status atomic.Int64
	delay  atomic.Int64 // nanoseconds to wait before answering
	paths  chan string  // probe paths and hosts seen, when non-nil
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{}
	b.status.Store(http.StatusOK)
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	b.hits.Add(1)
	if d := time.Duration(b.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if b.paths != nil {
		select {
		case b.paths <- r.Host + " " + r.URL.Path + " " + r.UserAgent():
		default:
		}
	}
	w.WriteHeader(int(b.status.Load()))
}

func (b *backend) addr() string { return b.srv.Listener.Addr().String() }

// proxy sends one request through bal the way the gateway's proxy does: pick,
// call the peer, report the outcome. It returns the peer's address.
func proxy(t *testing.T, bal *Balancer, in *HashInput, tried []string) (string, error) {
	t.Helper()
	return proxyWithin(t, 10*time.Second, bal, in, tried)
}

// proxyWithin is proxy with a deadline for the upstream's answer.
func proxyWithin(t *testing.T, timeout time.Duration, bal *Balancer, in *HashInput, tried []string) (string, error) {
	t.Helper()
	p, err := bal.Pick(in, tried)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.Addr+"/", nil)
	resp, err := noKeepAlive.Do(req)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		bal.Done(p, Outcome{Kind: Timeout})
	case err != nil:
		bal.Done(p, Outcome{Kind: TCPFailure})
	default:
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		bal.Done(p, Outcome{Kind: HTTPStatus, Status: resp.StatusCode})
	}
	return p.Addr, nil
}

var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func newTestManager(t *testing.T, opts Options) *Manager {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	m := NewManager(opts)
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func mustLookup(t *testing.T, m *Manager, name string) *Balancer {
	t.Helper()
	b, ok := m.Lookup(entity.DefaultWorkspace, name)
	if !ok {
		t.Fatalf("Lookup(%q): not found", name)
	}
	return b
}

// eventually polls cond until it holds or 5 s have passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func healthOf(m *Manager, upstream, addr string) (TargetHealth, bool) {
	for _, h := range m.Health() {
		if h.Upstream == upstream && h.Target == addr {
			return h, true
		}
	}
	return TargetHealth{}, false
}

func isHealthy(m *Manager, upstream, addr string) bool {
	h, ok := healthOf(m, upstream, addr)
	return ok && h.Healthy
}

// changes records OnHealthChange calls.
type changes struct {
	mu  sync.Mutex
	got []string
}

func (c *changes) record(ws, up, target string, healthy bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, fmt.Sprintf("%s/%s/%s=%v", ws, up, target, healthy))
}

func (c *changes) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// closedAddr returns an address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// newBufLogger logs text to w; w is only read after the Manager is closed or
// synchronously after Sync, which logs on the calling goroutine.
func newBufLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
