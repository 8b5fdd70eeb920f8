// Package ratelimiting is the rate-limiting plugin: it limits how many
// requests a consumer (or credential, client IP, service, header value or
// path) makes per second, minute, hour, day, month and year, as Kong 3's
// rate-limiting does (same config, priority 910, responses and headers:
// the IETF RateLimit-* draft headers and Kong's X-RateLimit-* ones).
//
// It owns the decision and the headers; counting belongs to the stores it
// is given, which never do I/O on the request path (except exact quotas,
// below). Policy "local" counts in this node's memory (env.Counters).
// Policy "cluster" counts in the counters the cluster's nodes share
// through Cassandra (env.Shared): each node admits at most its share of
// what remains of a limit, so the nodes together stay within it between
// syncs (package gateway/ratelimit/cluster states the bound). On a
// standalone node, a cluster of one, env.Shared is nil and "cluster"
// counts in env.Counters, which is then exact. Kong's "redis" policy is
// refused: Tollgate shares counters through "cluster".
//
// window_type "sliding" (Kong Enterprise rate-limiting-advanced's option)
// weighs the previous window: the count is the current window's plus the
// previous window's times the part of the current window still to run.
package ratelimiting

import (
	"context"
	"errors"
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
	// Policy is where counters live: "local" (this node's memory) or
	// "cluster" (shared by the gateway nodes through Cassandra).
	Policy string `json:"policy"`
	// WindowType is "fixed" (counts start afresh at each window) or
	// "sliding" (the previous window's count weighs in, decreasing as the
	// current window runs).
	WindowType string `json:"window_type"`
	// FaultTolerant, when the cluster's counters cannot be reached, counts
	// on this node alone (and lets requests through if even that fails);
	// false fails requests with 500 instead.
	FaultTolerant bool `json:"fault_tolerant"`
	// HideClientHeaders stops the rate-limit headers going to the client.
	HideClientHeaders bool `json:"hide_client_headers"`
	// ErrorCode and ErrorMessage are the response to limited requests.
	ErrorCode    int    `json:"error_code"`
	ErrorMessage string `json:"error_message"`
	// SyncRate is, for the cluster policy, the seconds between syncs of
	// the counters: -1 (the default) uses the node's sync interval
	// (ratelimit_sync_interval, 100ms by default); 0 makes every request
	// check and count synchronously in Cassandra (exact, for low quotas
	// such as day and month: a lightweight transaction per window on the
	// request path, a few milliseconds each, on one hot row per key); a
	// positive value is accepted and the node's interval is used: nodes
	// sync every key at their interval, which is never slower than asked.
	// The local policy ignores it.
	SyncRate float64 `json:"sync_rate"`
	// Redis belongs to Kong's redis policy; it is accepted so that Kong
	// configurations load, and unused.
	Redis map[string]any `json:"redis"`
}

// DefaultConfig returns Kong's defaults.
func DefaultConfig() *Config {
	return &Config{
		LimitBy:       "consumer",
		Policy:        "local",
		WindowType:    "fixed",
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
	limitInt      int64 // the most hits admitted: limit rounded up
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
	switch c.Policy {
	case "local", "cluster":
	case "redis":
		fe["policy"] = `expected one of: local, cluster (Tollgate shares counters between nodes with "cluster", not redis)`
	default:
		fe["policy"] = plugin.OneOfError(c.Policy, "local", "cluster")
	}
	if msg := plugin.OneOfError(c.WindowType, "fixed", "sliding"); msg != "" {
		fe["window_type"] = msg
	} else if c.Policy == "cluster" && c.SyncRate == 0 && c.WindowType == "sliding" {
		fe["window_type"] = "sliding windows cannot be counted exactly: use window_type fixed with sync_rate 0"
	}
	if c.SyncRate != -1 && c.SyncRate < 0 {
		fe["sync_rate"] = "value must be -1 (the node's sync interval), 0 (synchronous) or a number of seconds"
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
	shared   ratelimit.Shared // the cluster policy's counters; nil for local
	exact    bool             // sync_rate 0 with shared counters: TakeExact
	sliding  bool
	now      func() time.Time

	headers        map[string]string
	limitedBody    []byte
	unexpectedBody []byte
}

var _ plugin.Accessor = (*RateLimiting)(nil)

// New validates cfg and returns an instance counting in env.Counters
// (policy local, or cluster on a standalone node) or env.Shared (policy
// cluster).
func New(cfg *Config, env plugin.Env) (*RateLimiting, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &RateLimiting{
		cfg:            *cfg,
		counters:       env.Counters,
		sliding:        cfg.WindowType == "sliding",
		now:            env.Now,
		headers:        map[string]string{"Content-Type": plugin.ContentTypeJSON},
		limitedBody:    plugin.MessageBody(cfg.ErrorMessage),
		unexpectedBody: plugin.MessageBody("An unexpected error occurred"),
	}
	if r.now == nil {
		r.now = time.Now
	}
	if cfg.Policy == "cluster" && env.Shared != nil {
		r.shared = env.Shared
		r.counters = env.Shared
		r.exact = cfg.SyncRate == 0
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
			limitInt:      ceilLimit(*l),
			limitStr:      formatNumber(*l),
			hdrLimit:      "X-RateLimit-Limit-" + o.title,
			hdrRemaining:  "X-RateLimit-Remaining-" + o.title,
			expirationSec: o.expire,
		})
	}
	return r, nil
}

// ceilLimit is the number of hits a limit admits: counts are whole, and a
// count below 2.5 may reach 3.
func ceilLimit(x float64) int64 {
	if x >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(math.Ceil(x))
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

// errUnavailable marks counters that could not answer, even locally.
var errUnavailable = errors.New("rate-limit counters unavailable")

// Access counts the request, or ends it with error_code when a limit is
// reached (requests turned away are not counted, as in Kong).
func (r *RateLimiting) Access(c *plugin.Context) {
	now := r.now()
	key := r.prefix + r.identifier(c)

	var buf [6]usage
	uses := buf[:len(r.windows)]
	var stop int
	var err error
	if r.exact {
		stop, err = r.take(key, now, uses)
	} else {
		stop, err = r.check(key, now, uses)
	}
	if err != nil && !(r.cfg.FaultTolerant && errors.Is(err, ratelimit.ErrUnsynced)) {
		if !r.cfg.FaultTolerant {
			c.Exit(500, r.unexpectedBody, r.headers)
			return
		}
		// Counters unavailable: let the request through uncounted and
		// without headers, as Kong does when fault tolerant.
		r.record(c, OutcomeAllowed)
		return
	}
	// Here err is nil or wraps ErrUnsynced with a fault-tolerant config:
	// the answers are this node's own, which is what fault tolerance asks.

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
	if r.exact {
		return // TakeExact counted it
	}
	for i := range r.windows {
		// A failure to count is not the client's: the request goes on.
		_, _ = r.counters.Add(key, r.windows[i].w, now, 1)
	}
}

// check reads every window without I/O and returns the index of one whose
// limit is reached (-1 if none). Errors wrapping ErrUnsynced come with
// usable local answers; others leave uses unset.
func (r *RateLimiting) check(key string, now time.Time, uses []usage) (int, error) {
	if r.counters == nil {
		return -1, errUnavailable
	}
	stop := -1
	var unsynced error
	keep := func(err error) error {
		if errors.Is(err, ratelimit.ErrUnsynced) {
			unsynced = err
			return nil
		}
		return err
	}
	for i := range r.windows {
		w := &r.windows[i]
		limit, fixed := w.limit, w.limitInt
		if r.sliding {
			start, end := ratelimit.Start(w.w, now)
			prev, err := r.counters.Get(key, w.w, start.Add(-time.Nanosecond))
			if err = keep(err); err != nil {
				return -1, err
			}
			weight := float64(prev) * (1 - float64(now.Sub(start))/float64(end.Sub(start)))
			// The count may reach limit - weight: whole hits below it.
			fixed = ceilLimit(math.Max(0, w.limit-weight))
			limit = float64(fixed)
		}
		n, err := r.counters.Get(key, w.w, now)
		if err = keep(err); err != nil {
			return -1, err
		}
		uses[i].remaining = limit - float64(n)
		var admit bool
		if r.shared != nil {
			budget, err := r.shared.Budget(key, w.w, now, fixed)
			if err = keep(err); err != nil {
				return -1, err
			}
			admit = budget >= 1
		} else {
			admit = uses[i].remaining > 0
		}
		if !admit {
			// What remains cluster-wide may be other nodes' share.
			uses[i].remaining = math.Min(uses[i].remaining, 0)
			stop = i
		}
	}
	return stop, unsynced
}

// take counts the request in every window synchronously with the cluster
// (sync_rate 0), shortest window first, and stops at the first that is
// full. A request stopped by a longer window has been counted in the
// shorter ones, as Kong's redis policy counts it.
func (r *RateLimiting) take(key string, now time.Time, uses []usage) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), exactTimeout)
	defer cancel()
	var unsynced error
	for i := range r.windows {
		w := &r.windows[i]
		total, ok, err := r.shared.TakeExact(ctx, key, w.w, now, w.limitInt)
		if err != nil {
			if !errors.Is(err, ratelimit.ErrUnsynced) {
				return -1, err
			}
			unsynced = err
		}
		// headersFor takes one off for this request when it is admitted.
		uses[i].remaining = w.limit - float64(total)
		if ok {
			uses[i].remaining++
		} else {
			uses[i].remaining = 0
			for j := i + 1; j < len(r.windows); j++ {
				uses[j].remaining = math.NaN()
			}
			return i, unsynced
		}
	}
	return -1, unsynced
}

// exactTimeout bounds the transactions of one request in exact mode.
const exactTimeout = 5 * time.Second

func (r *RateLimiting) record(c *plugin.Context, outcome string) {
	if c.Record != nil {
		c.Record.RateLimitOutcome = outcome
	}
}

// headersFor sets the X-RateLimit-* headers of every window and the
// RateLimit-* headers of the window closest to its limit (the longer one on
// a tie), as Kong does; it returns that window's reset in seconds. Windows
// whose remaining is NaN were not checked and get no headers. Headers
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
		if math.IsNaN(rem) {
			continue // not reached: an exact check stopped before it
		}
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
