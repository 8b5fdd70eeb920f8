// Package cors is the cors plugin: Cross-Origin Resource Sharing (the Fetch
// standard's CORS protocol) as Kong 3's cors plugin does it, with the same
// config, priority 2000 and headers. It answers preflight requests itself
// (unless told to pass them upstream) and adds the Access-Control-* headers
// to other responses.
//
// It owns origin matching (exact origins, regular expressions and "*");
// it never rejects a request: browsers enforce CORS, not the gateway.
package cors

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// Name and Priority are Kong's.
const (
	Name     = "cors"
	Priority = 2000
)

var allMethods = []string{"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE", "CONNECT"}

// Config is cors's configuration, with Kong's fields and defaults.
type Config struct {
	// Origins allowed: exact origins ("https://example.com"), regular
	// expressions (any entry with characters other than letters, digits and
	// ".:/-"; matched whole, against the host only when the entry has no
	// ":"), or "*". Empty allows every origin.
	Origins []string `json:"origins"`
	// Headers for Access-Control-Allow-Headers; empty echoes the
	// preflight's Access-Control-Request-Headers.
	Headers []string `json:"headers"`
	// ExposedHeaders for Access-Control-Expose-Headers.
	ExposedHeaders []string `json:"exposed_headers"`
	// Methods for Access-Control-Allow-Methods.
	Methods []string `json:"methods"`
	// MaxAge, in seconds, for Access-Control-Max-Age.
	MaxAge *float64 `json:"max_age"`
	// Credentials sends Access-Control-Allow-Credentials: true (and then
	// never "*" as the allowed origin).
	Credentials bool `json:"credentials"`
	// PrivateNetwork answers Access-Control-Request-Private-Network.
	PrivateNetwork bool `json:"private_network"`
	// PreflightContinue proxies preflight requests upstream instead of
	// answering them.
	PreflightContinue bool `json:"preflight_continue"`
	// AllowOriginAbsent adds the headers to responses to requests without
	// an Origin header too.
	AllowOriginAbsent bool `json:"allow_origin_absent"`
}

// DefaultConfig returns Kong's defaults.
func DefaultConfig() *Config {
	return &Config{Methods: append([]string(nil), allMethods...), AllowOriginAbsent: true}
}

// Factory returns the cors plugin factory.
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

// origin is one entry of Origins, prepared for matching.
type origin struct {
	re     *regexp.Regexp // nil for an exact origin
	byHost bool           // the regexp matches the host only
	domain string         // normalized exact origin
}

// CORS is a cors instance.
type CORS struct {
	cfg      Config
	allowAll bool
	origins  []origin

	allowHeaders  string // "" when echoing the request's
	allowMethods  string
	exposeHeaders string
	maxAge        string
}

var (
	_ plugin.Accessor     = (*CORS)(nil)
	_ plugin.HeaderFilter = (*CORS)(nil)
)

// New validates cfg and returns an instance.
func New(cfg *Config) (*CORS, error) {
	fe := entity.FieldErrors{}
	p := &CORS{cfg: *cfg}
	p.allowAll = len(cfg.Origins) == 0 || (len(cfg.Origins) == 1 && cfg.Origins[0] == "*")
	oerrs := entity.FieldErrors{}
	for i, o := range cfg.Origins {
		if o == "*" {
			// "*" among other origins is not a pattern Kong can match.
			continue
		}
		if !isRegex(o) {
			d, _ := normalize(o)
			p.origins = append(p.origins, origin{domain: d})
			continue
		}
		// Kong anchors patterns at both ends: a trailing "$" is added and a
		// leading "^" is redundant.
		expr := strings.TrimPrefix(o, "^")
		if !strings.HasSuffix(expr, "$") {
			expr += "$"
		}
		re, err := regexp.Compile("^(?:" + expr + ")")
		if err != nil {
			oerrs[strconv.Itoa(i+1)] = "'" + o + "' is not a valid regex"
			continue
		}
		p.origins = append(p.origins, origin{re: re, byHost: !strings.Contains(o, ":")})
	}
	fe.Nest("origins", oerrs)
	merrs := entity.FieldErrors{}
	for i, m := range cfg.Methods {
		if msg := plugin.OneOfError(m, allMethods...); msg != "" {
			merrs[strconv.Itoa(i+1)] = msg
		}
	}
	fe.Nest("methods", merrs)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	if len(cfg.Headers) > 0 {
		p.allowHeaders = strings.Join(cfg.Headers, ",")
	}
	if cfg.Methods != nil {
		p.allowMethods = strings.Join(cfg.Methods, ",")
	} else {
		p.allowMethods = strings.Join(allMethods, ",")
	}
	p.exposeHeaders = strings.Join(cfg.ExposedHeaders, ",")
	if cfg.MaxAge != nil {
		p.maxAge = strconv.FormatFloat(*cfg.MaxAge, 'f', -1, 64)
	}
	return p, nil
}

// isRegex is Kong's test: anything but letters, digits and ".:/-".
func isRegex(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '.' || b == ':' || b == '/' || b == '-') {
			return true
		}
	}
	return false
}

// normalize returns scheme://host[:port] without the scheme's default port,
// and the host; a value that is not a URL with a host is returned as both.
func normalize(s string) (domain, host string) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return s, s
	}
	host = u.Hostname()
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	h := host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	domain = u.Scheme + "://" + h
	if port != "" {
		domain += ":" + port
	}
	return domain, host
}

// sink is where headers go: the Exit headers of a preflight (exit non-nil)
// or the response (Kong's configure_* functions' header_filter flag).
type sink struct {
	exit map[string]string
	resp plugin.Response
}

func (s sink) set(name, value string) {
	if s.exit != nil {
		s.exit[name] = value
		return
	}
	s.resp.SetHeader(name, value)
}

// vary sets Vary: Origin on a preflight, and adds Origin to a response's
// Vary unless it is there already.
func (s sink) vary() {
	if s.exit != nil {
		s.exit["Vary"] = "Origin"
		return
	}
	v := s.resp.Header("Vary")
	if v == "" {
		s.resp.SetHeader("Vary", "Origin")
		return
	}
	for _, tok := range strings.Split(v, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "*" || strings.EqualFold(tok, "Origin") {
			return
		}
	}
	s.resp.SetHeader("Vary", v+", Origin")
}

func isPreflight(req plugin.Request) bool {
	return req.Method() == "OPTIONS" && req.Header("Origin") != "" && req.Header("Access-Control-Request-Method") != ""
}

// configureOrigin sets Access-Control-Allow-Origin and reports whether every
// origin is allowed (Kong's configure_origin).
func (p *CORS) configureOrigin(req plugin.Request, h sink) bool {
	if p.allowAll {
		h.set("Access-Control-Allow-Origin", "*")
		return true
	}
	// Always vary on Origin: caches key responses on it.
	h.vary()
	reqOrigin := req.Header("Origin")
	if reqOrigin == "" {
		return false
	}
	domain, host := normalize(reqOrigin)
	for i := range p.origins {
		o := &p.origins[i]
		var found bool
		switch {
		case o.re == nil:
			found = domain == o.domain
		case o.byHost:
			found = o.re.MatchString(host)
		default:
			found = o.re.MatchString(domain)
		}
		if found {
			h.set("Access-Control-Allow-Origin", domain)
			return false
		}
	}
	return false
}

// configureCredentials is Kong's configure_credentials: with credentials,
// "*" is replaced by the request's origin, which the browser requires.
func (p *CORS) configureCredentials(req plugin.Request, allowAll bool, h sink) {
	if !p.cfg.Credentials {
		return
	}
	if !allowAll {
		h.set("Access-Control-Allow-Credentials", "true")
		return
	}
	if o := req.Header("Origin"); o != "" {
		h.set("Access-Control-Allow-Origin", o)
		h.set("Access-Control-Allow-Credentials", "true")
		h.vary()
	}
}

// Access answers preflight requests with 200 and the CORS headers, unless
// preflight_continue passes them upstream.
func (p *CORS) Access(c *plugin.Context) {
	req := c.Request
	if !isPreflight(req) || p.cfg.PreflightContinue {
		return
	}
	exit := map[string]string{}
	h := sink{exit: exit}
	allowAll := p.configureOrigin(req, h)
	p.configureCredentials(req, allowAll, h)
	if p.allowHeaders != "" {
		exit["Access-Control-Allow-Headers"] = p.allowHeaders
	} else if acrh := req.Header("Access-Control-Request-Headers"); acrh != "" {
		exit["Access-Control-Allow-Headers"] = acrh
	}
	exit["Access-Control-Allow-Methods"] = p.allowMethods
	if p.maxAge != "" {
		exit["Access-Control-Max-Age"] = p.maxAge
	}
	if p.cfg.PrivateNetwork && req.Header("Access-Control-Request-Private-Network") == "true" {
		exit["Access-Control-Allow-Private-Network"] = "true"
	}
	c.Exit(200, nil, exit)
}

// HeaderFilter adds the CORS headers to responses other than preflights
// (which Access answered or passed upstream untouched).
func (p *CORS) HeaderFilter(c *plugin.Context) {
	req := c.Request
	if isPreflight(req) {
		return
	}
	if !p.cfg.AllowOriginAbsent && req.Header("Origin") == "" {
		return
	}
	h := sink{resp: c.Response}
	allowAll := p.configureOrigin(req, h)
	p.configureCredentials(req, allowAll, h)
	if p.exposeHeaders != "" {
		c.Response.SetHeader("Access-Control-Expose-Headers", p.exposeHeaders)
	}
}
