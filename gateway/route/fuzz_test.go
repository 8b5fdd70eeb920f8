package route

import (
	"errors"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/entity"
)

// FuzzCompile: any route paths, hosts, headers and snis compile or fail
// with a *RouteError, never panic; a route that compiles only matches
// requests that satisfy it.
func FuzzCompile(f *testing.F) {
	f.Add("/foo", `~/v(?<n>\d+)`, "api.example.com", "x-version", "~*^v1$", "api.example.com", 0, "/foo/bar")
	f.Add("/", "", "*.example.com:8000", "", "", "", 5, "/")
	f.Add("~/(unclosed", "/ok", "a.*.b", "host", "x", "", -1, "/ok")
	f.Add("~/(?<=x)y", "/%2e%2e/a", "example.*", "x-a", "~*(", "", 1, "/a")
	f.Add("", "relative", "[::1]:99999", "x", "", "sni.", 0, "//")
	f.Fuzz(func(t *testing.T, p1, p2, host, hname, hval, sni string, prio int, reqPath string) {
		r := &entity.Route{Meta: entity.Meta{ID: "fuzz"}, RegexPriority: prio}
		for _, p := range []string{p1, p2} {
			if p != "" {
				r.Paths = append(r.Paths, p)
			}
		}
		if host != "" {
			r.Hosts = []string{host}
		}
		if hname != "" {
			r.Headers = map[string][]string{hname: {hval}}
		}
		if sni != "" {
			r.SNIs = []string{sni}
		}
		tb, err := Compile([]Entry{{Route: r}})
		if tb == nil {
			t.Fatal("nil table")
		}
		if err != nil {
			var re *RouteError
			if !errors.As(err, &re) || re.RouteID != "fuzz" {
				t.Fatalf("error %v does not name the route", err)
			}
			if tb.Len() != 0 {
				t.Fatalf("failed route in the table")
			}
			return
		}
		if tb.Len() != 1 {
			t.Fatalf("Len %d", tb.Len())
		}
		// the literal-prefix filter never rejects a path its regex matches
		np := NormalizePath(reqPath)
		for _, s := range tb.subs {
			for i, re := range s.regexes {
				for _, cand := range []string{np, s.regexLits[i] + np, strings.TrimPrefix(s.origPaths[i], "~")} {
					if re.MatchString(cand) && !strings.HasPrefix(cand, s.regexLits[i]) {
						t.Fatalf("regex %q matches %q, which lacks its literal prefix %q", s.origPaths[i], cand, s.regexLits[i])
					}
				}
			}
		}
		h := strings.TrimPrefix(strings.TrimPrefix(host, "*"), ".")
		req := &Request{Protocol: "https", Method: "GET", Host: h, Path: reqPath, SNI: sni, Header: hdr{hname: {hval}}}
		if m, ok := tb.Match(req); ok {
			checkSatisfies(t, m, req)
			if up := UpstreamPath("/svc", &m, reqPath); !strings.HasPrefix(up, "/") {
				t.Fatalf("upstream path %q", up)
			}
		}
	})
}

// fuzzTable is a fixed table covering every kind of condition.
func fuzzTable(t testing.TB) *Table {
	return mustCompile(t,
		newRoute("root", paths("/"), created(1)),
		newRoute("api", hosts("api.example.com"), paths("/api", "/v1/users"), created(2)),
		newRoute("api-get", hosts("api.example.com"), paths("/api"), methods("GET"), created(3)),
		newRoute("wild", hosts("*.example.com"), paths("/"), created(4)),
		newRoute("wild-port", hosts("*.example.com:8443"), paths("/p"), created(5)),
		newRoute("trail", hosts("example.*"), created(6)),
		newRoute("port", hosts("api.example.com:8000"), paths("/port"), created(7)),
		newRoute("re", paths(`~/users/(?<id>\d+)(/(\w+))?`), prio(5), created(8)),
		newRoute("re-low", paths(`~/users/.*`, `~/u`), prio(-1), created(9)),
		newRoute("hdr", header("X-Version", "v1", `~*^beta-\d+$`), paths("/api"), created(10)),
		newRoute("hdr2", header("x-a", "1"), header("x-b", "2"), created(11)),
		newRoute("sni", snis("secure.example.com"), protocols("https"), paths("/secure"), created(12)),
		newRoute("post", methods("POST", "PUT"), paths("/api/items"), created(13)),
		newRoute("https-only", hosts("pay.example.com"), protocols("https"), created(14)),
	)
}

// FuzzMatch: random requests against a fixed table never panic, every
// match satisfies its route, and the indexed lookup agrees with a linear
// scan in priority order.
func FuzzMatch(f *testing.F) {
	f.Add("GET", "api.example.com", "/api/x", "", "X-Version", "V1", false)
	f.Add("POST", "API.EXAMPLE.COM:8000", "/port/../api/items", "", "x-a", "1", false)
	f.Add("GET", "a.b.example.com:8443", "/p%2e/x", "secure.example.com.", "", "", true)
	f.Add("GET", "example.org", "/users/42/edit", "", "x-version", "beta-7", false)
	f.Add("DELETE", "[::1]:80", "//users//9", "x", "x-b", "2", true)
	f.Add("GET", "", "", "", "", "", false)
	f.Fuzz(func(t *testing.T, method, host, path, sni, hname, hval string, https bool) {
		tb := fuzzTable(t)
		proto := "http"
		if https {
			proto = "https"
		}
		req := &Request{Protocol: proto, Method: method, Host: host, Path: path, SNI: sni, Header: hdr{hname: {hval}}}
		m, ok := tb.Match(req)
		ls, lpath := linearMatch(tb, req)
		if ok != (ls != nil) {
			t.Fatalf("indexed match %v, linear match %v", ok, ls != nil)
		}
		if !ok {
			return
		}
		if m.Entry != ls.entry || m.Path != lpath {
			t.Fatalf("indexed %s %q, linear %s %q", m.Entry.Route.ID, m.Path, ls.entry.Route.ID, lpath)
		}
		checkSatisfies(t, m, req)
		if up := UpstreamPath("/svc/", &m, path); !strings.HasPrefix(up, "/") {
			t.Fatalf("upstream path %q", up)
		}
	})
}

// FuzzNormalizePath: normalization never panics, is idempotent, keeps a
// leading slash and leaves no dot segments or empty segments behind.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/%2e%2e/%2E/x", "//a//b/", "/a%2fb%7E", "/%", "/..", "./a", "/a/.", "/%zz/%4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n := NormalizePath(p)
		if again := NormalizePath(n); again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", p, n, again)
		}
		if strings.HasPrefix(p, "/") && !strings.HasPrefix(n, "/") {
			t.Fatalf("%q -> %q lost its leading slash", p, n)
		}
		if strings.HasPrefix(n, "/") && needsDotOrSlashWork(n) {
			t.Fatalf("%q -> %q still has dot or empty segments", p, n)
		}
	})
}
