package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/tollgate/tollgate/gateway/upstream"
	"github.com/valyala/fasthttp"
)

// maxRefusalBody bounds the body of an upstream's non-101 answer to a
// WebSocket handshake, which is relayed buffered.
const maxRefusalBody = 1 << 20

// tunnel is one WebSocket connection relayed between client and upstream.
type tunnel struct {
	up, client net.Conn // client is nil until the hijack handler runs
}

// tunnels tracks open tunnels so that Shutdown can end them: they have no
// end of their own and fasthttp does not wait for hijacked connections.
type tunnels struct {
	mu     sync.Mutex
	m      map[*tunnel]struct{}
	closed bool
	wg     sync.WaitGroup
}

func (ts *tunnels) add(t *tunnel) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.closed {
		return false
	}
	ts.m[t] = struct{}{}
	ts.wg.Add(1)
	return true
}

// attach records the client side; false when shutting down. It keeps the
// connection under fasthttp's hijack wrapper, which is recycled once the
// hijack handler returns while the tunnel may still be listed here.
func (ts *tunnels) attach(t *tunnel, client net.Conn) bool {
	if u, ok := client.(interface{ UnsafeConn() net.Conn }); ok {
		client = u.UnsafeConn()
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t.client = client
	return !ts.closed
}

func (ts *tunnels) done(t *tunnel) {
	ts.mu.Lock()
	_, ok := ts.m[t]
	delete(ts.m, t)
	ts.mu.Unlock()
	if ok {
		_ = t.up.Close()
		ts.wg.Done()
	}
}

func (ts *tunnels) closeAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.closed = true
	for t := range ts.m {
		_ = t.up.Close()
		if t.client != nil {
			abort(t.client)
		}
	}
}

// abort ends a client connection: fasthttp's hijack wrapper ignores Close
// (the server closes the connection once the handler returns), so a read
// blocked on it is woken by an expired deadline as well.
func abort(c net.Conn) {
	_ = c.SetDeadline(time.Unix(1, 0))
	_ = c.Close()
}

// wait waits for every tunnel's exchange to finish, or for ctx.
func (ts *tunnels) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		ts.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("proxy: websocket tunnels still closing: %w", ctx.Err())
	}
}

// proxyWebSocket relays a WebSocket opening handshake to the upstream and,
// when it answers 101, hands both connections to a byte pipe (RFC 6455
// §4.1: a proxy keeps Upgrade and Connection for this hop). Any other
// answer is relayed as a normal response.
func (x *exchange) proxyWebSocket() {
	if x.scheme == "https" {
		x.rec.Protocol = "wss"
	} else {
		x.rec.Protocol = "ws"
	}
	t := x.resolveTarget()
	x.prepareRequest(t.hostHdr, t.tls, true)
	var tlsCfg *tls.Config
	if t.tls {
		tlsCfg = &tls.Config{
			ServerName:         t.key.serverName,
			InsecureSkipVerify: !t.key.verify, //nolint:gosec // configured per service
			MinVersion:         tls.VersionTLS12,
		}
		if t.key.clientCert != nil {
			tlsCfg.Certificates = []tls.Certificate{*t.key.clientCert}
		}
	}
	var (
		last    failure
		lastErr error
		conn    net.Conn
		peer    *upstream.Peer
	)
	for {
		addr, p, ok := x.pick(&t, last, lastErr)
		if !ok {
			return
		}
		x.tried = append(x.tried, addr)
		x.rec.UpstreamAddr = addr
		t0 := time.Now()
		c, err := dialer(t.key, tlsCfg)(addr)
		x.upDur += time.Since(t0)
		x.contacted = true
		if err == nil {
			conn, peer = c, p
			break
		}
		f := classify(err)
		if t.bal != nil {
			t.bal.Done(p, f.outcome())
		}
		if f.info().retry && len(x.tried) < t.maxTries {
			last, lastErr = f, err
			continue
		}
		x.respondFailure(f, err)
		return
	}
	done := func(o upstream.Outcome) {
		if t.bal != nil {
			t.bal.Done(peer, o)
		}
	}

	// The handshake, under the service's timeouts (deadlineConn applies
	// them per operation).
	req := &x.ctx.Request
	uri := req.URI()
	req.Header.SetRequestURIBytes(uri.RequestURI())
	t0 := time.Now()
	bw := bufio.NewWriterSize(conn, 4096)
	err := req.Header.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	br := bufio.NewReaderSize(conn, 4096)
	rh := &x.up.Header
	rh.SetNoDefaultContentType(true)
	if err == nil {
		err = rh.Read(br)
	}
	x.upDur += time.Since(t0)
	if err != nil {
		_ = conn.Close()
		f := classify(err)
		done(f.outcome())
		x.respondFailure(f, err)
		return
	}
	status := rh.StatusCode()
	x.rec.UpstreamStatus = status
	done(upstream.Outcome{Kind: upstream.HTTPStatus, Status: status})
	resp := &x.ctx.Response
	rh.CopyTo(&resp.Header)
	var vb [128]byte
	resp.Header.SetBytesV(hVia, appendVia(vb[:0], resp.Header.Peek(hVia)))
	x.responder = "upstream"

	if status != fasthttp.StatusSwitchingProtocols {
		stripResponseHopByHop(&resp.Header)
		err := resp.ReadBody(br, maxRefusalBody)
		_ = conn.Close()
		if err != nil {
			x.respondFailure(classify(err), err)
			return
		}
		x.finish()
		return
	}
	x.finish()

	tn := &tunnel{up: conn}
	if !x.s.tunnels.add(tn) {
		_ = conn.Close()
		x.respondFailure(failServiceDisabled, errors.New("shutting down"))
		return
	}
	x.tunnel = tn
	x.ctx.HijackSetNoResponse(true)
	x.ctx.Hijack(func(client net.Conn) { x.pipe(tn, client, br) })
}

// pipe writes the 101 response to the client, then copies bytes both ways
// until either side closes. The exchange's Close (run by fasthttp when
// this returns) logs the tunnel.
func (x *exchange) pipe(tn *tunnel, client net.Conn, upBuf *bufio.Reader) {
	if !x.s.tunnels.attach(tn, client) {
		abort(client)
		return
	}
	if _, err := client.Write(x.ctx.Response.Header.Header()); err != nil {
		x.clientErr = err
		return
	}
	// The service's read and write timeouts keep applying to each
	// operation on the upstream side, as nginx's do to a proxied
	// WebSocket: a tunnel quiet for longer than read_timeout is closed, as
	// in Kong.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n, _ := io.Copy(client, upBuf)
		x.wsOut = n
		abort(client)
		_ = tn.up.Close()
	}()
	n, _ := io.Copy(tn.up, client)
	x.wsIn = n
	_ = tn.up.Close()
	abort(client)
	wg.Wait()
}
