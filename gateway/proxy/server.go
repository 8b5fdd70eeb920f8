package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/gateway/logsink"
	"github.com/tollgate/tollgate/gateway/metrics"
	"github.com/tollgate/tollgate/gateway/snapshot"
	"github.com/tollgate/tollgate/gateway/upstream"
	"github.com/valyala/fasthttp"
)

// Defaults of the client side, nginx's (and so Kong's) where it has one.
const (
	defaultBodyInMemory = 64 << 10         // bodies larger than this stream
	clientHeaderTimeout = 60 * time.Second // client_header_timeout
	clientBodyTimeout   = 60 * time.Second // client_body_timeout, between reads
	clientSendTimeout   = 60 * time.Second // send_timeout, between writes
	clientIdleTimeout   = 60 * time.Second // keepalive_timeout
	clientReadBuffer    = 16 << 10         // request head limit
	closeDrainTimeout   = 10 * time.Second // how long Close drains
)

// Listener is one address the proxy serves on.
type Listener struct {
	Addr string // host:port; port 0 picks a free one
	TLS  bool   // serve https with certificates chosen by SNI
}

// Snapshots gives the config snapshot requests are served with.
type Snapshots interface {
	Load() *snapshot.Snapshot
}

// Config configures a Server.
type Config struct {
	Listeners []Listener
	// Snapshots is read once per request; it must return a snapshot once
	// the Server has started.
	Snapshots Snapshots
	// Upstreams resolves services whose host names an upstream; nil: every
	// service host is dialed directly.
	Upstreams *upstream.Manager
	// Sink receives one record per request after the response; nil
	// discards.
	Sink logsink.Sink
	// Metrics may be nil.
	Metrics *metrics.Metrics
	// Logger receives gateway errors; nil discards.
	Logger *slog.Logger
	// NodeID is written into every log record.
	NodeID string
	// TrustedIPs are the peers whose X-Forwarded-* headers (and real-IP
	// header) are believed, as Kong's trusted_ips.
	TrustedIPs []netip.Prefix
	// RealIPHeader carries the client address behind a trusted proxy
	// (Kong's real_ip_header); default X-Forwarded-For.
	RealIPHeader string
	// MaxRequestBodyInMemory: request bodies up to this size are read
	// before the request is handled; larger ones stream to the upstream as
	// they arrive. Default 64 KiB.
	MaxRequestBodyInMemory int
}

// Server is the proxy.
type Server struct {
	cfg      Config
	log      *slog.Logger
	sink     logsink.Sink
	trusted  trustedSet
	realIP   string
	ids      *idGen
	clients  *clients
	pool     sync.Pool // *exchange
	defCert  *tls.Certificate
	tunnels  tunnels
	targets  targetCaches
	janitorC chan struct{}

	// accepted and requests count connections and requests over the
	// server's life, for the node's status.
	accepted atomic.Uint64
	requests atomic.Uint64

	mu        sync.Mutex
	started   bool
	closed    bool
	listeners []*listener
	wg        sync.WaitGroup // Serve goroutines and the janitor
}

// listener is one bound listener and the fasthttp server on it.
type listener struct {
	s       *Server
	cfg     Listener
	ln      net.Listener
	srv     *fasthttp.Server
	scheme  string // http or https
	port    string // for X-Forwarded-Port
	conns   sync.Map
	handler fasthttp.RequestHandler
}

// New checks cfg and returns a Server that is not yet listening.
func New(cfg Config) (*Server, error) {
	if len(cfg.Listeners) == 0 {
		return nil, errors.New("proxy: no listeners")
	}
	if cfg.Snapshots == nil {
		return nil, errors.New("proxy: no snapshot source")
	}
	for _, l := range cfg.Listeners {
		if _, _, err := net.SplitHostPort(l.Addr); err != nil {
			return nil, fmt.Errorf("proxy: listener %q: %w", l.Addr, err)
		}
	}
	if cfg.MaxRequestBodyInMemory <= 0 {
		cfg.MaxRequestBodyInMemory = defaultBodyInMemory
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		sink:    cfg.Sink,
		trusted: trustedSet(cfg.TrustedIPs),
		realIP:  cfg.RealIPHeader,
		ids:     newIDGen(),
		clients: newClients(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.sink == nil {
		s.sink = &logsink.Discard{}
	}
	if s.realIP == "" {
		s.realIP = hXForwardedFor
	}
	s.pool.New = func() any { return newExchange(s) }
	s.tunnels.m = map[*tunnel]struct{}{}
	return s, nil
}

// Start binds every listener and serves each in a goroutine. If one cannot
// be bound, none stays open and the error names its address.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("proxy: server closed")
	}
	if s.started {
		return errors.New("proxy: already started")
	}
	var bound []*listener
	fail := func(err error) error {
		for _, l := range bound {
			_ = l.ln.Close()
		}
		return err
	}
	for _, lc := range s.cfg.Listeners {
		ln, err := net.Listen("tcp", lc.Addr)
		if err != nil {
			return fail(fmt.Errorf("proxy: listen on %s: %w", lc.Addr, err))
		}
		l := &listener{s: s, cfg: lc, ln: turnListener{ln}, scheme: "http"}
		if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
			l.port = strconv.Itoa(tcp.Port)
		}
		if lc.TLS {
			if s.defCert == nil {
				cert, err := selfSignedCert()
				if err != nil {
					_ = ln.Close()
					return fail(fmt.Errorf("proxy: default certificate for %s: %w", lc.Addr, err))
				}
				s.defCert = cert
				s.log.Info("generated a self-signed default certificate for TLS server names without a certificate")
			}
			l.scheme = "https"
			l.ln = tls.NewListener(l.ln, s.tlsConfig())
		}
		l.handler = l.serve
		l.srv = s.newFastServer(l)
		bound = append(bound, l)
	}
	s.listeners = bound
	s.started = true
	for _, l := range bound {
		s.wg.Add(1)
		go func(l *listener) {
			defer s.wg.Done()
			if err := l.srv.Serve(l.ln); err != nil {
				s.log.Error("proxy listener stopped", "addr", l.ln.Addr().String(), "error", err)
			}
		}(l)
	}
	s.janitorC = make(chan struct{})
	s.wg.Add(1)
	go s.janitor()
	return nil
}

func (s *Server) newFastServer(l *listener) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                      l.handler,
		NoDefaultServerHeader:        true,
		NoDefaultDate:                true,
		NoDefaultContentType:         true,
		StreamRequestBody:            true,
		MaxRequestBodySize:           s.cfg.MaxRequestBodyInMemory,
		DisablePreParseMultipartForm: true,
		ReadBufferSize:               clientReadBuffer,
		ReadTimeout:                  clientHeaderTimeout,
		IdleTimeout:                  clientIdleTimeout,
		CloseOnShutdown:              true,
		SecureErrorLogMessage:        true,
		Logger:                       fastLogger{s.log},
		ConnState: func(c net.Conn, st fasthttp.ConnState) {
			switch st {
			case fasthttp.StateNew:
				s.accepted.Add(1)
				l.conns.Store(c, struct{}{})
			case fasthttp.StateClosed, fasthttp.StateHijacked:
				l.conns.Delete(c)
			}
		},
	}
}

// Stats are the proxy's connection and request counts.
type Stats struct {
	ConnectionsAccepted uint64
	ConnectionsActive   int
	TotalRequests       uint64
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	st := Stats{ConnectionsAccepted: s.accepted.Load(), TotalRequests: s.requests.Load()}
	s.mu.Lock()
	for _, l := range s.listeners {
		st.ConnectionsActive += int(l.srv.GetOpenConnectionsCount())
	}
	s.mu.Unlock()
	return st
}

// tlsConfig picks the certificate by SNI from the current snapshot.
func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if snap := s.cfg.Snapshots.Load(); snap != nil {
				if c, ok := snap.Certificate(hello.ServerName); ok {
					return c, nil
				}
			}
			return s.defCert, nil
		},
	}
}

// janitor drops upstream clients that went unused.
func (s *Server) janitor() {
	defer s.wg.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.janitorC:
			return
		case now := <-t.C:
			s.clients.evict(now.Add(-clientIdleEviction))
		}
	}
}

// Addrs returns the addresses the listeners are bound to, in the order of
// Config.Listeners; empty before Start.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = l.ln.Addr()
	}
	return out
}

// Close shuts down gracefully, draining in-flight requests for up to ten
// seconds. It is idempotent.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeDrainTimeout)
	defer cancel()
	return s.Shutdown(ctx)
}

// Shutdown stops accepting connections and waits for in-flight requests to
// finish until ctx is done; then it closes the connections still open
// (WebSocket tunnels are closed at once: they have no end of their own).
// Later calls return nil.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	listeners := s.listeners
	s.mu.Unlock()
	if !started {
		return nil
	}

	s.tunnels.closeAll()
	errs := make([]error, len(listeners))
	var wg sync.WaitGroup
	for i, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.srv.ShutdownWithContext(ctx); err != nil {
				// Out of time: cut the connections still busy.
				l.conns.Range(func(k, _ any) bool {
					_ = k.(net.Conn).Close()
					return true
				})
				errs[i] = fmt.Errorf("proxy: shutdown %s: %w", l.ln.Addr(), err)
			}
		}()
	}
	wg.Wait()
	close(s.janitorC)
	s.wg.Wait()
	errs = append(errs, s.tunnels.wait(ctx))
	s.clients.closeIdle()
	return errors.Join(errs...)
}

// fastLogger routes fasthttp's messages (malformed requests and the like)
// to the structured logger.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	l.log.Debug("http server", "message", fmt.Sprintf(format, args...))
}
