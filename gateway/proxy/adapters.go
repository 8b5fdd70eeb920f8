package proxy

import (
	"bytes"
	"io"
	"unsafe"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/route"
	"github.com/valyala/fasthttp"
)

// request shows the fasthttp request to plugins as a plugin.Request. Values
// it returns are copies: plugins may keep them. Query changes are kept
// aside in args so that an untouched query string is forwarded byte for
// byte (parsing and re-encoding it would change its spelling).
type request struct {
	x *exchange
}

var (
	_ plugin.Request      = (*request)(nil)
	_ plugin.MethodSetter = (*request)(nil)
)

func (r *request) req() *fasthttp.Request { return &r.x.ctx.Request }

func (r *request) Method() string     { return methodString(r.req().Header.Method()) }
func (r *request) SetMethod(m string) { r.req().Header.SetMethod(m) }
func (r *request) Scheme() string     { return r.x.scheme }
func (r *request) Host() string       { return r.x.host }
func (r *request) Path() string       { return r.x.upPath }
func (r *request) SetPath(p string)   { r.x.upPath = p }
func (r *request) Header(n string) string {
	return string(r.req().Header.Peek(n))
}

func (r *request) HeaderValues(name string) []string {
	vs := r.req().Header.PeekAll(name)
	if len(vs) == 0 {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func (r *request) SetHeader(name, value string) { r.req().Header.Set(name, value) }
func (r *request) AddHeader(name, value string) { r.req().Header.Add(name, value) }
func (r *request) DelHeader(name string)        { r.req().Header.Del(name) }

func (r *request) VisitHeaders(f func(name, value string)) {
	r.req().Header.VisitAll(func(k, v []byte) { f(string(k), string(v)) })
}

func (r *request) args() *fasthttp.Args {
	x := r.x
	if !x.argsParsed {
		x.args.ParseBytes(x.ctx.URI().QueryString())
		x.argsParsed = true
	}
	return &x.args
}

func (r *request) Query(name string) string  { return string(r.args().Peek(name)) }
func (r *request) HasQuery(name string) bool { return r.args().Has(name) }
func (r *request) SetQuery(name, value string) {
	r.args().Set(name, value)
	r.x.argsChanged = true
}

func (r *request) AddQuery(name, value string) {
	r.args().Add(name, value)
	r.x.argsChanged = true
}

func (r *request) DelQuery(name string) {
	r.args().Del(name)
	r.x.argsChanged = true
}

func (r *request) VisitQuery(f func(name, value string)) {
	r.args().VisitAll(func(k, v []byte) { f(string(k), string(v)) })
}

// ContentLength is the declared body length, -1 when chunked.
func (r *request) ContentLength() int64 {
	req := r.req()
	if !req.IsBodyStream() {
		return int64(len(req.Body()))
	}
	n := req.Header.ContentLength()
	if n < -1 {
		return 0 // no body (identity without length does not exist for requests)
	}
	return int64(n)
}

// Body reads the body into memory, at most max bytes. A streamed body is
// read here and kept, so that the upstream receives it as well; when it is
// longer than max, what was read is put back in front of the rest of the
// stream and ok is false.
func (r *request) Body(max int64) ([]byte, bool, error) {
	req := r.req()
	if !req.IsBodyStream() {
		b := req.Body()
		if int64(len(b)) > max {
			return nil, false, nil
		}
		return b, true, nil
	}
	stream := req.BodyStream()
	cl := req.Header.ContentLength()
	if cl >= 0 && int64(cl) > max {
		return nil, false, nil // declared too long: leave the stream alone
	}
	var buf bytes.Buffer
	if cl > 0 {
		buf.Grow(cl)
	}
	_, err := buf.ReadFrom(io.LimitReader(stream, max+1))
	if err != nil {
		return nil, false, err
	}
	if int64(buf.Len()) > max {
		req.SetBodyStream(io.MultiReader(bytes.NewReader(buf.Bytes()), stream), cl)
		return nil, false, nil
	}
	req.SetBody(buf.Bytes())
	return req.Body(), true, nil
}

func (r *request) SetBody(b []byte) { r.req().SetBody(b) }

// response shows the response on its way to the client as a
// plugin.Response.
type response struct {
	x *exchange
}

var _ plugin.Response = (*response)(nil)

func (r *response) resp() *fasthttp.Response { return &r.x.ctx.Response }

func (r *response) Status() int        { return r.resp().StatusCode() }
func (r *response) SetStatus(code int) { r.resp().SetStatusCode(code) }
func (r *response) Header(n string) string {
	return string(r.resp().Header.Peek(n))
}
func (r *response) SetHeader(name, value string) { r.resp().Header.Set(name, value) }
func (r *response) AddHeader(name, value string) { r.resp().Header.Add(name, value) }
func (r *response) DelHeader(name string)        { r.resp().Header.Del(name) }
func (r *response) VisitHeaders(f func(name, value string)) {
	r.resp().Header.VisitAll(func(k, v []byte) { f(string(k), string(v)) })
}

// Body is the buffered body; in phases other than BodyFilter of a streamed
// response it is empty.
func (r *response) Body() []byte {
	if r.resp().IsBodyStream() {
		return nil
	}
	return r.resp().Body()
}

func (r *response) SetBody(b []byte) { r.resp().SetBody(b) }

// routeHeaders gives the router the request's header values without
// copying: the router reads them only during Match.
type routeHeaders struct {
	x   *exchange
	buf []string
}

var _ route.HeaderSource = (*routeHeaders)(nil)

func (h *routeHeaders) HeaderValues(name string) []string {
	vs := h.x.ctx.Request.Header.PeekAll(name)
	h.buf = h.buf[:0]
	for _, v := range vs {
		h.buf = append(h.buf, b2s(v))
	}
	return h.buf
}

// b2s views b as a string without copying; b must not change while the
// string is in use.
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// methodString returns the method as a string, without allocating for
// the standard ones.
func methodString(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "HEAD":
		return "HEAD"
	case "OPTIONS":
		return "OPTIONS"
	case "CONNECT":
		return "CONNECT"
	case "TRACE":
		return "TRACE"
	}
	return string(m)
}
