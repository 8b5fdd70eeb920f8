package route

import (
	"regexp"
	"strings"
	"testing"
)

// linearMatch is the reference the indexed lookup must agree with: every
// sub in priority order, each checked in full, first match wins.
func linearMatch(tb *Table, r *Request) (*sub, string) {
	path := NormalizePath(r.Path)
	if path == "" {
		path = "/"
	}
	https := strings.EqualFold(r.Protocol, "https")
	st := state{req: r, path: path, https: https, sni: strings.TrimSuffix(r.SNI, ".")}
	if len(r.SNI) <= 1 {
		st.sni = r.SNI
	}
	for _, s := range tb.subs {
		if !refHosts(s.hosts, r.Host, https) || !s.matchFields(&st) {
			continue
		}
		switch s.kind {
		case pathNone:
			return s, ""
		case pathPrefix:
			for i, p := range s.prefixes {
				if strings.HasPrefix(path, p) {
					return s, s.origPaths[i]
				}
			}
		case pathRegex:
			for i, re := range s.regexes {
				if re.MatchString(path) {
					return s, s.origPaths[i]
				}
			}
		}
	}
	return nil, ""
}

func linearID(tb *Table, r *Request) string {
	s, _ := linearMatch(tb, r)
	if s == nil {
		return ""
	}
	return s.entry.Route.ID
}

// refHosts checks the hosts condition directly, without the host index.
func refHosts(hs []routeHost, host string, https bool) bool {
	if len(hs) == 0 {
		return true
	}
	name, portStr, hasPort := splitHostPort(host)
	name = strings.ToLower(name)
	port := 80
	if https {
		port = 443
	}
	if hasPort {
		port = parseRequestPort(portStr)
	}
	for _, h := range hs {
		if h.port != 0 && h.port != port {
			continue
		}
		switch h.kind {
		case hostExact:
			if name == h.key {
				return true
			}
		case hostSuffix:
			if strings.HasSuffix(name, h.key) {
				return true
			}
		case hostPrefix:
			if strings.HasPrefix(name, h.key) {
				return true
			}
		}
	}
	return false
}

// checkSatisfies verifies, from the route entity itself, that m is a
// legitimate match of r: every condition the route sets holds.
func checkSatisfies(t testing.TB, m Match, r *Request) {
	t.Helper()
	rt := m.Entry.Route
	https := strings.EqualFold(r.Protocol, "https")
	path := NormalizePath(r.Path)
	if path == "" {
		path = "/"
	}
	if len(rt.Methods) > 0 {
		ok := false
		for _, v := range rt.Methods {
			ok = ok || strings.ToUpper(v) == r.Method
		}
		if !ok {
			t.Fatalf("route %s matched method %q, wants %v", rt.ID, r.Method, rt.Methods)
		}
	}
	if len(rt.Hosts) > 0 {
		var hs []routeHost
		for _, h := range rt.Hosts {
			rh, err := parseRouteHost(h)
			if err != nil {
				t.Fatalf("route %s with bad host %q matched", rt.ID, h)
			}
			hs = append(hs, rh)
		}
		if !refHosts(hs, r.Host, https) {
			t.Fatalf("route %s matched host %q, wants %v", rt.ID, r.Host, rt.Hosts)
		}
	}
	if len(rt.SNIs) > 0 && https {
		ok := false
		for _, v := range rt.SNIs {
			ok = ok || normalizeSNI(v) == normalizeSNI(r.SNI)
		}
		if !ok {
			t.Fatalf("route %s matched sni %q, wants %v", rt.ID, r.SNI, rt.SNIs)
		}
	}
	for name, values := range rt.Headers {
		var got []string
		if r.Header != nil {
			got = r.Header.HeaderValues(strings.ToLower(name))
		}
		ok := false
		for _, g := range got {
			for _, v := range values {
				if after, isRe := strings.CutPrefix(v, "~*"); isRe {
					re := regexp.MustCompile("(?i)" + translateNamedGroups(after))
					ok = ok || re.MatchString(g)
				} else {
					ok = ok || strings.EqualFold(g, v)
				}
			}
		}
		if !ok {
			t.Fatalf("route %s matched header %s=%q, wants %v", rt.ID, name, got, values)
		}
	}
	if len(rt.Paths) == 0 {
		if m.Path != "" {
			t.Fatalf("route %s has no paths, match has path %q", rt.ID, m.Path)
		}
		return
	}
	found := false
	for _, p := range rt.Paths {
		found = found || p == m.Path
	}
	if !found {
		t.Fatalf("route %s matched path %q not among %v", rt.ID, m.Path, rt.Paths)
	}
	if !strings.HasPrefix(path, m.Prefix) {
		t.Fatalf("prefix %q is not a prefix of the normalized path %q", m.Prefix, path)
	}
	if strings.HasPrefix(m.Path, "~") {
		re := regexp.MustCompile("^(?:" + translateNamedGroups(m.Path[1:]) + ")")
		if loc := re.FindStringIndex(path); loc == nil || path[:loc[1]] != m.Prefix {
			t.Fatalf("regex %q on %q: prefix %q", m.Path, path, m.Prefix)
		}
		return
	}
	if np := NormalizePath(m.Path); np != m.Prefix || !strings.HasPrefix(path, np) {
		t.Fatalf("prefix path %q on %q: prefix %q", m.Path, path, m.Prefix)
	}
}
