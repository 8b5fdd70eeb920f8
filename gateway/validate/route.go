package validate

import (
	"sort"
	"strings"

	"github.com/tollgate/tollgate/internal/entity"
)

func normalizeRoute(r *entity.Route, errs entity.FieldErrors) {
	checkName(errs, "name", r.Name)
	if r.Protocols == nil {
		r.Protocols = []string{"http", "https"}
	}
	r.Protocols = dedupe(r.Protocols)
	if len(r.Protocols) == 0 {
		errs.Add("protocols", "length must be at least 1")
	}
	https := false
	for _, p := range r.Protocols {
		if !oneOf(errs, "protocols", p, "http", "https") {
			break
		}
		https = https || p == "https"
	}
	r.Methods = dedupe(r.Methods)
	for _, m := range r.Methods {
		if !isUpperToken(m) {
			errs.Add("methods", "invalid value: "+m)
			break
		}
	}
	for _, h := range r.Hosts {
		if msg := checkWildcardHost(h, true); msg != "" {
			errs.Add("hosts", msg)
			break
		}
	}
	for _, p := range r.Paths {
		if msg := checkRoutePath(p); msg != "" {
			errs.Add("paths", msg)
			break
		}
	}
	checkRouteHeaders(r.Headers, errs)
	for _, s := range r.SNIs {
		if msg := checkWildcardHost(s, false); msg != "" {
			errs.Add("snis", msg)
			break
		}
	}
	if len(r.SNIs) > 0 && !https {
		errs.Add("snis", "'snis' can only be set when 'protocols' is 'https'")
	}
	if r.HTTPSRedirectStatusCode == 0 {
		r.HTTPSRedirectStatusCode = 426
	}
	switch r.HTTPSRedirectStatusCode {
	case 426, 301, 302, 307, 308:
	default:
		errs.Add("https_redirect_status_code", "expected one of: 426, 301, 302, 307, 308")
	}
	if r.StripPath == nil {
		r.StripPath = boolPtr(true)
	}
	if r.PathHandling == "" {
		r.PathHandling = "v0"
	}
	oneOf(errs, "path_handling", r.PathHandling, "v0", "v1")
	if r.RequestBuffering == nil {
		r.RequestBuffering = boolPtr(true)
	}
	if r.ResponseBuffering == nil {
		r.ResponseBuffering = boolPtr(true)
	}
	checkRef(errs, "service", r.Service)

	// Kong's routes_subschemas: a route must match on something. With https
	// among the protocols, the SNI counts.
	if len(r.Methods) == 0 && len(r.Hosts) == 0 && len(r.Headers) == 0 && len(r.Paths) == 0 {
		switch {
		case https && len(r.SNIs) == 0:
			errs.Add(entityField, "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'")
		case !https:
			errs.Add(entityField, "must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'")
		}
	}
}

// isUpperToken is Kong's typedefs.http_method ("^%u+$").
func isUpperToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func checkRouteHeaders(h map[string][]string, errs entity.FieldErrors) {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		values := h[name]
		if strings.EqualFold(name, "host") {
			errs.Add("headers", "cannot contain 'host' header, which must be specified in the 'hosts' attribute")
			return
		}
		if msg := checkHeaderName(name); msg != "" {
			errs.Add("headers", msg)
			return
		}
		if len(values) == 0 {
			errs.Add("headers", "length must be at least 1")
			return
		}
	}
}

// checkHeaderName is Kong's utils.validate_header_name.
func checkHeaderName(name string) string {
	if name == "" {
		return "bad header name '', allowed characters are A-Z, a-z, 0-9, '_', and '-'"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "bad header name '" + name + "', allowed characters are A-Z, a-z, 0-9, '_', and '-'"
		}
	}
	return ""
}
