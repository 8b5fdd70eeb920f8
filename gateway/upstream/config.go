package upstream

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

// Kong's defaults for upstreams and their health checks
// (kong/db/schema/entities/upstreams.lua). Entities normally arrive with
// defaults filled in by the Admin API; these cover zero values.
const (
	defaultSlots       = 10000
	minSlots           = 10
	maxSlots           = 65536
	defaultTargetPort  = "8000" // Kong's port for targets given without one
	maxWeight          = 65535
	defaultProbePath   = "/"
	defaultProbeTO     = time.Second
	defaultConcurrency = 10
)

var (
	defaultActiveHealthy   = []int{200, 302}
	defaultActiveUnhealthy = []int{429, 404, 500, 501, 502, 503, 504, 505}
	defaultPassiveHealthy  = []int{
		200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
		300, 301, 302, 303, 304, 305, 306, 307, 308,
	}
	defaultPassiveUnhealthy = []int{429, 500, 503}
)

type algorithm uint8

const (
	algoRoundRobin algorithm = iota
	algoHash
	algoLeastConn
)

func (a algorithm) String() string {
	switch a {
	case algoHash:
		return "consistent-hashing"
	case algoLeastConn:
		return "least-connections"
	}
	return "round-robin"
}

type hashSource uint8

const (
	hashNone hashSource = iota
	hashConsumer
	hashIP
	hashHeader
	hashCookie
)

// parseHashOn maps Kong's hash_on/hash_fallback values. Kong 3.x also has
// path, query_arg and uri_capture, which need inputs HashInput does not
// carry; they are reported as unsupported and hash nothing.
func parseHashOn(s string) (hashSource, bool) {
	switch s {
	case "", "none":
		return hashNone, true
	case "consumer":
		return hashConsumer, true
	case "ip":
		return hashIP, true
	case "header":
		return hashHeader, true
	case "cookie":
		return hashCookie, true
	}
	return hashNone, false
}

// statusSet is a set of HTTP status codes (100-999, the range Kong accepts).
type statusSet [16]uint64

func newStatusSet(codes []int) statusSet {
	var s statusSet
	for _, c := range codes {
		if c >= 0 && c < 1024 {
			s[c>>6] |= 1 << (c & 63)
		}
	}
	return s
}

func (s *statusSet) has(code int) bool {
	return code >= 0 && code < 1024 && s[code>>6]&(1<<(code&63)) != 0
}

// thresholds are the counter limits of one kind of check; zero disables a
// counter, as in Kong.
type thresholds struct {
	successes, tcpFailures, timeouts, httpFailures int32
	healthy, unhealthy                             statusSet
}

func (t *thresholds) enabled() bool {
	return t.successes > 0 || t.tcpFailures > 0 || t.timeouts > 0 || t.httpFailures > 0
}

// orDefault returns codes, or def when the list was left out (nil). An
// explicitly empty list stays empty.
func orDefault(codes, def []int) []int {
	if codes == nil {
		return def
	}
	return codes
}

func clampInt32(n int) int32 {
	switch {
	case n < 0:
		return 0
	case n > 1<<30:
		return 1 << 30
	}
	return int32(n)
}

func passiveThresholds(p entity.PassiveHealthcheck) thresholds {
	t := thresholds{
		successes:    clampInt32(p.Healthy.Successes),
		tcpFailures:  clampInt32(p.Unhealthy.TCPFailures),
		timeouts:     clampInt32(p.Unhealthy.Timeouts),
		httpFailures: clampInt32(p.Unhealthy.HTTPFailures),
	}
	if p.Type == "tcp" {
		// Kong's passive tcp checks look at connections only: any answer
		// is a success.
		t.healthy = newStatusSet(rangeInts(100, 999))
		return t
	}
	t.healthy = newStatusSet(orDefault(p.Healthy.HTTPStatuses, defaultPassiveHealthy))
	t.unhealthy = newStatusSet(orDefault(p.Unhealthy.HTTPStatuses, defaultPassiveUnhealthy))
	return t
}

func rangeInts(lo, hi int) []int {
	out := make([]int, 0, hi-lo+1)
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return out
}

type probeType uint8

const (
	probeHTTP probeType = iota
	probeHTTPS
	probeTCP
)

// activeConfig is an upstream's active check, compiled.
type activeConfig struct {
	typ               probeType
	path              string
	hostHeader        string
	timeout           time.Duration
	concurrency       int
	verifyCertificate bool
	healthyInterval   time.Duration
	unhealthyInterval time.Duration
	thresholds        thresholds
}

func (a *activeConfig) enabled() bool { return a.healthyInterval > 0 || a.unhealthyInterval > 0 }

// compileActive compiles the active check of u; warn receives what is not
// supported.
func compileActive(u *entity.Upstream, warn func(msg string)) activeConfig {
	a := u.Healthchecks.Active
	c := activeConfig{
		path:              a.HTTPPath,
		hostHeader:        u.HostHeader,
		timeout:           seconds(a.Timeout),
		concurrency:       a.Concurrency,
		verifyCertificate: a.VerifiesCertificate(),
		healthyInterval:   seconds(a.Healthy.Interval),
		unhealthyInterval: seconds(a.Unhealthy.Interval),
		thresholds: thresholds{
			successes:    clampInt32(a.Healthy.Successes),
			tcpFailures:  clampInt32(a.Unhealthy.TCPFailures),
			timeouts:     clampInt32(a.Unhealthy.Timeouts),
			httpFailures: clampInt32(a.Unhealthy.HTTPFailures),
			healthy:      newStatusSet(orDefault(a.Healthy.HTTPStatuses, defaultActiveHealthy)),
			unhealthy:    newStatusSet(orDefault(a.Unhealthy.HTTPStatuses, defaultActiveUnhealthy)),
		},
	}
	switch a.Type {
	case "", "http":
		c.typ = probeHTTP
	case "https":
		c.typ = probeHTTPS
	case "tcp":
		c.typ = probeTCP
	default:
		// grpc and grpcs probes need an HTTP/2 health client; a TCP connect
		// still tells a dead target from a live one.
		warn(fmt.Sprintf("active health check type %q is not supported; probing with tcp connects", a.Type))
		c.typ = probeTCP
	}
	if c.path == "" {
		c.path = defaultProbePath
	}
	if !strings.HasPrefix(c.path, "/") {
		c.path = "/" + c.path
	}
	if c.timeout <= 0 {
		c.timeout = defaultProbeTO
	}
	if c.concurrency <= 0 {
		c.concurrency = defaultConcurrency
	}
	return c
}

func seconds(s float64) time.Duration {
	if s <= 0 || s != s { // s != s: NaN
		return 0
	}
	if s > 1e6 {
		s = 1e6
	}
	return time.Duration(s * float64(time.Second))
}

// normalizeTarget turns a Kong target ("host", "host:port", "ip:port",
// "[ipv6]:port", bare "ipv6") into host:port, with Kong's default port 8000
// when none is given.
func normalizeTarget(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("target %q: empty", s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a name, an IPv4 address, a bare or bracketed IPv6 address.
		host, port = s, defaultTargetPort
		if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
			host = s[1 : len(s)-1]
			if !strings.Contains(host, ":") {
				return "", fmt.Errorf("target %q: brackets around a non-IPv6 host", s)
			}
		}
		if strings.Contains(host, ":") && net.ParseIP(host) == nil {
			return "", fmt.Errorf("target %q: not host, host:port or an IP address", s)
		}
	}
	if host == "" || strings.ContainsAny(host, "[]/ \t@?#") {
		return "", fmt.Errorf("target %q: bad host %q", s, host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != port {
		return "", fmt.Errorf("target %q: bad port %q", s, port)
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return "", fmt.Errorf("target %q: bad IPv6 address %q", s, host)
	}
	return net.JoinHostPort(strings.ToLower(host), port), nil
}

func clampWeight(w int) int {
	switch {
	case w < 0:
		return 0
	case w > maxWeight:
		return maxWeight
	}
	return w
}

func clampSlots(n int) int {
	switch {
	case n <= 0:
		return defaultSlots
	case n < minSlots:
		return minSlots
	case n > maxSlots:
		return maxSlots
	}
	return n
}

// fingerprints of an upstream: settings decides whether a balancer can be
// kept as it is; health whether its targets' health state still applies.
func healthFingerprint(u *entity.Upstream) string {
	b, _ := json.Marshal(struct {
		H entity.Healthchecks
		// The probe's Host header is part of what the checks saw.
		Host string
	}{u.Healthchecks, u.HostHeader})
	return string(b)
}

type targetSpec struct {
	addr   string
	weight int
}

func settingsFingerprint(u *entity.Upstream, targets []targetSpec) string {
	ts := slices.Clone(targets)
	slices.SortFunc(ts, func(a, b targetSpec) int { return strings.Compare(a.addr, b.addr) })
	type t struct {
		A string
		W int
	}
	list := make([]t, len(ts))
	for i, x := range ts {
		list[i] = t{x.addr, x.weight}
	}
	b, _ := json.Marshal(struct {
		ID, Name, Algorithm, HashOn, HashFallback, HashOnHeader, HashFallbackHeader string
		HashOnCookie, HashOnCookiePath, HostHeader                                  string
		Slots                                                                       int
		Health                                                                      entity.Healthchecks
		Targets                                                                     []t
	}{
		u.ID, u.Name, u.Algorithm, u.HashOn, u.HashFallback, u.HashOnHeader, u.HashFallbackHeader,
		u.HashOnCookie, u.HashOnCookiePath, u.HostHeader, u.Slots, u.Healthchecks, list,
	})
	return string(b)
}
