package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/route"
	"github.com/tollgate/tollgate/gateway/snapshot"
	"github.com/tollgate/tollgate/gateway/upstream"
	"github.com/tollgate/tollgate/internal/entity"
	"github.com/tollgate/tollgate/internal/logrecord"
	"github.com/valyala/fasthttp"
)

// exchangeKey is the user value under which a request's exchange waits for
// the end of its response: fasthttp closes io.Closer user values once the
// response has been written (or the connection failed), which is when the
// Log phase runs and the record is handed over.
type exchangeKey struct{}

// exchange is the state of one request, pooled. Everything in it lives
// until Close; nothing of it may be kept beyond.
type exchange struct {
	s   *Server
	l   *listener
	ctx *fasthttp.RequestCtx

	snap *snapshot.Snapshot
	set  *plugin.Set // nil when the snapshot has no plugins
	m    route.Match
	svc  *entity.Service
	ws   string

	pc   plugin.Context
	req  request
	resp response
	rh   routeHeaders
	rr   route.Request
	rec  logrecord.Record

	scheme      string // http or https, as received
	routeProto  string // scheme, or X-Forwarded-Proto of a trusted peer
	host        string // Host as received
	path        string // path as received, still encoded
	sni         string
	upPath      string // path to send upstream
	args        fasthttp.Args
	argsParsed  bool
	argsChanged bool

	peer        netip.Addr
	trustedPeer bool
	clientIP    netip.Addr
	clientIPStr string

	rid    [36]byte
	ridStr string

	started   time.Time
	upDur     time.Duration
	contacted bool
	tried     []string
	triedBuf  [4]string
	hash      upstream.HashInput
	setCookie []byte // Set-Cookie for hash_on cookie, nil when none

	up        fasthttp.Response // the upstream's response, streamed
	body      respBody
	reqBody   reqBody
	clientErr error
	failed    failure
	responder string
	errBuf    []byte
	smallBuf  []byte // a short upstream body, kept between requests

	bodyBuffered bool

	// memo keeps strings of the previous request served with this
	// exchange: consecutive requests often share them (same client, host,
	// path), and reusing an immutable string saves an allocation. It is
	// not reset between requests.
	memo struct {
		ip                netip.Addr
		ipStr, host, path string
		ua                string
	}

	tunnel          *tunnel
	wsIn, wsOut     int64
	hashHeaderFn    func(string) string
	hashCookieFn    func(string) string
	hashCookieName  string
	hashCookieValue string
}

func newExchange(s *Server) *exchange {
	x := &exchange{s: s}
	x.req.x = x
	x.resp.x = x
	x.rh.x = x
	x.hashHeaderFn = x.hashHeader
	x.hashCookieFn = x.hashCookie
	x.tried = x.triedBuf[:0]
	return x
}

// serve is the fasthttp handler of a listener: the whole request path.
func (l *listener) serve(ctx *fasthttp.RequestCtx) {
	l.s.requests.Add(1)
	x := l.s.pool.Get().(*exchange)
	x.begin(l, ctx)
	ctx.SetUserValue(exchangeKey{}, x)
	defer func() {
		if r := recover(); r != nil {
			// A bug, never input: answer 500 without running plugins again.
			l.s.log.Error("panic while serving a request", "request_id", x.ridStr,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			x.set = nil
			x.respondFailure(failInternal, fmt.Errorf("panic: %v", r))
		}
	}()
	x.handle()
}

// begin reads what every later step needs from the request as received.
func (x *exchange) begin(l *listener, ctx *fasthttp.RequestCtx) {
	s := l.s
	x.l, x.ctx = l, ctx
	x.started = ctx.Time()
	if x.started.IsZero() {
		x.started = time.Now()
	}
	s.ids.next(&x.rid)
	x.ridStr = string(x.rid[:])
	req := &ctx.Request
	h := &req.Header

	x.peer = peerAddr(ctx.RemoteIP())
	x.trustedPeer = len(s.trusted) > 0 && s.trusted.contains(x.peer)
	x.clientIP = x.peer
	x.scheme = l.scheme
	x.routeProto = l.scheme
	if x.trustedPeer {
		if a, ok := realClientIP(h.Peek(s.realIP), s.trusted); ok {
			x.clientIP = a
		}
		switch string(trimSpace(h.Peek(hXForwardedProto))) {
		case "https", "HTTPS":
			x.routeProto = "https"
		case "http", "HTTP":
			x.routeProto = "http"
		}
	}
	if x.clientIP != x.memo.ip || x.memo.ipStr == "" {
		x.memo.ip, x.memo.ipStr = x.clientIP, x.clientIP.String()
	}
	x.clientIPStr = x.memo.ipStr
	x.host = reuse(&x.memo.host, h.Host())
	x.path = reuse(&x.memo.path, req.URI().PathOriginal())
	if x.path == "" {
		x.path = "/"
	}
	if l.cfg.TLS {
		if st := ctx.TLSConnectionState(); st != nil {
			x.sni = st.ServerName
		}
	}
	if req.IsBodyStream() {
		x.reqBody.init(x, req.BodyStream())
		req.SetBodyStream(&x.reqBody, h.ContentLength())
	}

	pc := &x.pc
	pc.Request = &x.req
	pc.ClientIP = x.clientIP
	pc.RequestID = x.ridStr
	pc.Started = x.started
	pc.Record = &x.rec

	rec := &x.rec
	rec.RequestID = x.ridStr
	rec.TraceID = traceID(h.Peek(hTraceparent))
	rec.StartedAt = x.started.UnixMilli()
	rec.NodeID = s.cfg.NodeID
	rec.Method = methodString(h.Method())
	rec.Protocol = x.scheme
	rec.Host = x.host
	rec.Path = x.path
	rec.ClientIP = x.clientIPStr
	rec.UserAgent = reuse(&x.memo.ua, h.UserAgent())
}

// handle routes the request and runs it through the pipeline.
func (x *exchange) handle() {
	snap := x.s.cfg.Snapshots.Load()
	if snap == nil {
		x.respondFailure(failInternal, errors.New("no config snapshot loaded"))
		return
	}
	x.snap = snap
	x.set = snap.Plugins
	x.pc.Credentials = snap.Creds

	x.rr = route.Request{
		Protocol: x.routeProto,
		Method:   b2s(x.ctx.Method()),
		Host:     x.host,
		Path:     x.path,
		SNI:      x.sni,
		Header:   &x.rh,
	}
	m, ok := snap.Router.Match(&x.rr)
	x.rr.Header = nil
	if !ok {
		x.respondFailure(failNoRoute, nil)
		return
	}
	x.m = m
	rt := m.Entry.Route
	x.ws = m.Entry.Workspace
	x.pc.Workspace = x.ws
	x.pc.RouteID = rt.ID
	x.rec.Workspace = x.ws
	x.rec.RouteID = rt.ID
	x.rec.RoutePath = m.Path

	if m.RedirectHTTPS {
		x.redirectHTTPS(rt)
		return
	}

	svc, svcOK := snap.Service(entity.RefID(rt.Service))
	servicePath := ""
	if svcOK {
		x.svc = svc
		x.pc.ServiceID = svc.ID
		x.pc.ServiceName = svc.Name
		x.rec.ServiceID = svc.ID
		servicePath = svc.Path
	}
	x.upPath = route.UpstreamPath(servicePath, &x.m, x.path)

	if x.set != nil {
		x.set.Access(&x.pc)
		if e, exited := x.pc.Exited(); exited {
			x.respondExit(e)
			return
		}
	}
	switch {
	case !svcOK:
		x.respondFailure(failNoService, nil)
		return
	case !svc.IsEnabled():
		x.respondFailure(failServiceDisabled, nil)
		return
	}
	if isWebSocketUpgrade(&x.ctx.Request.Header) {
		x.proxyWebSocket()
		return
	}
	x.forward()
}

// target is where a service's requests go: a balancer, or one address.
type target struct {
	bal      *upstream.Balancer
	direct   string
	tls      bool
	hostHdr  string
	key      clientKey
	maxTries int
}

// resolveTarget works out the upstream address (or balancer), the Host
// header and the connection settings of the matched service.
func (x *exchange) resolveTarget() target {
	svc := x.svc
	st := x.s.serviceTarget(x.snap, svc)
	t := target{tls: st.tls, hostHdr: st.hostHdr, key: st.key, maxTries: st.maxTries}
	if x.s.cfg.Upstreams != nil {
		t.bal, _ = x.s.cfg.Upstreams.Lookup(x.ws, svc.Host)
	}
	switch {
	case x.m.Entry.Route.PreserveHost && x.host != "":
		t.hostHdr = x.host
	case t.bal != nil && t.bal.HostHeader() != "":
		t.hostHdr = t.bal.HostHeader()
	}
	if t.tls && t.hostHdr != st.hostHdr {
		t.key.serverName = string(hostWithoutPort([]byte(t.hostHdr)))
	}
	if t.bal == nil {
		t.direct = st.direct
	} else {
		x.prepareHash(t.bal)
	}
	return t
}

// pick chooses the address of the next try. ok is false when there is none
// (the failure has been answered).
func (x *exchange) pick(t *target, last failure, lastErr error) (addr string, peer *upstream.Peer, ok bool) {
	if t.bal == nil {
		return t.direct, nil, true
	}
	p, err := t.bal.Pick(&x.hash, x.tried)
	if err != nil {
		if len(x.tried) > 0 {
			// Every target failed in turn: report what the last try met.
			x.respondFailure(last, lastErr)
		} else {
			x.respondFailure(classify(err), err)
		}
		return "", nil, false
	}
	return p.Addr, p, true
}

// forward sends the request upstream, retrying connect failures (another
// target when the balancer has one), and relays the response.
func (x *exchange) forward() {
	t := x.resolveTarget()
	x.prepareRequest(t.hostHdr, t.tls, false)
	req := &x.ctx.Request
	var (
		last    failure
		lastErr error
	)
	for {
		addr, peer, ok := x.pick(&t, last, lastErr)
		if !ok {
			return
		}
		x.tried = append(x.tried, addr)
		t.key.addr = addr
		hc := x.s.clients.get(t.key, x.started)
		x.up.Header.SetNoDefaultContentType(true)
		t0 := time.Now()
		err := hc.Do(req, &x.up)
		x.upDur += time.Since(t0)
		x.contacted = true
		x.rec.UpstreamAddr = addr
		if err == nil {
			status := x.up.StatusCode()
			if t.bal != nil {
				t.bal.Done(peer, upstream.Outcome{Kind: upstream.HTTPStatus, Status: status})
			}
			x.rec.UpstreamStatus = status
			x.relay()
			return
		}
		if x.reqBody.err != nil {
			err = fmt.Errorf("%w: %w", errClientGone, err)
		}
		f := classify(err)
		if t.bal != nil {
			t.bal.Done(peer, f.outcome())
		}
		if f.info().retry && len(x.tried) < t.maxTries {
			last, lastErr = f, err
			continue
		}
		x.respondFailure(f, err)
		return
	}
}

// prepareRequest turns the client's request into the upstream's, in place.
func (x *exchange) prepareRequest(hostHdr string, tlsUp, upgrade bool) {
	req := &x.ctx.Request
	h := &req.Header
	x.setForwarded(h) // before Host changes: it reports the client's view
	if x.set == nil {
		// No plugin can have changed the fields received.
		stripReceivedRequestHopByHop(h)
	} else {
		stripRequestHopByHop(h)
	}
	if upgrade {
		h.Set(hUpgrade, "websocket")
		h.Set(hConnection, "Upgrade")
	}
	var vb [128]byte
	h.SetCanonical(bVia, appendVia(vb[:0], h.Peek(hVia)))
	h.SetCanonical(bRequestID, x.rid[:])
	h.SetProtocol("HTTP/1.1")
	h.SetHost(hostHdr)
	req.UseHostHeader = true
	uri := req.URI()
	if tlsUp {
		uri.SetScheme("https")
	} else {
		uri.SetScheme("http")
	}
	uri.DisablePathNormalizing = true
	uri.SetPath(x.upPath)
	if x.argsChanged {
		uri.SetQueryStringBytes(x.args.QueryString())
	}
	if x.setCookie != nil {
		// The generated hash cookie was not sent by the client; the upstream
		// sees it as Kong forwards it, and the client gets it back.
		h.SetCookie(x.hashCookieName, x.hashCookieValue)
	}
}

// setForwarded sets X-Forwarded-* and X-Real-IP as Kong does: values from
// a trusted peer are kept (X-Forwarded-For is appended to), others are
// replaced by what this hop saw.
func (x *exchange) setForwarded(h *fasthttp.RequestHeader) {
	trusted := x.trustedPeer
	var buf [256]byte
	b := buf[:0]
	if trusted {
		if prev := h.Peek(hXForwardedFor); len(prev) > 0 {
			b = append(b, prev...)
			b = append(b, ", "...)
		}
	}
	b = x.peer.AppendTo(b)
	h.SetCanonical(bXForwardedFor, b)
	if !trusted || len(h.Peek(hXForwardedProto)) == 0 {
		h.SetCanonical(bXForwardedProto, s2b(x.scheme))
	}
	if !trusted || len(h.Peek(hXForwardedHost)) == 0 {
		h.SetCanonical(bXForwardedHost, hostWithoutPort(h.Host()))
	}
	if !trusted || len(h.Peek(hXForwardedPort)) == 0 {
		h.SetCanonical(bXForwardedPort, s2b(x.l.port))
	}
	if !trusted || len(h.Peek(hXForwardedPath)) == 0 {
		h.SetCanonical(bXForwardedPath, s2b(x.path))
	}
	if !trusted {
		h.Del(hXForwardedPrefix)
	}
	h.SetCanonical(bXRealIP, s2b(x.clientIPStr))
}

// relay turns the upstream's response into the client's.
func (x *exchange) relay() {
	resp := &x.ctx.Response
	up := &x.up
	up.Header.CopyTo(&resp.Header)
	stripResponseHopByHop(&resp.Header)
	var vb [128]byte
	resp.Header.SetCanonical(bVia, appendVia(vb[:0], resp.Header.Peek(hVia)))
	x.responder = "upstream"
	if bs := up.BodyStream(); bs != nil {
		x.body.init(x, bs)
		if x.set != nil && x.set.NeedsResponseBody(&x.pc) {
			// A body filter needs the whole body: buffer it while the
			// response can still become a gateway error.
			resp.ResetBody()
			x.bodyBuffered = true
			_, err := io.Copy(resp.BodyWriter(), &x.body)
			_ = x.body.CloseWithError(err)
			if err != nil {
				x.respondFailure(classify(err), err)
				return
			}
		} else if cl := up.Header.ContentLength(); cl >= 0 && cl <= smallBody {
			// A short body is read whole and written with the head: no
			// stream to relay, and the upstream connection goes back to
			// its pool at once.
			if err := x.readSmallBody(cl); err != nil {
				x.respondFailure(classify(err), err)
				return
			}
		} else {
			if cl < -1 {
				cl = -1 // read-until-close upstream body: chunk it to the client
			}
			resp.SetBodyStream(&x.body, cl)
		}
	}
	if x.setCookie != nil {
		resp.Header.SetCanonical(bSetCookie, x.setCookie)
	}
	x.finish()
}

// smallBody is the largest upstream body, by Content-Length, that is
// buffered rather than streamed to the client.
const smallBody = 64 << 10

// readSmallBody reads the upstream body of length cl to its end into the
// exchange's buffer and makes it the client's response body, releasing the
// upstream stream.
func (x *exchange) readSmallBody(cl int) error {
	if cap(x.smallBuf) < cl+1 {
		x.smallBuf = make([]byte, 0, max(cl+1, 512))
	}
	buf := x.smallBuf[:cap(x.smallBuf)]
	n := 0
	var err error
	for {
		var m int
		m, err = x.body.Read(buf[n:])
		n += m
		if err != nil || n > cl {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if err == nil && n != cl {
		err = io.ErrUnexpectedEOF
	}
	_ = x.body.CloseWithError(err)
	if err != nil {
		return err
	}
	x.ctx.Response.SetBodyRaw(buf[:n])
	return nil
}

// finish runs the response phases on whatever response is in ctx.
func (x *exchange) finish() {
	resp := &x.ctx.Response
	resp.Header.SetCanonical(bRequestID, x.rid[:])
	if x.set == nil {
		return
	}
	x.pc.Response = &x.resp
	x.set.HeaderFilter(&x.pc)
	if !resp.IsBodyStream() && x.set.NeedsResponseBody(&x.pc) {
		x.set.BodyFilter(&x.pc)
	}
}

// respondExit answers with the response a plugin exited with.
func (x *exchange) respondExit(e plugin.Exit) {
	resp := &x.ctx.Response
	resp.SetStatusCode(e.Status)
	for k, v := range e.Headers {
		resp.Header.Set(k, v)
	}
	resp.SetBody(e.Body)
	x.responder = "gateway"
	if e.Status >= 400 && x.rec.ErrorClass == "" {
		x.rec.ErrorClass = "plugin"
	}
	x.finish()
}

// respondFailure answers with the gateway error f stands for.
func (x *exchange) respondFailure(f failure, err error) {
	info := f.info()
	x.failed = f
	x.rec.ErrorClass = info.class
	x.responder = "gateway"
	resp := &x.ctx.Response
	resp.Reset()
	resp.SetStatusCode(info.status)
	resp.Header.SetContentTypeBytes(jsonContentType)
	x.errBuf = appendErrorBody(x.errBuf[:0], info.message, x.ridStr)
	resp.SetBody(x.errBuf)
	switch f {
	case failNoRoute, failNoService, failServiceDisabled:
		// Configuration, not trouble: the record says it all.
	case failNoHealthyTarget:
		x.s.cfg.Metrics.NoHealthyTarget()
		x.s.log.Warn("no healthy target", "request_id", x.ridStr, "workspace", x.ws,
			"service", x.pc.ServiceName, "upstream", x.svcHost())
	default:
		x.s.log.Warn("upstream request failed", "request_id", x.ridStr, "status", info.status,
			"class", info.class, "service", x.pc.ServiceName, "tries", len(x.tried), "error", err)
	}
	x.finish()
}

func (x *exchange) svcHost() string {
	if x.svc == nil {
		return ""
	}
	return x.svc.Host
}

// redirectHTTPS answers a plain-http request on an https-only route as
// Kong does: 426 with a JSON body, or the configured redirect status with a
// Location to the same resource over https.
func (x *exchange) redirectHTTPS(rt *entity.Route) {
	code := rt.HTTPSRedirectStatusCode
	if code == 0 {
		code = fasthttp.StatusUpgradeRequired
	}
	resp := &x.ctx.Response
	resp.SetStatusCode(code)
	loc := make([]byte, 0, 16+len(x.host)+len(x.path))
	loc = append(loc, "https://"...)
	loc = append(loc, hostWithoutPort([]byte(x.host))...)
	loc = append(loc, x.path...)
	if q := x.ctx.URI().QueryString(); len(q) > 0 {
		loc = append(loc, '?')
		loc = append(loc, q...)
	}
	resp.Header.SetBytesV(hLocation, loc)
	if code == fasthttp.StatusUpgradeRequired {
		resp.Header.Set(hConnection, "Upgrade")
		resp.Header.Set(hUpgrade, "TLS/1.2, HTTP/1.1")
		resp.Header.SetContentTypeBytes(jsonContentType)
		x.errBuf = appendErrorBody(x.errBuf[:0], "Please use HTTPS protocol", x.ridStr)
		resp.SetBody(x.errBuf)
	}
	x.responder = "gateway"
	x.rec.ErrorClass = "https_required"
	x.finish()
}

// prepareHash fills the balancer's hash input; for hash_on cookie without
// the cookie in the request, it makes one up and has it set on the client,
// as Kong does.
func (x *exchange) prepareHash(bal *upstream.Balancer) {
	x.hash.ClientIP = x.clientIPStr
	x.hash.Header = x.hashHeaderFn
	x.hash.Cookie = x.hashCookieFn
	switch {
	case x.pc.Consumer != nil:
		x.hash.ConsumerID = x.pc.Consumer.ID
	case x.pc.Credential != nil:
		x.hash.ConsumerID = x.pc.Credential.ID
	}
	name, path, ok := bal.HashCookie()
	if !ok || len(x.ctx.Request.Header.Cookie(name)) > 0 {
		return
	}
	var id [36]byte
	x.s.ids.next(&id)
	x.hashCookieName = name
	x.hashCookieValue = string(id[:])
	if path == "" {
		path = "/"
	}
	c := make([]byte, 0, len(name)+len(id)+len(path)+32)
	c = append(c, name...)
	c = append(c, '=')
	c = append(c, id[:]...)
	c = append(c, "; Path="...)
	c = append(c, path...)
	c = append(c, "; SameSite=Lax; HttpOnly"...)
	x.setCookie = c
}

func (x *exchange) hashHeader(name string) string {
	vs := x.ctx.Request.Header.PeekAll(name)
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return string(vs[0])
	}
	var b []byte
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	return string(b)
}

func (x *exchange) hashCookie(name string) string {
	if name == x.hashCookieName && x.hashCookieValue != "" {
		return x.hashCookieValue
	}
	return string(x.ctx.Request.Header.Cookie(name))
}

// Close runs after the response has been written (or the client went
// away): the Log phase, the log record and the metrics, then the exchange
// goes back to the pool.
func (x *exchange) Close() error {
	now := time.Now()
	resp := &x.ctx.Response
	// The response must not keep pointing into this exchange.
	if x.body.active && !x.body.closed {
		_ = resp.CloseBodyStream()
		_ = x.body.CloseWithError(nil)
	}
	if x.tunnel != nil {
		defer x.s.tunnels.done(x.tunnel)
	}

	rec := &x.rec
	status := resp.StatusCode()
	if x.clientErr != nil && x.failed == failNone {
		x.failed = failClientGone
		rec.ErrorClass = failures[failClientGone].class
		status = failures[failClientGone].status
	}
	if x.failed == failClientGone {
		status = failures[failClientGone].status
	}
	total := now.Sub(x.started)
	gateway := total - x.upDur
	if gateway < 0 {
		gateway = 0
	}
	rec.Status = status
	rec.Responder = x.responder
	rec.UpstreamTries = len(x.tried)
	rec.LatencyTotalMs = msf(total)
	rec.LatencyUpstreamMs = msf(x.upDur)
	rec.LatencyGatewayMs = msf(gateway)
	switch {
	case x.tunnel != nil:
		rec.RequestBytes, rec.ResponseBytes = x.wsIn, x.wsOut
	default:
		if x.reqBody.active {
			rec.RequestBytes = x.reqBody.n
		} else if !x.ctx.Request.IsBodyStream() {
			rec.RequestBytes = int64(len(x.ctx.Request.Body()))
		}
		if x.body.active && !x.bodyBuffered {
			rec.ResponseBytes = x.body.n
		} else {
			rec.ResponseBytes = int64(len(resp.Body()))
		}
	}
	if c := x.pc.Consumer; c != nil {
		rec.ConsumerID = c.ID
		if rec.AuthOutcome == "" {
			rec.AuthOutcome = "authenticated"
			if x.pc.Anonymous {
				rec.AuthOutcome = "anonymous"
			}
		}
	}
	if x.pc.Credential != nil {
		rec.CredentialID = x.pc.Credential.ID
	}
	if !rec.Billable && rec.BillingUnits == 0 && x.responder == "upstream" {
		// A request the upstream served counts once; plugins that meter
		// otherwise set these themselves.
		rec.Billable = true
		rec.BillingUnits = 1
	}
	if x.set != nil {
		x.set.Log(&x.pc)
	}
	x.s.sink.Enqueue(rec)

	if mt := x.s.cfg.Metrics; mt != nil {
		svcLabel, routeLabel := "", ""
		if x.svc != nil {
			svcLabel = nameOr(x.svc.Name, x.svc.ID)
		}
		if x.m.Entry != nil {
			routeLabel = nameOr(x.m.Entry.Route.Name, x.m.Entry.Route.ID)
		}
		upMs := -1.0
		if x.contacted {
			upMs = rec.LatencyUpstreamMs
		}
		mt.Route(x.ws, svcLabel, routeLabel).Observe(status, rec.LatencyTotalMs, upMs, rec.LatencyGatewayMs)
	}
	x.release()
	return nil
}

// reuse returns *prev when it spells b, else a new string that it keeps.
func reuse(prev *string, b []byte) string {
	if string(b) != *prev {
		*prev = string(b)
	}
	return *prev
}

func nameOr(name, id string) string {
	if name != "" {
		return name
	}
	return id
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// release resets the exchange and puts it back in the pool. Buffers (the
// upstream response, query args, error body) are kept for the next request.
func (x *exchange) release() {
	x.up.Reset()
	x.args.Reset()
	clear(x.triedBuf[:])
	x.l, x.ctx, x.snap, x.set, x.svc = nil, nil, nil, nil, nil
	x.m, x.ws = route.Match{}, ""
	x.pc = plugin.Context{}
	x.rr = route.Request{}
	x.rec = logrecord.Record{}
	x.scheme, x.routeProto, x.host, x.path, x.sni, x.upPath = "", "", "", "", "", ""
	x.argsParsed, x.argsChanged = false, false
	x.peer, x.clientIP, x.trustedPeer, x.clientIPStr = netip.Addr{}, netip.Addr{}, false, ""
	x.ridStr = ""
	x.started, x.upDur, x.contacted = time.Time{}, 0, false
	x.tried = x.triedBuf[:0]
	x.hash = upstream.HashInput{}
	x.setCookie, x.hashCookieName, x.hashCookieValue = nil, "", ""
	x.body = respBody{}
	x.reqBody = reqBody{}
	x.bodyBuffered = false
	x.clientErr, x.failed, x.responder = nil, failNone, ""
	x.errBuf = x.errBuf[:0]
	x.tunnel, x.wsIn, x.wsOut = nil, 0, 0
	x.s.pool.Put(x)
}
