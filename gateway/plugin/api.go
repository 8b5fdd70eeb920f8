// Package plugin is the plugin API of the gateway: the phases a plugin can
// take part in, the request and response it sees, and the context it shares
// with the other plugins of a request. It is free of the HTTP engine's types,
// so any listener can feed the same pipeline.
//
// Plugins live in packages of their own under gateway/plugins and import only
// this package (and internal/entity for consumer types). They never import
// one another and never do I/O when constructed.
//
// The package also owns the pipeline that runs them: DecodeConfig decodes a
// plugin entity's config strictly, and a Set holds the instances of one
// configuration and runs them for each request in Kong's order and with
// Kong's precedence of scoped configs. plugintest has in-memory fakes of
// Request, Response and Credentials for tests.
package plugin

import (
	"encoding/json"
	"log/slog"
	"net/netip"
	"time"

	"github.com/tollgate/tollgate/gateway/ratelimit"
	"github.com/tollgate/tollgate/internal/entity"
	"github.com/tollgate/tollgate/internal/logrecord"
)

// A plugin instance implements one or more of the phase interfaces below. The
// gateway runs them in Kong's order: Rewrite (global plugins only, before
// anything is known about the consumer), Access, HeaderFilter, BodyFilter, Log.

// Rewriter runs before authentication; only global plugins take part.
type Rewriter interface{ Rewrite(c *Context) }

// Accessor runs before the request is proxied. Calling c.Exit ends the
// access phase: later plugins' Access is skipped and the request is not proxied.
type Accessor interface{ Access(c *Context) }

// HeaderFilter runs when the response status and headers are known (from the
// upstream, or from c.Exit), before they are sent.
type HeaderFilter interface{ HeaderFilter(c *Context) }

// BodyFilter runs with the whole response body buffered. Only routes that
// have a BodyFilter plugin buffer responses; all others stream.
type BodyFilter interface{ BodyFilter(c *Context) }

// Logger runs after the response has been sent. It must not block.
type Logger interface{ Log(c *Context) }

// Request is the downstream request as the gateway will send it upstream;
// changes plugins make are what the upstream receives. Header names are
// case-insensitive.
type Request interface {
	Method() string
	Scheme() string // http or https, as received
	Host() string   // the Host header as received
	Path() string   // the path (no query) that will be sent upstream
	SetPath(p string)

	Header(name string) string // first value, "" if absent
	HeaderValues(name string) []string
	SetHeader(name, value string)
	AddHeader(name, value string)
	DelHeader(name string)
	VisitHeaders(f func(name, value string))

	Query(name string) string // first value, "" if absent
	HasQuery(name string) bool
	SetQuery(name, value string)
	AddQuery(name, value string)
	DelQuery(name string)
	VisitQuery(f func(name, value string))

	// ContentLength is the declared body length, -1 when unknown (chunked).
	ContentLength() int64
	// Body reads the whole request body into memory, at most max bytes;
	// ok is false if the body is longer than max (the body is then not
	// consumed further). Only plugins that need the body call it: all
	// others leave it streaming.
	Body(max int64) (body []byte, ok bool, err error)
	SetBody(b []byte)
}

// Response is the response on its way to the client.
type Response interface {
	Status() int
	SetStatus(code int)
	Header(name string) string
	SetHeader(name, value string)
	AddHeader(name, value string)
	DelHeader(name string)
	VisitHeaders(f func(name, value string))
	// Body is the buffered response body; only valid in BodyFilter.
	Body() []byte
	SetBody(b []byte)
}

// Credentials finds consumers and their credentials in the configuration the
// request is being served with. Lookups are in-memory.
type Credentials interface {
	// KeyAuth finds the credential whose key hashes to the given key.
	KeyAuth(workspace, key string) (*entity.Consumer, *entity.KeyAuthCredential, bool)
	// BasicAuth finds the credential with the username and checks the
	// password; ok is false when either is wrong.
	BasicAuth(workspace, username, password string) (*entity.Consumer, *entity.BasicAuthCredential, bool)
	// Consumer finds a consumer by id or username.
	Consumer(workspace, idOrUsername string) (*entity.Consumer, bool)
	// Groups returns the ACL groups of a consumer.
	Groups(workspace, consumerID string) []string
}

// Context is shared by the plugins of one request. It lives only as long as
// the request and must not be retained.
type Context struct {
	Request  Request
	Response Response // nil until the response phases

	Workspace   string
	RouteID     string
	ServiceID   string
	ServiceName string
	ClientIP    netip.Addr
	RequestID   string
	Started     time.Time

	// Consumer and Credential are set by an authentication plugin through
	// Authenticate; Anonymous is true when it fell back to the anonymous
	// consumer.
	Consumer   *entity.Consumer
	Credential *entity.Ref
	Anonymous  bool

	Credentials Credentials

	// Record is the request's log record; plugins fill in their outcomes.
	Record *logrecord.Record

	exited     bool
	exit       Exit
	shared     map[string]any
	credential entity.Ref

	// Pipeline state owned by Set: the plan Access ran and the instances
	// it chose, which the response phases run. The buffers keep a typical
	// request free of allocations. A Context serves one request; zero it
	// to reuse.
	plan      *plan
	chosen    []*instance
	chosenBuf [16]*instance

	// Response headers set during Access with SetResponseHeader.
	respHeaders []headerPair
	respBuf     [8]headerPair
}

type headerPair struct{ name, value string }

// Exit is a response generated by the gateway instead of the upstream.
// Plugins may share one Headers map between requests: it is read-only.
type Exit struct {
	Status  int
	Body    []byte
	Headers map[string]string
}

// Authenticate records the consumer a plugin identified. Later plugins see it,
// and consumer-scoped plugin configuration applies from then on.
func (c *Context) Authenticate(consumer *entity.Consumer, credentialID string, anonymous bool) {
	c.Consumer = consumer
	c.Anonymous = anonymous
	if credentialID != "" {
		// The Ref lives in the Context, sparing an allocation per request.
		c.credential = entity.Ref{ID: credentialID}
		c.Credential = &c.credential
	} else {
		c.Credential = nil
	}
}

// Exit ends the access phase with a gateway-generated response.
func (c *Context) Exit(status int, body []byte, headers map[string]string) {
	c.exited = true
	c.exit = Exit{Status: status, Body: body, Headers: headers}
}

// ExitMessage exits with Kong's JSON error body: {"message": msg}.
func (c *Context) ExitMessage(status int, msg string) {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	c.Exit(status, b, map[string]string{"Content-Type": "application/json; charset=utf-8"})
}

// SetResponseHeader sets a header of the response to the client from the
// access phase, as Kong's kong.response.set_header does there: it is applied
// when the response phases start, to the upstream's response or to an Exit
// alike (a header the Exit names itself wins).
func (c *Context) SetResponseHeader(name, value string) {
	if c.respHeaders == nil {
		c.respHeaders = c.respBuf[:0]
	}
	for i := range c.respHeaders {
		if equalFoldASCII(c.respHeaders[i].name, name) {
			c.respHeaders[i].value = value
			return
		}
	}
	c.respHeaders = append(c.respHeaders, headerPair{name, value})
}

// Exited reports whether a plugin exited, and with what.
func (c *Context) Exited() (Exit, bool) { return c.exit, c.exited }

// Set stores a value for later phases (keyed by plugin name by convention).
func (c *Context) Set(key string, v any) {
	if c.shared == nil {
		c.shared = make(map[string]any, 4)
	}
	c.shared[key] = v
}

// Get returns a value stored with Set.
func (c *Context) Get(key string) any { return c.shared[key] }

// Env is what a plugin constructor may use: long-lived services injected by
// the gateway. Constructors keep references but do no I/O.
type Env struct {
	Logger *slog.Logger
	// Counters keeps rate-limit counters; shared across config versions so
	// that a config change does not reset limits.
	Counters ratelimit.Store
	// Shared keeps the rate-limit counters shared by the nodes of a
	// cluster (the "cluster" policy); nil on a standalone node.
	Shared ratelimit.Shared
	// Now is the clock (time.Now unless a test sets it).
	Now func() time.Time
	// Plugin is the entity being built, for plugins that key state by it
	// (rate-limiting's counters); nil when a config is only validated.
	// NewSet sets it for each plugin.
	Plugin *entity.Plugin
}
