// Package basicauth is the basic-auth plugin: it identifies the consumer of
// a request by the username and password of an HTTP Basic Authorization or
// Proxy-Authorization header (RFC 7617), as Kong 3's basic-auth does (same
// config, priority 1100, responses and upstream headers).
//
// It owns parsing the credentials and the responses to requests without
// valid ones; passwords are checked through plugin.Credentials. It must never
// log a password or forward a header it was told to hide.
package basicauth

import (
	"encoding/base64"
	"strings"

	"github.com/tollgate/tollgate/gateway/plugin"
)

// Name and Priority are Kong's.
const (
	Name     = "basic-auth"
	Priority = 1100
)

// Config is basic-auth's configuration, with Kong's fields and defaults.
type Config struct {
	// Anonymous is the id or username of the consumer to use when
	// authentication fails; unset, the request is rejected with 401.
	Anonymous *string `json:"anonymous"`
	// HideCredentials removes the credentials header before proxying.
	HideCredentials bool `json:"hide_credentials"`
	// Realm is sent in the WWW-Authenticate challenge of 401 responses.
	Realm string `json:"realm"`
}

// DefaultConfig returns Kong's defaults.
func DefaultConfig() *Config { return &Config{Realm: "service"} }

// Factory returns the basic-auth plugin factory.
func Factory() *plugin.Factory {
	return &plugin.Factory{
		Name:       Name,
		Priority:   Priority,
		NoConsumer: true,
		NewConfig:  func() any { return DefaultConfig() },
		New: func(cfg any, env plugin.Env) (any, error) {
			return New(cfg.(*Config))
		},
	}
}

// BasicAuth is a basic-auth instance.
type BasicAuth struct {
	cfg       Config
	anonymous string

	headers401       map[string]string
	jsonHeaders      map[string]string
	unauthorized     []byte
	unexpected       []byte
	anonymousMissing []byte
}

var _ plugin.Accessor = (*BasicAuth)(nil)

// New returns an instance; every config is valid.
func New(cfg *Config) (*BasicAuth, error) {
	b := &BasicAuth{cfg: *cfg}
	if cfg.Anonymous != nil {
		b.anonymous = *cfg.Anonymous
	}
	b.headers401 = map[string]string{
		"Content-Type":     plugin.ContentTypeJSON,
		"WWW-Authenticate": `Basic realm="` + cfg.Realm + `"`,
	}
	b.jsonHeaders = map[string]string{"Content-Type": plugin.ContentTypeJSON}
	// Kong 3.6 made every failure say "Unauthorized", whether the header
	// is missing, malformed or wrong, so as not to tell them apart.
	b.unauthorized = plugin.MessageBody("Unauthorized")
	b.unexpected = plugin.MessageBody("An unexpected error occurred")
	b.anonymousMissing = plugin.MessageBody("anonymous consumer " + b.anonymous + " is configured but doesn't exist")
	return b, nil
}

const (
	hdrAuthorization      = "Authorization"
	hdrProxyAuthorization = "Proxy-Authorization"
)

// Access authenticates the request or ends it with 401.
func (b *BasicAuth) Access(c *plugin.Context) {
	// With anonymous configured, auth plugins are a logical OR.
	if b.anonymous != "" && c.Credential != nil {
		return
	}
	if c.Credentials == nil {
		c.Exit(500, b.unexpected, b.jsonHeaders)
		return
	}
	if b.authenticate(c) {
		return
	}
	if b.anonymous != "" {
		consumer, ok := c.Credentials.Consumer(c.Workspace, b.anonymous)
		if !ok {
			c.Exit(500, b.anonymousMissing, b.jsonHeaders)
			return
		}
		plugin.SetConsumer(c, consumer, "", "")
		return
	}
	if c.Record != nil {
		c.Record.AuthOutcome = plugin.AuthRejected
	}
	c.Exit(401, b.unauthorized, b.headers401)
}

// authenticate follows Kong's do_authentication: Proxy-Authorization first,
// then Authorization. (Kong stops at a Proxy-Authorization naming a known
// user even when its password is wrong; the credential lookup here checks
// both at once, so such a request falls through to Authorization.)
func (b *BasicAuth) authenticate(c *plugin.Context) bool {
	req := c.Request
	if req.Header(hdrAuthorization) == "" && req.Header(hdrProxyAuthorization) == "" {
		return false
	}
	if user, pass, ok := b.retrieve(req, hdrProxyAuthorization); ok {
		if consumer, cred, ok := c.Credentials.BasicAuth(c.Workspace, user, pass); ok && consumer != nil && cred != nil {
			plugin.SetConsumer(c, consumer, cred.ID, cred.Username)
			return true
		}
	}
	user, pass, ok := b.retrieve(req, hdrAuthorization)
	if !ok {
		return false
	}
	consumer, cred, ok := c.Credentials.BasicAuth(c.Workspace, user, pass)
	if !ok || consumer == nil || cred == nil {
		return false
	}
	plugin.SetConsumer(c, consumer, cred.ID, cred.Username)
	return true
}

// retrieve parses the credentials of one header, and clears the header when
// hiding credentials (whether or not it parsed, as Kong does).
func (b *BasicAuth) retrieve(req plugin.Request, header string) (user, pass string, ok bool) {
	v := req.Header(header)
	if v != "" {
		user, pass, ok = parse(v)
	}
	if b.cfg.HideCredentials {
		req.DelHeader(header)
	}
	return user, pass, ok
}

// parse reads "Basic <base64(user:pass)>" with Kong's patterns: the scheme
// \s*[Bb]asic\s*(.+) found anywhere in the value, then ([^:]+):(.*) in the
// decoded text, so the username is non-empty and the password may be empty
// or contain colons.
func parse(v string) (user, pass string, ok bool) {
	i := strings.Index(v, "asic")
	for i >= 0 && (i == 0 || (v[i-1] != 'B' && v[i-1] != 'b')) {
		j := strings.Index(v[i+1:], "asic")
		if j < 0 {
			return "", "", false
		}
		i += 1 + j
	}
	if i < 0 {
		return "", "", false
	}
	rest := strings.TrimLeft(v[i+4:], " \t\r\n\f\v")
	if rest == "" {
		return "", "", false
	}
	decoded, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		if decoded, err = base64.RawStdEncoding.DecodeString(rest); err != nil {
			return "", "", false
		}
	}
	s := string(decoded)
	start := 0
	for start < len(s) && s[start] == ':' {
		start++
	}
	colon := strings.IndexByte(s[start:], ':')
	if start == len(s) || colon < 0 {
		return "", "", false
	}
	user = s[start : start+colon]
	pass = s[start+colon+1:]
	// PCRE's "." stops at a newline.
	if nl := strings.IndexByte(pass, '\n'); nl >= 0 {
		pass = pass[:nl]
	}
	return user, pass, true
}
