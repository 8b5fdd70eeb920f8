package validate

import (
	"math"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/internal/entity"
)

// Kong 3.x defaults (kong/db/schema/entities/upstreams.lua and targets.lua).
const (
	defaultSlots      = 10000
	defaultTargetPort = 8000
)

func defaultActiveHealthyStatuses() []int { return []int{200, 302} }
func defaultActiveUnhealthyStatuses() []int {
	return []int{429, 404, 500, 501, 502, 503, 504, 505}
}
func defaultPassiveHealthyStatuses() []int {
	return []int{200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
		300, 301, 302, 303, 304, 305, 306, 307, 308}
}
func defaultPassiveUnhealthyStatuses() []int { return []int{429, 500, 503} }

func normalizeUpstream(u *entity.Upstream, errs entity.FieldErrors) {
	if u.Name == "" {
		errs.Add("name", msgRequired)
	} else if msg := checkUpstreamName(u.Name); msg != "" {
		errs.Add("name", msg)
	}
	if u.Algorithm == "" {
		u.Algorithm = "round-robin"
	}
	oneOf(errs, "algorithm", u.Algorithm, "round-robin", "consistent-hashing", "least-connections")
	if u.HashOn == "" {
		u.HashOn = "none"
	}
	if u.HashFallback == "" {
		u.HashFallback = "none"
	}
	if u.HashOnCookiePath == "" {
		u.HashOnCookiePath = "/"
	}
	okOn := oneOf(errs, "hash_on", u.HashOn, "none", "consumer", "ip", "header", "cookie")
	okFallback := oneOf(errs, "hash_fallback", u.HashFallback, "none", "consumer", "ip", "header", "cookie")
	for _, h := range []struct{ field, v string }{
		{"hash_on_header", u.HashOnHeader}, {"hash_fallback_header", u.HashFallbackHeader},
	} {
		if h.v != "" {
			if msg := checkHeaderName(h.v); msg != "" {
				errs.Add(h.field, msg)
			}
		}
	}
	if msg := checkServicePath(u.HashOnCookiePath); msg != "" {
		errs.Add("hash_on_cookie_path", msg)
	}
	if okOn && okFallback {
		checkHashing(u, errs)
	}
	if u.Slots == 0 {
		u.Slots = defaultSlots
	}
	between(errs, "slots", u.Slots, 10, 1<<16)
	if u.HostHeader != "" {
		if msg := checkHost(u.HostHeader); msg != "" {
			errs.Add("host_header", msg)
		}
	}
	normalizeHealthchecks(&u.Healthchecks, errs)
}

// checkHashing applies the entity checks of Kong's upstreams schema.
func checkHashing(u *entity.Upstream, errs entity.FieldErrors) {
	if u.HashOn == "header" && u.HashOnHeader == "" {
		errs.Add("hash_on_header", msgRequired)
	}
	if u.HashFallback == "header" && u.HashFallbackHeader == "" {
		errs.Add("hash_fallback_header", msgRequired)
	}
	if (u.HashOn == "cookie" || u.HashFallback == "cookie") && u.HashOnCookie == "" {
		errs.Add("hash_on_cookie", msgRequired)
	}
	// Falling back means nothing when not hashing, and a cookie is always
	// there to hash on: Kong sets the cookie when it is missing.
	if (u.HashOn == "none" || u.HashOn == "cookie") && u.HashFallback != "none" {
		errs.Add("hash_fallback", "expected one of: none")
	}
	if u.HashOn != "none" && u.HashOn != "header" && u.HashOn == u.HashFallback {
		errs.Add(entityField, "values of these fields must be distinct: 'hash_on', 'hash_fallback'")
	}
	if u.HashOn == "header" && u.HashFallback == "header" &&
		strings.EqualFold(u.HashOnHeader, u.HashFallbackHeader) {
		errs.Add(entityField, "values of these fields must be distinct: 'hash_on_header', 'hash_fallback_header'")
	}
}

// checkUpstreamName is the name check of Kong's upstreams schema: the name
// is the virtual host services point at, so it must be a hostname.
func checkUpstreamName(name string) string {
	hp, msg := parseHostPort(name)
	switch {
	case msg == "invalid port number":
		return "Invalid name ('" + name + "'); no port allowed"
	case msg != "":
		return "Invalid name ('" + name + "'); must be a valid hostname"
	case hp.kind != hostName:
		return "Invalid name ('" + name + "'); no ip addresses allowed"
	case hp.hasPort:
		return "Invalid name ('" + name + "'); no port allowed"
	}
	return ""
}

func normalizeHealthchecks(h *entity.Healthchecks, errs entity.FieldErrors) {
	const pre = "healthchecks."
	a := &h.Active
	if a.Type == "" {
		a.Type = "http"
	}
	oneOf(errs, pre+"active.type", a.Type, "tcp", "http", "https")
	if a.HTTPPath == "" {
		a.HTTPPath = "/"
	}
	if msg := checkServicePath(a.HTTPPath); msg != "" {
		errs.Add(pre+"active.http_path", msg)
	}
	if a.Timeout == 0 {
		a.Timeout = 1
	}
	betweenFloat(errs, pre+"active.timeout", a.Timeout, 0, 65535)
	if a.HTTPSVerifyCertificate == nil {
		verify := true
		a.HTTPSVerifyCertificate = &verify
	}
	if a.Concurrency == 0 {
		a.Concurrency = 10
	}
	between(errs, pre+"active.concurrency", a.Concurrency, 1, math.MaxInt32)
	if a.Healthy.HTTPStatuses == nil {
		a.Healthy.HTTPStatuses = defaultActiveHealthyStatuses()
	}
	if a.Unhealthy.HTTPStatuses == nil {
		a.Unhealthy.HTTPStatuses = defaultActiveUnhealthyStatuses()
	}
	checkHealthy(&a.Healthy, pre+"active.healthy.", true, errs)
	checkUnhealthy(&a.Unhealthy, pre+"active.unhealthy.", true, errs)

	p := &h.Passive
	if p.Type == "" {
		p.Type = "http"
	}
	oneOf(errs, pre+"passive.type", p.Type, "tcp", "http", "https")
	if p.Healthy.HTTPStatuses == nil {
		p.Healthy.HTTPStatuses = defaultPassiveHealthyStatuses()
	}
	if p.Unhealthy.HTTPStatuses == nil {
		p.Unhealthy.HTTPStatuses = defaultPassiveUnhealthyStatuses()
	}
	checkHealthy(&p.Healthy, pre+"passive.healthy.", false, errs)
	checkUnhealthy(&p.Unhealthy, pre+"passive.unhealthy.", false, errs)
	if p.Healthy.Interval != 0 {
		errs.Add(pre+"passive.healthy.interval", "unknown field")
	}
	if p.Unhealthy.Interval != 0 {
		errs.Add(pre+"passive.unhealthy.interval", "unknown field")
	}

	betweenFloat(errs, pre+"threshold", h.Threshold, 0, 100)
}

func checkHealthy(r *entity.HealthyRule, pre string, active bool, errs entity.FieldErrors) {
	if active {
		betweenFloat(errs, pre+"interval", r.Interval, 0, 65535)
	}
	checkStatuses(errs, pre+"http_statuses", r.HTTPStatuses)
	between(errs, pre+"successes", r.Successes, 0, 255)
}

func checkUnhealthy(r *entity.UnhealthyRule, pre string, active bool, errs entity.FieldErrors) {
	if active {
		betweenFloat(errs, pre+"interval", r.Interval, 0, 65535)
	}
	checkStatuses(errs, pre+"http_statuses", r.HTTPStatuses)
	between(errs, pre+"tcp_failures", r.TCPFailures, 0, 255)
	between(errs, pre+"timeouts", r.Timeouts, 0, 255)
	between(errs, pre+"http_failures", r.HTTPFailures, 0, 255)
}

func checkStatuses(errs entity.FieldErrors, field string, codes []int) {
	for _, c := range codes {
		if c < 100 || c > 999 {
			errs.Add(field, "value should be between 100 and 999")
			return
		}
	}
}

func normalizeTarget(t *entity.Target, errs entity.FieldErrors) {
	requireRef(errs, "upstream", t.Upstream)
	if t.Weight == nil {
		w := entity.DefaultTargetWeight
		t.Weight = &w
	}
	between(errs, "weight", *t.Weight, 0, 65535)
	if t.Target == "" {
		errs.Add("target", msgRequired)
		return
	}
	hp, msg := parseHostPort(t.Target)
	if msg != "" {
		errs.Add("target", "Invalid target ('"+t.Target+"'); not a valid hostname or ip address")
		return
	}
	// Kong stores targets with their port, so that "host" and "host:8000"
	// are the same target.
	port := defaultTargetPort
	if hp.hasPort {
		port = hp.port
	}
	host := hp.host
	if hp.kind == hostIPv6 {
		host = "[" + host + "]"
	}
	t.Target = host + ":" + strconv.Itoa(port)
}
