package proxy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/tollgate/tollgate/gateway/metrics"
	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/snapshot"
	"github.com/tollgate/tollgate/gateway/store/memstore"
	"github.com/tollgate/tollgate/gateway/upstream"
	"github.com/tollgate/tollgate/internal/entity"
	"github.com/tollgate/tollgate/internal/logrecord"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp's idle-connection cleaner of a HostClient sleeps out its
		// idle period before it notices the pool is empty; it ends on its own.
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		// A fasthttp server's worker-pool cleaner checks for Stop between
		// sleeps of MaxIdleWorkerDuration (10 s); it ends on its own.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		// fasthttp refreshes its cached Date line in one process-wide
		// goroutine, started the first time a response carries a Date.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	)
}

// recSink keeps every record it gets.
type recSink struct {
	mu   sync.Mutex
	recs []logrecord.Record
}

func (s *recSink) Enqueue(r *logrecord.Record) {
	s.mu.Lock()
	s.recs = append(s.recs, *r)
	s.mu.Unlock()
}

func (s *recSink) all() []logrecord.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]logrecord.Record(nil), s.recs...)
}

// byRequestID waits for the record of a request.
func (s *recSink) byRequestID(t *testing.T, id string) logrecord.Record {
	t.Helper()
	var found []logrecord.Record
	waitFor(t, "log record of "+id, func() bool {
		found = found[:0]
		for _, r := range s.all() {
			if r.RequestID == id {
				found = append(found, r)
			}
		}
		return len(found) > 0
	})
	time.Sleep(10 * time.Millisecond)
	n := 0
	for _, r := range s.all() {
		if r.RequestID == id {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d records for request %s, want 1", n, id)
	}
	return found[0]
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type envOptions struct {
	factories  []*plugin.Factory
	trusted    []netip.Prefix
	inMemory   int
	logToTest  bool
	noMetrics  bool
	realHeader string
}

// env is a running proxy on 127.0.0.1 over a memstore and a Holder.
type env struct {
	t       testing.TB
	st      *memstore.Store
	holder  *snapshot.Holder
	ups     *upstream.Manager
	srv     *Server
	sink    *recSink
	reg     *prometheus.Registry
	http    string // http://127.0.0.1:port
	tlsAddr string // 127.0.0.1:port
	client  *http.Client
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, st: memstore.New(), sink: &recSink{}, reg: prometheus.NewRegistry()}
	log := slog.New(slog.DiscardHandler)
	if o.logToTest || os.Getenv("TOLLGATE_TEST_VERBOSE") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var m *metrics.Metrics
	if !o.noMetrics {
		m = metrics.New(e.reg)
	}
	e.ups = upstream.NewManager(upstream.Options{Logger: log})
	e.holder = snapshot.NewHolder(e.st, snapshot.Deps{
		Plugins:   plugin.NewRegistry(o.factories...),
		Env:       plugin.Env{Logger: log, Now: time.Now},
		Upstreams: e.ups,
		Logger:    log,
		Metrics:   m,
	})
	if err := e.holder.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Listeners:              []Listener{{Addr: "127.0.0.1:0"}, {Addr: "127.0.0.1:0", TLS: true}},
		Snapshots:              e.holder,
		Upstreams:              e.ups,
		Sink:                   e.sink,
		Metrics:                m,
		Logger:                 log,
		NodeID:                 "node-1",
		TrustedIPs:             o.trusted,
		RealIPHeader:           o.realHeader,
		MaxRequestBodyInMemory: o.inMemory,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	addrs := srv.Addrs()
	e.http = "http://" + addrs[0].String()
	e.tlsAddr = addrs[1].String()
	e.client = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DisableCompression:  true,
			MaxIdleConnsPerHost: 64,
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	e.client.CloseIdleConnections()
	if err := e.srv.Close(); err != nil {
		e.t.Errorf("server close: %v", err)
	}
	_ = e.holder.Close()
	_ = e.ups.Close()
	_ = e.st.Close()
}

// sync waits until the proxy serves the store's current version.
func (e *env) sync() {
	e.t.Helper()
	want, err := e.st.Version(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	waitFor(e.t, "config version", func() bool { v, _ := e.holder.Applied(); return v >= want })
}

func (e *env) create(ent entity.Entity) {
	e.t.Helper()
	m := ent.GetMeta()
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	if m.Workspace == "" {
		m.Workspace = entity.DefaultWorkspace
	}
	if m.CreatedAt == 0 {
		m.CreatedAt = time.Now().Unix()
		m.UpdatedAt = m.CreatedAt
	}
	if err := e.st.Create(context.Background(), ent); err != nil {
		e.t.Fatalf("create %s: %v", ent.Kind(), err)
	}
}

// service stores a service pointing at rawURL (http://host:port/path).
func (e *env) service(name, rawURL string, mod ...func(*entity.Service)) *entity.Service {
	e.t.Helper()
	proto, rest, _ := strings.Cut(rawURL, "://")
	hostport, path, _ := strings.Cut(rest, "/")
	host, portStr, _ := net.SplitHostPort(hostport)
	if host == "" {
		host, portStr = hostport, "80"
	}
	var port int
	fmt.Sscan(portStr, &port)
	s := &entity.Service{Name: name, Protocol: proto, Host: host, Port: port, Retries: new(5),
		ConnectTimeout: 60000, ReadTimeout: 60000, WriteTimeout: 60000}
	if path != "" {
		s.Path = "/" + path
	}
	for _, f := range mod {
		f(s)
	}
	e.create(s)
	return s
}

// route stores a route of svc.
func (e *env) route(svc *entity.Service, mod func(*entity.Route)) *entity.Route {
	e.t.Helper()
	r := &entity.Route{Protocols: []string{"http", "https"}, Service: &entity.Ref{ID: svc.ID}, HTTPSRedirectStatusCode: 426, PathHandling: "v0"}
	if mod != nil {
		mod(r)
	}
	e.create(r)
	return r
}

func (e *env) do(req *http.Request) *http.Response {
	e.t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp
}

func (e *env) get(path string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.http+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp := e.do(req)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

// echo is what an echo upstream answers: what it received.
type echo struct {
	Name    string      `json:"name"`
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Query   string      `json:"query"`
	Host    string      `json:"host"`
	Header  http.Header `json:"header"`
	BodyLen int         `json:"body_len"`
}

// echoServer answers every request with an echo naming itself.
func echoServer(t testing.TB, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(echoHandler(name))
	t.Cleanup(srv.Close)
	return srv
}

func echoHandler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", name)
		_ = json.NewEncoder(w).Encode(echo{
			Name: name, Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Host: r.Host, Header: r.Header, BodyLen: int(n),
		})
	}
}

func decodeEcho(t testing.TB, b []byte) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not an echo: %v: %s", err, b)
	}
	return e
}

// kongError is the body of a gateway-generated error.
type kongError struct {
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

func decodeKongError(t testing.TB, resp *http.Response, b []byte) kongError {
	t.Helper()
	var k kongError
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatalf("not a Kong error body: %v: %s", err, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error content type = %q", ct)
	}
	if k.RequestID == "" || k.RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("request_id %q does not match X-Request-Id %q", k.RequestID, resp.Header.Get("X-Request-Id"))
	}
	return k
}

// hostPort splits an httptest URL.
func hostPort(t testing.TB, rawURL string) (string, int) {
	t.Helper()
	_, hp, _ := strings.Cut(rawURL, "://")
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		t.Fatal(err)
	}
	var port int
	fmt.Sscan(p, &port)
	return h, port
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
