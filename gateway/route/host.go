package route

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// hostKind says how a route host is compared with the request host.
type hostKind uint8

const (
	hostExact  hostKind = iota // example.com
	hostSuffix                 // *.example.com: the request host ends with ".example.com"
	hostPrefix                 // example.*: the request host starts with "example."
)

// routeHost is one compiled entry of a route's hosts.
type routeHost struct {
	kind hostKind
	// key is what the request host is compared with: the whole host for
	// hostExact, ".example.com" for hostSuffix, "example." for hostPrefix.
	key  string
	port int // 0 when the route host names no port
}

var (
	errEmptyHost     = errors.New("empty host")
	errWildcardPlace = errors.New("invalid wildcard: must be placed at leftmost or rightmost label")
	errWildcardCount = errors.New("only one wildcard allowed")
	errHostPort      = errors.New("invalid port")
)

// parseRouteHost compiles one value of a route's hosts. Hosts compare
// case-insensitively (RFC 9110 §4.2.3), so keys are lower-cased. A port is
// split off as Kong's split_host_port does (kong/router/transform.lua), with
// bracketed IPv6 literals kept whole.
func parseRouteHost(h string) (routeHost, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	name, portStr, hasPort := splitHostPort(h)
	var rh routeHost
	if hasPort {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 1 || p > 65535 {
			return rh, fmt.Errorf("host %q: %w", h, errHostPort)
		}
		rh.port = p
	}
	if name == "" {
		return rh, errEmptyHost
	}
	switch n := strings.Count(name, "*"); {
	case n == 0:
		rh.kind, rh.key = hostExact, name
	case n > 1:
		return rh, fmt.Errorf("host %q: %w", h, errWildcardCount)
	case strings.HasPrefix(name, "*.") && len(name) > 2:
		rh.kind, rh.key = hostSuffix, name[1:]
	case strings.HasSuffix(name, ".*") && len(name) > 2:
		rh.kind, rh.key = hostPrefix, name[:len(name)-1]
	default:
		return rh, fmt.Errorf("host %q: %w", h, errWildcardPlace)
	}
	return rh, nil
}

// splitHostPort splits "host:port" and "[v6]:port". A string with more
// than one colon outside brackets is taken as a bare (IPv6) host.
func splitHostPort(h string) (host, port string, ok bool) {
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return h, "", false
		}
		if end+1 < len(h) && h[end+1] == ':' {
			return h[:end+1], h[end+2:], true
		}
		return h, "", false
	}
	i := strings.IndexByte(h, ':')
	if i < 0 || strings.IndexByte(h[i+1:], ':') >= 0 {
		return h, "", false
	}
	return h[:i], h[i+1:], true
}

// parseRequestPort reads the port of a Host header; 0 when absent or not a
// number.
func parseRequestPort(s string) int {
	if s == "" || len(s) > 5 {
		return 0
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0
	}
	return n
}

// appendLower appends the ASCII lower-case form of s to dst.
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendPortKey appends ":port" to dst, the form of the map keys of hosts
// that name a port.
func appendPortKey(dst []byte, port int) []byte {
	dst = append(dst, ':')
	return strconv.AppendInt(dst, int64(port), 10)
}

// hostMapKey is the bucket key of a route host.
func hostMapKey(rh routeHost) string {
	if rh.port == 0 {
		return rh.key
	}
	return string(appendPortKey([]byte(rh.key), rh.port))
}

// normalizeSNI lower-cases a server name and drops a final dot: "the last
// dot in FQDNs must not be used for routing" (kong/router/transform.lua
// sni_val_transform).
func normalizeSNI(s string) string {
	s = strings.ToLower(s)
	if len(s) > 1 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}
