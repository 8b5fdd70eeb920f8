// Package ratelimiting is the rate-limiting plugin: it limits how many
// requests a consumer (or credential, client IP, service, header value or
// path) makes per second, minute, hour, day, month and year, as Kong 3's
// rate-limiting does (same config, priority 910, responses and headers:
// the IETF RateLimit-* draft headers and Kong's X-RateLimit-* ones).
//
// It owns the decision and the headers; counting belongs to the
// ratelimit.Store it is given (env.Counters), which never does I/O on the
// request path. The policy is "local": counters of this node.
package ratelimiting

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/ratelimit"
	"github.com/tollgate/tollgate/internal/entity"
)

// Name and Priority are Kong's.
const (
	Name     = "rate-limiting"
	Priority = 910
)

// Outcomes recorded in logrecord.Record.RateLimitOutcome.
const (
	OutcomeAllowed = "allowed"
	OutcomeLimited = "limited"
)

// Config is rate-limiting's configuration, with Kong's fields and defaults.
// At least one limit must be set, and a longer window's limit may not be
// lower than a shorter one's.
type Config struct {
	// Second … Year are the limits per window; unset means no limit.
	Second *float64 `json:"second"`
	Minute *float64 `json:"minute"`
	Hour   *float64 `json:"hour"`
	Day    *float64 `json:"day"`
	Month  *float64 `json:"month"`
	Year   *float64 `json:"year"`
	// LimitBy is what is counted: consumer, credential, ip, service, header
	// or path. When the request has none (no consumer, no such header, a
	// different path…) the client IP is counted instead, as in Kong.
	LimitBy string `json:"limit_by"`
	// HeaderName is the header counted with limit_by "header".
	HeaderName *string `json:"header_name"`
	// Path is the path counted with limit_by "path".
	Path *string `json:"path"`
	// Policy is where counters live; only "local" (this node's memory).
	Policy string `json:"policy"`
	// FaultTolerant lets requests through when counters cannot be read;
	// false fails them with 500.
	FaultTolerant bool `json:"fault_tolerant"`
	// HideClientHeaders stops the rate-limit headers going to the client.
	HideClientHeaders bool `json:"hide_client_headers"`
	// ErrorCode and ErrorMessage are the response to limited requests.
	ErrorCode    int    `json:"error_code"`
	ErrorMessage string `json:"error_message"`
	// SyncRate and Redis belong to Kong's cluster and redis policies; they
	// are accepted so that Kong configurations load, and unused.
	SyncRate float64        `json:"sync_rate"`
	Redis    map[string]any `json:"redis"`
}

// DefaultConfig returns Kong's defaults.
func DefaultConfig() *Config {
	return &Config{
		LimitBy:       "consumer",
		Policy:        "local",
		FaultTolerant: true,
		ErrorCode:     429,
		ErrorMessage:  "API rate limit exceeded",
		SyncRate:      -1,
	}
}

// window is one configured limit.
type window struct {
	w             ratelimit.Window
	limit         float64
	limitStr      string
	hdrLimit      string // X-RateLimit-Limit-<Window>
	hdrRemaining  string // X-RateLimit-Remaining-<Window>
	expirationSec int64  // Kong's nominal window length, to rank windows
}

var order = []struct {
	name   string
	w      ratelimit.Window
	title  string
	expire int64
}{
	{"second", ratelimit.Second, "Second", 1},
	{"minute", ratelimit.Minute, "Minute", 60},
	{"hour", ratelimit.Hour, "Hour", 3600},
	{"day", ratelimit.Day, "Day", 86400},
	{"month", ratelimit.Month, "Month", 2592000},
	{"year", ratelimit.Year, "Year", 31536000},
}

func (c *Config) limits() []*float64 {
	return []*float64{c.Second, c.Minute, c.Hour, c.Day, c.Month, c.Year}
}

// Validate applies Kong's schema and entity checks, naming every bad field.
func (c *Config) Validate() error {
	fe := entity.FieldErrors{}
	lims := c.limits()
	set := false
	for i, l := range lims {
		if l == nil {
			continue
		}
		set = true
		if *l <= 0 {
			fe[order[i].name] = "value must be greater than 0"
		}
	}
	if !set {
		fe["@entity"] = "at least one of these fields must be non-empty: 'config.second', 'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'"
	}
	// Kong's validate_periods_order.
periods:
	for i, lo := range lims {
		if lo == nil {
			continue
		}
		for j := i + 1; j < len(lims); j++ {
			if hi := lims[j]; hi != nil && *hi < *lo {
				fe["@entity"] = fmt.Sprintf("The limit for %s(%.1f) cannot be lower than the limit for %s(%.1f)",
					order[j].name, *hi, order[i].name, *lo)
				break periods
			}
		}
	}
	if msg := plugin.OneOfError(c.LimitBy, "consumer", "credential", "ip", "service", "header", "path"); msg != "" {
		fe["limit_by"] = msg
	}
	if c.HeaderName != nil {
		if msg := plugin.HeaderNameError(*c.HeaderName); msg != "" {
			fe["header_name"] = msg
		}
	} else if c.LimitBy == "header" {
		fe["header_name"] = "required field missing"
	}
	if c.Path != nil {
		if len(*c.Path) == 0 || (*c.Path)[0] != '/' {
			fe["path"] = "should start with: /"
		}
	} else if c.LimitBy == "path" {
		fe["path"] = "required field missing"
	}
	// Only the local policy exists; the cluster policy will be a value here.
	if msg := plugin.OneOfError(c.Policy, "local"); msg != "" {
		fe["policy"] = msg
	}
	if c.ErrorCode <= 0 {
		fe["error_code"] = "value must be greater than 0"
	} else if c.ErrorCode < 100 || c.ErrorCode > 599 {
		fe["error_code"] = "value should be between 100 and 599"
	}
	return fe.Err()
}

// Factory returns the rate-limiting plugin factory.
func Factory() *plugin.Factory {
	return &plugin.Factory{
		Name:      Name,
		Priority:  Priority,
		NewConfig: func() any { return DefaultConfig() },
		New: func(cfg any, env plugin.Env) (any, error) {
			return New(cfg.(*Config), env)
		},
	}
}

// RateLimiting is a rate-limiting instance.
type RateLimiting struct {
	cfg      Config
	windows  []window
	prefix   string // the plugin id and a colon: counters are per plugin entity
	counters ratelimit.Store
	now      func() time.Time

	headers        map[string]string
	limitedBody    []byte
	unexpectedBody []byte
}

var _ plugin.Accessor = (*RateLimiting)(nil)

// New validates cfg and returns an instance counting in env.Counters.
func New(cfg *Config, env plugin.Env) (*RateLimiting, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &RateLimiting{
		cfg:            *cfg,
		counters:       env.Counters,
		now:            env.Now,
		headers:        map[string]string{"Content-Type": plugin.ContentTypeJSON},
		limitedBody:    plugin.MessageBody(cfg.ErrorMessage),
		unexpectedBody: plugin.MessageBody("An unexpected error occurred"),
	}
	if r.now == nil {
		r.now = time.Now
	}
	if env.Plugin != nil {
		r.prefix = env.Plugin.ID + ":"
	}
	for i, l := range cfg.limits() {
		if l == nil {
			continue
		}
		o := order[i]
		r.windows = append(r.windows, window{
			w:             o.w,
			limit:         *l,
			limitStr:      formatNumber(*l),
			hdrLimit:      "X-RateLimit-Limit-" + o.title,
			hdrRemaining:  "X-RateLimit-Remaining-" + o.title,
			expirationSec: o.expire,
		})
	}
	return r, nil
}

// formatNumber prints a number as Lua's tostring does for Kong's headers:
// integers without a fraction.
func formatNumber(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
		return strconv.FormatInt(int64(x), 10)
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

// identifier is Kong's get_identifier, falling back to the client IP.
func (r *RateLimiting) identifier(c *plugin.Context) string {
	var id string
	switch r.cfg.LimitBy {
	case "service":
		id = c.ServiceID
	case "consumer":
		if c.Consumer != nil {
			id = c.Consumer.ID
		} else if c.Credential != nil {
			id = c.Credential.ID
		}
	case "credential":
		if c.Credential != nil {
			id = c.Credential.ID
		}
	case "header":
		id = c.Request.Header(*r.cfg.HeaderName)
	case "path":
		// Kong compares the request's path as received.
		p := c.Request.Path()
		if c.Record != nil && c.Record.Path != "" {
			p = c.Record.Path
		}
		if p == *r.cfg.Path {
			id = p
		}
	}
	if id == "" {
		id = c.ClientIP.String()
	}
	return id
}

// usage is the state of one window for this request.
type usage struct {
	remaining float64
}

// Access counts the request, or ends it with error_code when a limit is
// reached (requests turned away are not counted, as in Kong).
func (r *RateLimiting) Access(c *plugin.Context) {
	now := r.now()
	key := r.prefix + r.identifier(c)

	var buf [6]usage
	uses := buf[:len(r.windows)]
	stop := -1
	ok := r.counters != nil
	for i := range r.windows {
		if !ok {
			break
		}
		n, err := r.counters.Get(key, r.windows[i].w, now)
		if err != nil {
			ok = false
			break
		}
		uses[i].remaining = r.windows[i].limit - float64(n)
		if uses[i].remaining <= 0 {
			stop = i
		}
	}
	if !ok {
		if !r.cfg.FaultTolerant {
			c.Exit(500, r.unexpectedBody, r.headers)
			return
		}
		// Counters unavailable: let the request through uncounted and
		// without headers, as Kong does when fault tolerant.
		r.record(c, OutcomeAllowed)
		return
	}

	if stop >= 0 {
		r.record(c, OutcomeLimited)
		h := make(map[string]string, 2*len(r.windows)+5)
		h["Content-Type"] = plugin.ContentTypeJSON
		if !r.cfg.HideClientHeaders {
			reset := r.headersFor(now, uses, stop, c, h)
			h["Retry-After"] = strconv.FormatInt(reset, 10)
		}
		c.Exit(r.cfg.ErrorCode, r.limitedBody, h)
		return
	}
	r.record(c, OutcomeAllowed)
	if !r.cfg.HideClientHeaders {
		r.headersFor(now, uses, stop, c, nil)
	}
	for i := range r.windows {
		// A failure to count is not the client's: the request goes on.
		_, _ = r.counters.Add(key, r.windows[i].w, now, 1)
	}
}

func (r *RateLimiting) record(c *plugin.Context, outcome string) {
	if c.Record != nil {
		c.Record.RateLimitOutcome = outcome
	}
}

// headersFor sets the X-RateLimit-* headers of every window and the
// RateLimit-* headers of the window closest to its limit (the longer one on
// a tie), as Kong does; it returns that window's reset in seconds. Headers
// go into exit when it is non-nil, else to the response through c.
func (r *RateLimiting) headersFor(now time.Time, uses []usage, stop int, c *plugin.Context, exit map[string]string) int64 {
	set := func(name, value string) {
		if exit != nil {
			exit[name] = value
		} else {
			c.SetResponseHeader(name, value)
		}
	}
	best := -1
	var bestRemaining float64
	var remStr [6]string
	for i := range r.windows {
		w := &r.windows[i]
		rem := uses[i].remaining
		// This request counts against every window unless it was stopped,
		// and then against the window that stopped it.
		if stop < 0 || stop == i {
			rem--
		}
		rem = math.Max(0, rem)
		if best < 0 || rem < bestRemaining || (rem == bestRemaining && w.expirationSec > r.windows[best].expirationSec) {
			best, bestRemaining = i, rem
		}
		remStr[i] = formatNumber(rem)
		set(w.hdrLimit, w.limitStr)
		set(w.hdrRemaining, remStr[i])
	}
	// Seconds until the window ends, counted as Kong does (window length
	// less whole seconds elapsed), with calendar months and years.
	start, end := ratelimit.Start(r.windows[best].w, now)
	length := int64(end.Sub(start) / time.Second)
	reset := max(1, length-int64(now.Sub(start)/time.Second))
	set("RateLimit-Limit", r.windows[best].limitStr)
	set("RateLimit-Remaining", remStr[best])
	set("RateLimit-Reset", strconv.FormatInt(reset, 10))
	return reset
}
