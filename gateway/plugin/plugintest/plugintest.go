// Package plugintest provides in-memory implementations of the plugin API's
// Request, Response and Credentials for tests of plugins and of the packages
// that run them. They keep headers and query parameters in order, compare
// names as HTTP does, and record what a test may want to assert (for
// instance whether the request body was read).
//
// It must never be imported by non-test code.
package plugintest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

type pair struct{ name, value string }

// fields is an ordered multimap of names to values; names compare
// case-insensitively when fold is true (headers) and exactly otherwise
// (query parameters).
type fields struct {
	fold bool
	kv   []pair
}

func (f *fields) eq(a, b string) bool {
	if f.fold {
		return strings.EqualFold(a, b)
	}
	return a == b
}

func (f *fields) get(name string) (string, bool) {
	for _, p := range f.kv {
		if f.eq(p.name, name) {
			return p.value, true
		}
	}
	return "", false
}

func (f *fields) values(name string) []string {
	var vs []string
	for _, p := range f.kv {
		if f.eq(p.name, name) {
			vs = append(vs, p.value)
		}
	}
	return vs
}

func (f *fields) set(name, value string) {
	for i, p := range f.kv {
		if f.eq(p.name, name) {
			f.kv[i].value = value
			f.del(name, i+1)
			return
		}
	}
	f.kv = append(f.kv, pair{name, value})
}

func (f *fields) add(name, value string) { f.kv = append(f.kv, pair{name, value}) }

// del removes every value of name from index from on.
func (f *fields) del(name string, from int) {
	out := f.kv[:from]
	for _, p := range f.kv[from:] {
		if !f.eq(p.name, name) {
			out = append(out, p)
		}
	}
	clear(f.kv[len(out):])
	f.kv = out
}

func (f *fields) visit(fn func(name, value string)) {
	for _, p := range f.kv {
		fn(p.name, p.value)
	}
}

// Request is an in-memory plugin.Request. It also implements
// plugin.MethodSetter.
type Request struct {
	method, scheme, host, path string
	headers                    fields
	query                      fields
	body                       []byte
	contentLength              int64

	// BodyReads counts calls of Body, so tests can assert that a plugin left
	// the body streaming.
	BodyReads int
}

var (
	_ plugin.Request      = (*Request)(nil)
	_ plugin.MethodSetter = (*Request)(nil)
	_ plugin.Response     = (*Response)(nil)
	_ plugin.Credentials  = (*Credentials)(nil)
)

// NewRequest returns a request for rawURL, absolute ("https://h/p?q") or a
// path with an optional query ("/p?q"). The Host header, when given, wins
// over the URL's host. A request with a body gets a Content-Length header
// unless headers say "Transfer-Encoding: chunked", in which case its length
// is unknown (-1), as for a chunked upload. An unparsable URL is used as the
// path.
func NewRequest(method, rawURL string, headers map[string]string, body []byte) *Request {
	r := &Request{method: method, scheme: "http", path: rawURL, body: body}
	r.headers.fold = true
	if u, err := url.Parse(rawURL); err == nil {
		if u.Scheme != "" {
			r.scheme = u.Scheme
		}
		r.host = u.Host
		r.path = u.EscapedPath()
		if r.path == "" {
			r.path = "/"
		}
		for _, kv := range strings.Split(u.RawQuery, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			k, _ = url.QueryUnescape(k)
			v, _ = url.QueryUnescape(v)
			r.query.add(k, v)
		}
	}
	chunked := false
	for k, v := range headers {
		r.headers.add(k, v)
		if strings.EqualFold(k, "Transfer-Encoding") && strings.Contains(strings.ToLower(v), "chunked") {
			chunked = true
		}
	}
	if h, ok := r.headers.get("Host"); ok {
		r.host = h
	} else if r.host != "" {
		r.headers.add("Host", r.host)
	}
	switch {
	case chunked:
		r.contentLength = -1
		r.headers.del("Content-Length", 0)
	case body != nil:
		if _, ok := r.headers.get("Content-Length"); !ok {
			r.headers.add("Content-Length", strconv.Itoa(len(body)))
		}
		r.contentLength = int64(len(body))
	}
	if cl, ok := r.headers.get("Content-Length"); ok && !chunked {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil {
			r.contentLength = n
		}
	}
	return r
}

// Method returns the request method.
func (r *Request) Method() string { return r.method }

// SetMethod changes the method sent upstream.
func (r *Request) SetMethod(m string) { r.method = m }

// Scheme returns http or https.
func (r *Request) Scheme() string { return r.scheme }

// Host returns the Host as received.
func (r *Request) Host() string { return r.host }

// Path returns the path to send upstream.
func (r *Request) Path() string { return r.path }

// SetPath changes the path sent upstream.
func (r *Request) SetPath(p string) { r.path = p }

// Header returns the first value of name.
func (r *Request) Header(name string) string { v, _ := r.headers.get(name); return v }

// HeaderValues returns every value of name.
func (r *Request) HeaderValues(name string) []string { return r.headers.values(name) }

// SetHeader replaces every value of name.
func (r *Request) SetHeader(name, value string) { r.headers.set(name, value) }

// AddHeader adds a value of name.
func (r *Request) AddHeader(name, value string) { r.headers.add(name, value) }

// DelHeader removes every value of name.
func (r *Request) DelHeader(name string) { r.headers.del(name, 0) }

// VisitHeaders calls f for every header value in order.
func (r *Request) VisitHeaders(f func(name, value string)) { r.headers.visit(f) }

// Query returns the first value of the query parameter name.
func (r *Request) Query(name string) string { v, _ := r.query.get(name); return v }

// HasQuery reports whether the query parameter name is present.
func (r *Request) HasQuery(name string) bool { _, ok := r.query.get(name); return ok }

// SetQuery replaces every value of name.
func (r *Request) SetQuery(name, value string) { r.query.set(name, value) }

// AddQuery adds a value of name.
func (r *Request) AddQuery(name, value string) { r.query.add(name, value) }

// DelQuery removes every value of name.
func (r *Request) DelQuery(name string) { r.query.del(name, 0) }

// VisitQuery calls f for every query parameter in order.
func (r *Request) VisitQuery(f func(name, value string)) { r.query.visit(f) }

// RawQuery encodes the query parameters in order.
func (r *Request) RawQuery() string {
	var b strings.Builder
	for i, p := range r.query.kv {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.value))
	}
	return b.String()
}

// URI returns the path and, if any, the encoded query.
func (r *Request) URI() string {
	if q := r.RawQuery(); q != "" {
		return r.path + "?" + q
	}
	return r.path
}

// ContentLength returns the declared length, -1 when chunked.
func (r *Request) ContentLength() int64 { return r.contentLength }

// Body returns the body if it is at most max bytes long.
func (r *Request) Body(max int64) ([]byte, bool, error) {
	r.BodyReads++
	if int64(len(r.body)) > max {
		return nil, false, nil
	}
	return r.body, true, nil
}

// RawBody returns the body as it stands, without counting a read.
func (r *Request) RawBody() []byte { return r.body }

// SetBody replaces the body. The Content-Length header is the caller's to
// set, as with the real request.
func (r *Request) SetBody(b []byte) {
	r.body = b
	r.contentLength = int64(len(b))
}

// Response is an in-memory plugin.Response.
type Response struct {
	status  int
	headers fields
	body    []byte
}

// NewResponse returns a response with the given status, headers and body.
func NewResponse(status int, headers map[string]string, body []byte) *Response {
	r := &Response{status: status, body: body}
	r.headers.fold = true
	for k, v := range headers {
		r.headers.add(k, v)
	}
	return r
}

// FromExit returns the response a gateway sends for an Exit.
func FromExit(e plugin.Exit) *Response { return NewResponse(e.Status, e.Headers, e.Body) }

// Status returns the status code.
func (r *Response) Status() int { return r.status }

// SetStatus changes the status code.
func (r *Response) SetStatus(code int) { r.status = code }

// Header returns the first value of name.
func (r *Response) Header(name string) string { v, _ := r.headers.get(name); return v }

// HeaderValues returns every value of name.
func (r *Response) HeaderValues(name string) []string { return r.headers.values(name) }

// SetHeader replaces every value of name.
func (r *Response) SetHeader(name, value string) { r.headers.set(name, value) }

// AddHeader adds a value of name.
func (r *Response) AddHeader(name, value string) { r.headers.add(name, value) }

// DelHeader removes every value of name.
func (r *Response) DelHeader(name string) { r.headers.del(name, 0) }

// VisitHeaders calls f for every header value in order.
func (r *Response) VisitHeaders(f func(name, value string)) { r.headers.visit(f) }

// Body returns the body.
func (r *Response) Body() []byte { return r.body }

// SetBody replaces the body.
func (r *Response) SetBody(b []byte) { r.body = b }

// Credentials is an in-memory plugin.Credentials, safe for concurrent use.
// Workspace "" means the default workspace.
type Credentials struct {
	mu        sync.RWMutex
	consumers map[string]map[string]*entity.Consumer // ws → id and username → consumer
	keys      map[string]map[string]keyCred          // ws → hex sha256 of key
	basics    map[string]map[string]basicCred        // ws → username
	groups    map[string]map[string][]string         // ws → consumer id → groups
}

type keyCred struct {
	consumer *entity.Consumer
	cred     *entity.KeyAuthCredential
}

type basicCred struct {
	consumer *entity.Consumer
	cred     *entity.BasicAuthCredential
	password string
}

// NewCredentials returns an empty lookup.
func NewCredentials() *Credentials {
	return &Credentials{
		consumers: map[string]map[string]*entity.Consumer{},
		keys:      map[string]map[string]keyCred{},
		basics:    map[string]map[string]basicCred{},
		groups:    map[string]map[string][]string{},
	}
}

func ws(w string) string {
	if w == "" {
		return entity.DefaultWorkspace
	}
	return w
}

func sub[V any](m map[string]map[string]V, w string) map[string]V {
	s := m[ws(w)]
	if s == nil {
		s = map[string]V{}
		m[ws(w)] = s
	}
	return s
}

// AddConsumer adds a consumer with the given id, username and custom id
// (either of the last two may be empty) and returns it.
func (c *Credentials) AddConsumer(workspace, id, username, customID string) *entity.Consumer {
	con := &entity.Consumer{Meta: entity.Meta{ID: id, Workspace: ws(workspace)}, Username: username, CustomID: customID}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := sub(c.consumers, workspace)
	m[id] = con
	if username != "" {
		m[username] = con
	}
	return con
}

// HashKey returns the hex SHA-256 of an API key, the form in which
// key-auth credentials are stored.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// AddKey adds a key-auth credential with id credID for the consumer with id
// consumerID (which must have been added) and returns it.
func (c *Credentials) AddKey(workspace, consumerID, credID, key string) *entity.KeyAuthCredential {
	c.mu.Lock()
	defer c.mu.Unlock()
	con := sub(c.consumers, workspace)[consumerID]
	cred := &entity.KeyAuthCredential{
		Meta:     entity.Meta{ID: credID, Workspace: ws(workspace)},
		KeyHash:  HashKey(key),
		Consumer: &entity.Ref{ID: consumerID},
	}
	sub(c.keys, workspace)[cred.KeyHash] = keyCred{con, cred}
	return cred
}

// AddBasicAuth adds a basic-auth credential for the consumer with id
// consumerID (which must have been added) and returns it.
func (c *Credentials) AddBasicAuth(workspace, consumerID, credID, username, password string) *entity.BasicAuthCredential {
	c.mu.Lock()
	defer c.mu.Unlock()
	con := sub(c.consumers, workspace)[consumerID]
	cred := &entity.BasicAuthCredential{
		Meta:     entity.Meta{ID: credID, Workspace: ws(workspace)},
		Username: username,
		Consumer: &entity.Ref{ID: consumerID},
	}
	sub(c.basics, workspace)[username] = basicCred{con, cred, password}
	return cred
}

// AddGroups puts the consumer with id consumerID in ACL groups.
func (c *Credentials) AddGroups(workspace, consumerID string, groups ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := sub(c.groups, workspace)
	m[consumerID] = append(m[consumerID], groups...)
}

// KeyAuth finds the credential whose key hash is the SHA-256 of key.
func (c *Credentials) KeyAuth(workspace, key string) (*entity.Consumer, *entity.KeyAuthCredential, bool) {
	sum := sha256.Sum256([]byte(key))
	var buf [64]byte
	hex.Encode(buf[:], sum[:])
	c.mu.RLock()
	defer c.mu.RUnlock()
	k, ok := c.keys[ws(workspace)][string(buf[:])]
	if !ok || k.consumer == nil {
		return nil, nil, false
	}
	return k.consumer, k.cred, true
}

// BasicAuth finds the credential of username and checks password.
func (c *Credentials) BasicAuth(workspace, username, password string) (*entity.Consumer, *entity.BasicAuthCredential, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.basics[ws(workspace)][username]
	if !ok || b.consumer == nil || b.password != password {
		return nil, nil, false
	}
	return b.consumer, b.cred, true
}

// Consumer finds a consumer by id or username.
func (c *Credentials) Consumer(workspace, idOrUsername string) (*entity.Consumer, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	con, ok := c.consumers[ws(workspace)][idOrUsername]
	return con, ok
}

// Groups returns the ACL groups of a consumer.
func (c *Credentials) Groups(workspace, consumerID string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.groups[ws(workspace)][consumerID]
}

// Serve runs s for c as the gateway does: Access, then HeaderFilter,
// BodyFilter and Log on the upstream's response, or on the Exit's response
// when a plugin exited (the upstream is then not used). It returns the
// response the client gets.
func Serve(s *plugin.Set, c *plugin.Context, upstream *Response) *Response {
	s.Access(c)
	resp := upstream
	if e, ok := c.Exited(); ok {
		resp = FromExit(e)
	}
	c.Response = resp
	s.HeaderFilter(c)
	s.BodyFilter(c)
	s.Log(c)
	return resp
}

// Build decodes config for f and constructs the plugin with env, failing
// the test on any error: what the gateway does with a stored plugin entity.
func Build(t testing.TB, f *plugin.Factory, config string, env plugin.Env) any {
	t.Helper()
	cfg, fe := plugin.DecodeConfig(f, []byte(config))
	if fe != nil {
		t.Fatalf("decode %s config %s: %v", f.Name, config, fe)
	}
	inst, err := f.New(cfg, env)
	if err != nil {
		t.Fatalf("build %s with config %s: %v", f.Name, config, err)
	}
	return inst
}
