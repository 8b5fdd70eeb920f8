package validate

import (
	"net/netip"
	"strconv"
	"strings"
)

type hostKind int

const (
	hostName hostKind = iota
	hostIPv4
	hostIPv6
)

// hostPort is a host with an optional port, as Kong's utils.normalize_ip
// splits it.
type hostPort struct {
	host    string // without brackets
	port    int
	hasPort bool
	kind    hostKind
}

// parseHostPort splits and checks "host", "host:port", "[v6]", "[v6]:port"
// or a bare IPv6 address. The error strings are Kong's.
func parseHostPort(s string) (hostPort, string) {
	var hp hostPort
	if s == "" {
		return hp, "invalid value: " + s
	}
	hostPart, portPart, hasPort := s, "", false
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return hp, "invalid value: " + s
		}
		hostPart = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return hp, "invalid value: " + s
			}
			portPart, hasPort = rest[1:], true
		}
		a, err := netip.ParseAddr(hostPart)
		if err != nil || !a.Is6() {
			return hp, "invalid value: " + s
		}
		hp.kind = hostIPv6
	case strings.Count(s, ":") > 1:
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() {
			return hp, "invalid value: " + s
		}
		hp.kind = hostIPv6
	default:
		if i := strings.IndexByte(s, ':'); i >= 0 {
			hostPart, portPart, hasPort = s[:i], s[i+1:], true
		}
		if isDottedNumeric(hostPart) {
			a, err := netip.ParseAddr(hostPart)
			if err != nil || !a.Is4() {
				return hp, "invalid value: " + s
			}
			hp.kind = hostIPv4
		} else if !validHostname(hostPart) {
			return hp, "invalid value: " + s
		}
	}
	hp.host = hostPart
	if hasPort {
		p, err := strconv.Atoi(portPart)
		if err != nil || p < 0 || p > 65535 || portPart == "" || portPart[0] == '+' || portPart[0] == '-' {
			return hp, "invalid port number"
		}
		hp.port, hp.hasPort = p, true
	}
	return hp, ""
}

func isDottedNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

// validHostname accepts DNS names as Kong does (letters, digits, '-', '_'
// in dot-separated labels), with an optional trailing dot.
func validHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// checkHost is Kong's typedefs.host: a name or IP address without a port.
func checkHost(s string) string {
	hp, msg := parseHostPort(s)
	if msg == "invalid port number" || msg == "" && hp.hasPort {
		return "must not have a port"
	}
	return msg
}

// checkWildcardHost is Kong's typedefs.wildcard_host (route hosts, SNI names):
// at most one '*', only as the whole leftmost or rightmost label. allowPort
// admits an optional ":port" (route hosts).
func checkWildcardHost(s string, allowPort bool) string {
	host, port := s, ""
	if !strings.HasPrefix(s, "[") && strings.Count(s, ":") == 1 {
		i := strings.IndexByte(s, ':')
		host, port = s[:i], s[i:]
	}
	if n := strings.Count(host, "*"); n > 0 {
		if n > 1 {
			return "invalid wildcard: must have at most one wildcard"
		}
		if !(strings.HasPrefix(host, "*.") || strings.HasSuffix(host, ".*")) {
			return "invalid wildcard: must be placed at leftmost or rightmost label"
		}
		host = strings.Replace(host, "*", "wildcard", 1)
	}
	hp, msg := parseHostPort(host + port)
	if msg != "" {
		if msg == "invalid value: "+host+port {
			return "invalid value: " + s
		}
		return msg
	}
	if hp.hasPort && !allowPort {
		return "must not have a port"
	}
	return ""
}
