package proxy

import (
	"bytes"
	"unsafe"

	"github.com/tollgate/tollgate/internal/tokenlist"
	"github.com/valyala/fasthttp"
)

// Header names, precomputed so that the request path does not build them.
const (
	hConnection        = "Connection"
	hKeepAlive         = "Keep-Alive"
	hProxyConnection   = "Proxy-Connection"
	hTE                = "Te"
	hTransferEncoding  = "Transfer-Encoding"
	hUpgrade           = "Upgrade"
	hProxyAuthorize    = "Proxy-Authorization"
	hProxyAuthenticate = "Proxy-Authenticate"
	hVia               = "Via"
	hRequestID         = "X-Request-Id"
	hXForwardedFor     = "X-Forwarded-For"
	hXForwardedProto   = "X-Forwarded-Proto"
	hXForwardedHost    = "X-Forwarded-Host"
	hXForwardedPort    = "X-Forwarded-Port"
	hXForwardedPath    = "X-Forwarded-Path"
	hXForwardedPrefix  = "X-Forwarded-Prefix"
	hXRealIP           = "X-Real-Ip"
	hLocation          = "Location"
	hContentType       = "Content-Type"
	hSetCookie         = "Set-Cookie"
	hTraceparent       = "Traceparent"
)

// Canonical header names as bytes, for SetCanonical: the request path sets
// these on every request and need not normalize them each time.
var (
	bVia             = []byte(hVia)
	bRequestID       = []byte(hRequestID)
	bXForwardedFor   = []byte(hXForwardedFor)
	bXForwardedProto = []byte(hXForwardedProto)
	bXForwardedHost  = []byte(hXForwardedHost)
	bXForwardedPort  = []byte(hXForwardedPort)
	bXForwardedPath  = []byte(hXForwardedPath)
	bXRealIP         = []byte(hXRealIP)
	bSetCookie       = []byte(hSetCookie)
)

// s2b views s as bytes without copying; the bytes must not be modified.
func s2b(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// viaToken is this gateway's entry in Via (RFC 9110 §7.6.3).
const viaToken = "1.1 tollgate"

var (
	jsonContentType = []byte("application/json; charset=utf-8")
	tokenClose      = []byte("close")
	tokenKeepAlive  = []byte("keep-alive")
	tokenUpgrade    = []byte("upgrade")
	tokenWebsocket  = []byte("websocket")
)

// hopByHopRequest are the request fields that concern only this hop (RFC
// 9110 §7.6.1, plus Proxy-Connection of old clients and the credentials a
// client addresses to a proxy), besides the ones Connection names.
// Transfer-Encoding is redone by the engine for the upstream hop.
var hopByHopRequest = [...]string{hKeepAlive, hProxyConnection, hTE, hTransferEncoding, hUpgrade, hProxyAuthorize}

// hopByHopResponse is the same for responses.
var hopByHopResponse = [...]string{hKeepAlive, hProxyConnection, hTE, hTransferEncoding, hUpgrade, hProxyAuthenticate}

// connectionTokens calls f with every field name the Connection header
// value v lists, except close and keep-alive, which are options rather
// than fields (keep-alive names Keep-Alive, removed anyway).
func connectionTokens(v []byte, f func(name []byte)) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var tok []byte
		if i < 0 {
			tok, v = v, nil
		} else {
			tok, v = v[:i], v[i+1:]
		}
		tok = trimSpace(tok)
		if len(tok) == 0 || bytes.EqualFold(tok, tokenClose) || bytes.EqualFold(tok, tokenKeepAlive) {
			continue
		}
		f(tok)
	}
}

// stripRequestHopByHop removes the hop-by-hop fields of a request before it
// is forwarded. The Connection value is copied first: deleting fields may
// move the header's storage.
func stripRequestHopByHop(h *fasthttp.RequestHeader) {
	if v := h.Peek(hConnection); len(v) > 0 {
		var buf [256]byte
		cv := append(buf[:0], v...)
		connectionTokens(cv, func(name []byte) { h.DelBytes(name) })
	}
	h.Del(hConnection) // also clears the engine's close flag for the upstream hop
	for _, name := range hopByHopRequest {
		h.Del(name)
	}
}

// stripReceivedRequestHopByHop is stripRequestHopByHop for a request whose
// fields are still those received, apart from ones set by this hop that are
// not hop-by-hop: the received block tells, in one pass, whether there is
// anything to remove.
func stripReceivedRequestHopByHop(h *fasthttp.RequestHeader) {
	switch rawRequestHopByHop(h.RawHeaders()) {
	case hopNone:
		if h.ConnectionClose() {
			h.Del(hConnection) // the engine's close flag, without a field
		}
		return
	case hopConnection:
		h.Del(hConnection)
		return
	}
	stripRequestHopByHop(h)
}

// rawRequestHopByHop scans a received header block for hop-by-hop fields.
// An empty block (nothing received, or not kept) takes the full pass.
func rawRequestHopByHop(raw []byte) int {
	if len(raw) == 0 {
		return hopAll
	}
	res := hopNone
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			continue // end of the block
		}
		if line[0] == ' ' || line[0] == '\t' {
			return hopAll // a folded value: leave it to the full pass
		}
		i := bytes.IndexByte(line, ':')
		if i < 0 {
			return hopAll
		}
		k := trimSpace(line[:i])
		if !isHopByHopRequest(k) {
			continue
		}
		if len(k) != len(hConnection) || !bytes.EqualFold(k, []byte(hConnection)) {
			return hopAll
		}
		named := false
		connectionTokens(trimSpace(line[i+1:]), func([]byte) { named = true })
		if named {
			return hopAll
		}
		res = hopConnection
	}
	return res
}

func isHopByHopRequest(k []byte) bool {
	if len(k) < len(hTE) || len(k) > len(hProxyAuthorize) {
		return false
	}
	if len(k) == len(hConnection) && bytes.EqualFold(k, []byte(hConnection)) {
		return true
	}
	for _, n := range hopByHopRequest {
		if len(n) == len(k) && bytes.EqualFold(k, []byte(n)) {
			return true
		}
	}
	return false
}

// stripResponseHopByHop does the same for a response on its way back. The
// upstream closing its connection must not close the client's.
func stripResponseHopByHop(h *fasthttp.ResponseHeader) {
	switch responseHopByHop(h) {
	case hopNone:
		return
	case hopConnection:
		h.Del(hConnection)
		return
	}
	if v := h.Peek(hConnection); len(v) > 0 {
		var buf [256]byte
		cv := append(buf[:0], v...)
		connectionTokens(cv, func(name []byte) { h.DelBytes(name) })
	}
	h.Del(hConnection)
	for _, name := range hopByHopResponse {
		h.Del(name)
	}
}

// What stripResponseHopByHop has to remove.
const (
	hopNone       = iota // nothing
	hopConnection        // Connection, naming no other field
	hopAll               // other fields: the full pass
)

// responseHopByHop tells what stripResponseHopByHop has to do: one pass
// over the fields costs less than a lookup of each name. Fields of an
// announced trailer are not in the scan, so an announcement takes the full
// pass.
func responseHopByHop(h *fasthttp.ResponseHeader) int {
	for range h.Trailers() {
		return hopAll
	}
	res := hopNone
	for k, v := range h.All() {
		if !isHopByHopResponse(k) {
			continue
		}
		if len(k) != len(hConnection) || !bytes.EqualFold(k, []byte(hConnection)) {
			return hopAll
		}
		named := false
		connectionTokens(v, func([]byte) { named = true })
		if named {
			return hopAll
		}
		res = hopConnection
	}
	return res
}

func isHopByHopResponse(k []byte) bool {
	if len(k) < len(hTE) || len(k) > len(hProxyAuthenticate) {
		return false
	}
	if len(k) == len(hConnection) && bytes.EqualFold(k, []byte(hConnection)) {
		return true
	}
	for _, n := range hopByHopResponse {
		if len(n) == len(k) && bytes.EqualFold(k, []byte(n)) {
			return true
		}
	}
	return false
}

// appendVia returns the Via value with this gateway's entry appended to
// what earlier hops listed.
func appendVia(dst, prev []byte) []byte {
	if len(prev) > 0 {
		dst = append(dst, prev...)
		dst = append(dst, ", "...)
	}
	return append(dst, viaToken...)
}

// isWebSocketUpgrade reports a WebSocket opening handshake (RFC 6455 §4.1).
func isWebSocketUpgrade(h *fasthttp.RequestHeader) bool {
	return bytes.EqualFold(trimSpace(h.Peek(hUpgrade)), tokenWebsocket) &&
		tokenlist.Has(h.Peek(hConnection), tokenUpgrade)
}

// hostWithoutPort strips a port from a Host value ([v6]:port included).
func hostWithoutPort(host []byte) []byte {
	if len(host) > 0 && host[0] == '[' {
		if i := bytes.IndexByte(host, ']'); i > 0 {
			return host[:i+1]
		}
		return host
	}
	if i := bytes.LastIndexByte(host, ':'); i >= 0 {
		return host[:i]
	}
	return host
}

// traceID extracts the trace id of a W3C traceparent header
// (version-traceid-parentid-flags), "" when it is malformed.
func traceID(v []byte) string {
	if len(v) < 55 || v[2] != '-' || v[35] != '-' {
		return ""
	}
	id := v[3:35]
	zero := true
	for _, c := range id {
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		default:
			return ""
		}
		zero = zero && c == '0'
	}
	if zero {
		return ""
	}
	return string(id)
}
