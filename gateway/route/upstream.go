package route

import "strings"

// UpstreamPath computes the path sent upstream from the service path, the
// match and the request path, following Kong's strip_path and
// path_handling rules: "v0" (the default) as in kong/router/utils.lua
// get_upstream_uri, "v1" as in the traditional router
// (kong/router/traditional.lua). The request path is normalized first, as
// Kong builds the upstream path from the normalized request URI; passing
// the raw or the already normalized path gives the same result.
//
// Kong 3's traditional_compatible flavor applies v0 whatever the route
// says; Tollgate honours path_handling "v1" as the traditional flavor and
// the Admin API documentation describe it.
func UpstreamPath(servicePath string, m *Match, requestPath string) string {
	req := NormalizePath(requestPath)
	if req == "" {
		req = "/"
	}
	base := servicePath
	if base == "" {
		base = "/"
	}
	strip, v1 := false, false
	prefix := "/"
	if m != nil {
		if m.Entry != nil && m.Entry.Route != nil {
			strip = m.Entry.Route.ShouldStripPath()
			v1 = m.Entry.Route.PathHandling == "v1"
		}
		if m.Prefix != "" {
			prefix = m.Prefix
		}
	}
	// Without a path match the postfix is the whole path minus its first
	// slash, as when the prefix is "/".
	postfix := req[1:]
	if strings.HasPrefix(req, prefix) {
		postfix = sanitizePostfix(req[len(prefix):])
	}
	if v1 {
		return upstreamV1(base, postfix, req, strip)
	}
	return upstreamV0(base, postfix, req, strip)
}

// sanitizePostfix is Kong's sanitize_uri_postfix: a postfix must not start
// with a dot segment.
func sanitizePostfix(p string) string {
	switch {
	case p == "." || p == "..":
		return ""
	case strings.HasPrefix(p, "./"):
		return p[2:]
	case strings.HasPrefix(p, "../"):
		return p[3:]
	}
	return p
}

// upstreamV0 treats service path, route path and request path as
// segments, always joined by one slash.
func upstreamV0(base, postfix, req string, strip bool) string {
	if strings.HasSuffix(base, "/") {
		if !strip {
			// keep the request path, after the service path, without a
			// double slash
			return base + req[1:]
		}
		switch {
		case postfix == "":
			if base == "/" {
				return "/"
			}
			if strings.HasSuffix(req, "/") {
				return base
			}
			return base[:len(base)-1]
		case postfix[0] == '/':
			return base[:len(base)-1] + postfix
		default:
			return base + postfix
		}
	}
	if !strip {
		if req == "/" {
			return base
		}
		return base + req
	}
	switch {
	case postfix == "":
		if len(req) > 1 && strings.HasSuffix(req, "/") {
			return base + "/"
		}
		return base
	case postfix[0] == '/':
		return base + postfix
	default:
		return base + "/" + postfix
	}
}

// upstreamV1 treats the service path as a plain prefix (Kong 1.x).
func upstreamV1(base, postfix, req string, strip bool) string {
	if !strip {
		return base + req[1:]
	}
	if strings.HasSuffix(base, "/") && strings.HasPrefix(postfix, "/") {
		return base[:len(base)-1] + postfix
	}
	return base + postfix
}
