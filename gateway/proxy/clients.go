package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Defaults of the upstream connections, Kong's where it has one.
const (
	defaultTimeout     = 60 * time.Second // service connect/read/write_timeout
	upstreamIdle       = 60 * time.Second // upstream_keepalive_idle_timeout
	upstreamReadBuffer = 16 << 10         // response head limit and read chunk
	upstreamMaxConns   = 1 << 16          // nginx has no per-host cap either
	clientIdleEviction = 5 * time.Minute  // unused clients are dropped
)

// clientKey identifies the upstream client for a target with one set of
// connection settings. Services that differ in timeouts or TLS get their
// own pools, so that a connection never carries settings it was not made
// with.
type clientKey struct {
	addr       string // host:port
	tls        bool
	serverName string // TLS SNI and verification name
	verify     bool
	clientCert *tls.Certificate
	connect    time.Duration
	read       time.Duration
	write      time.Duration
}

type pooledClient struct {
	hc       *fasthttp.HostClient
	lastUsed atomic.Int64 // unix seconds
}

// clients is the pool of upstream clients, one per clientKey.
type clients struct {
	mu sync.RWMutex
	m  map[clientKey]*pooledClient
}

func newClients() *clients { return &clients{m: map[clientKey]*pooledClient{}} }

func (cs *clients) get(k clientKey, now time.Time) *fasthttp.HostClient {
	cs.mu.RLock()
	pc := cs.m[k]
	cs.mu.RUnlock()
	if pc == nil {
		cs.mu.Lock()
		if pc = cs.m[k]; pc == nil {
			pc = &pooledClient{hc: newHostClient(k)}
			cs.m[k] = pc
		}
		cs.mu.Unlock()
	}
	if s := now.Unix(); pc.lastUsed.Load() != s {
		pc.lastUsed.Store(s)
	}
	return pc.hc
}

// evict drops the clients unused since before cutoff, closing their idle
// connections (busy ones finish on their own).
func (cs *clients) evict(cutoff time.Time) {
	var idle []*fasthttp.HostClient
	cs.mu.Lock()
	for k, pc := range cs.m {
		if pc.lastUsed.Load() < cutoff.Unix() {
			delete(cs.m, k)
			idle = append(idle, pc.hc)
		}
	}
	cs.mu.Unlock()
	for _, hc := range idle {
		hc.CloseIdleConnections()
	}
}

// closeIdle closes the idle connections of every client.
func (cs *clients) closeIdle() {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	for _, pc := range cs.m {
		pc.hc.CloseIdleConnections()
	}
}

func newHostClient(k clientKey) *fasthttp.HostClient {
	var tlsCfg *tls.Config
	if k.tls {
		tlsCfg = &tls.Config{
			ServerName: k.serverName,
			// Kong's tls_verify defaults to off: upstreams commonly use
			// certificates of internal CAs.
			InsecureSkipVerify: !k.verify, //nolint:gosec // configured per service
			MinVersion:         tls.VersionTLS12,
		}
		if k.clientCert != nil {
			tlsCfg.Certificates = []tls.Certificate{*k.clientCert}
		}
	}
	return &fasthttp.HostClient{
		Addr:                          k.addr,
		IsTLS:                         k.tls,
		Dial:                          dialer(k, tlsCfg),
		MaxConns:                      upstreamMaxConns,
		MaxIdleConnDuration:           upstreamIdle,
		ReadBufferSize:                upstreamReadBuffer,
		StreamResponseBody:            true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: false,
		// Only a stale keep-alive connection is retried here; everything
		// else (connect failures) the proxy retries itself, across targets.
		RetryIfErr: func(req *fasthttp.Request, attempts int, err error) (bool, bool) {
			return false, attempts < 2 && staleConn(err) && isIdempotent(req.Header.Method())
		},
	}
}

func isIdempotent(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE":
		return true
	}
	return false
}

// dialer connects to a target within the connect timeout and wraps the
// connection so that read and write timeouts apply to each operation, as
// nginx's proxy_read_timeout and proxy_send_timeout do (Kong's read_timeout
// is "between two successive read operations"), not to the whole exchange:
// a long stream keeps flowing as long as it keeps moving. Errors are
// connectErrors: nothing was sent.
func dialer(k clientKey, tlsCfg *tls.Config) fasthttp.DialFunc {
	d := &net.Dialer{Timeout: k.connect, KeepAlive: 30 * time.Second}
	return func(addr string) (net.Conn, error) {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return nil, &connectError{addr: addr, err: err}
		}
		var conn net.Conn = &deadlineConn{Conn: c, read: k.read, write: k.write, io: socketIO(c)}
		if tlsCfg == nil {
			return conn, nil
		}
		tc := tls.Client(conn, tlsCfg)
		ctx, cancel := context.WithTimeout(context.Background(), k.connect)
		err = tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			_ = c.Close()
			return nil, &connectError{addr: addr, err: err}
		}
		return tc, nil
	}
}

// deadlineConn applies a timeout to every Read and Write, moving its
// deadlines lazily (deadlineSlack), and yields between turns (turns). Reads
// and writes may run concurrently (each keeps its own state), but not two
// of one kind.
type deadlineConn struct {
	net.Conn
	read, write     time.Duration
	readDL, writeDL lazyDeadline
	turns           turns
	io              io.ReadWriter // socketIO(Conn)
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	if c.read > 0 {
		if t := time.Now().Add(c.read); !c.readDL.keeps(t, c.read/deadlineSlack) {
			if err := c.Conn.SetReadDeadline(t); err != nil {
				return 0, err
			}
			c.readDL.moved(t)
		}
	}
	c.turns.beforeRead()
	return c.io.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	if c.write > 0 {
		if t := time.Now().Add(c.write); !c.writeDL.keeps(t, c.write/deadlineSlack) {
			if err := c.Conn.SetWriteDeadline(t); err != nil {
				return 0, err
			}
			c.writeDL.moved(t)
		}
	}
	c.turns.afterWrite()
	return c.io.Write(p)
}

// ms converts a Kong timeout in milliseconds, with Kong's default for 0.
func ms(v int) time.Duration {
	if v <= 0 {
		return defaultTimeout
	}
	return time.Duration(v) * time.Millisecond
}
