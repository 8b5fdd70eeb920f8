package route

import (
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/internal/entity"
)

// TestMatchConditions covers each matching field on its own; every case
// names the Kong behaviour it shows.
func TestMatchConditions(t *testing.T) {
	tests := []struct {
		name     string
		route    *entity.Route
		req      *Request
		match    bool
		prefix   string            // checked when match
		captures map[string]string // checked when match
		redirect bool
	}{
		// hosts
		{name: "hosts: exact", route: newRoute("r", hosts("api.example.com")), req: get("api.example.com", "/"), match: true},
		{name: "hosts: case-insensitive (RFC 9110 §4.2.3)", route: newRoute("r", hosts("API.example.com")), req: get("api.EXAMPLE.com", "/"), match: true},
		{name: "hosts: request port ignored by a host without port", route: newRoute("r", hosts("api.example.com")), req: get("api.example.com:8000", "/"), match: true},
		{name: "hosts: other host", route: newRoute("r", hosts("api.example.com")), req: get("www.example.com", "/")},
		{name: "hosts: no Host header", route: newRoute("r", hosts("api.example.com")), req: get("", "/")},
		{name: "hosts: any of several", route: newRoute("r", hosts("a.test", "b.test")), req: get("b.test", "/"), match: true},
		{name: "hosts: with port, same port", route: newRoute("r", hosts("api.example.com:8000")), req: get("api.example.com:8000", "/"), match: true},
		{name: "hosts: with port, other port", route: newRoute("r", hosts("api.example.com:8000")), req: get("api.example.com:9000", "/")},
		{name: "hosts: with port, Host without port on http means 80", route: newRoute("r", hosts("api.example.com:80")), req: get("api.example.com", "/"), match: true},
		{name: "hosts: with port, Host without port on https means 443", route: newRoute("r", hosts("api.example.com:443")),
			req: &Request{Protocol: "https", Method: "GET", Host: "api.example.com", Path: "/"}, match: true},
		{name: "hosts: with port 8000, Host without port", route: newRoute("r", hosts("api.example.com:8000")), req: get("api.example.com", "/")},
		{name: "hosts: IPv6 literal with port", route: newRoute("r", hosts("[::1]:8000")), req: get("[::1]:8000", "/"), match: true},
		{name: "hosts: IPv6 literal, port ignored", route: newRoute("r", hosts("[::1]")), req: get("[::1]:8000", "/"), match: true},
		{name: "hosts: leading wildcard, one label", route: newRoute("r", hosts("*.example.com")), req: get("a.example.com", "/"), match: true},
		{name: "hosts: leading wildcard, several labels", route: newRoute("r", hosts("*.example.com")), req: get("a.b.example.com", "/"), match: true},
		{name: "hosts: leading wildcard does not match the apex", route: newRoute("r", hosts("*.example.com")), req: get("example.com", "/")},
		{name: "hosts: leading wildcard is label-aligned", route: newRoute("r", hosts("*.example.com")), req: get("aexample.com", "/")},
		{name: "hosts: leading wildcard with port", route: newRoute("r", hosts("*.example.com:8000")), req: get("a.example.com:8000", "/"), match: true},
		{name: "hosts: leading wildcard with other port", route: newRoute("r", hosts("*.example.com:8000")), req: get("a.example.com:8001", "/")},
		{name: "hosts: trailing wildcard", route: newRoute("r", hosts("example.*")), req: get("example.org", "/"), match: true},
		{name: "hosts: trailing wildcard, several labels", route: newRoute("r", hosts("example.*")), req: get("example.co.uk", "/"), match: true},
		{name: "hosts: trailing wildcard is label-aligned", route: newRoute("r", hosts("example.*")), req: get("examples.org", "/")},
		{name: "hosts: trailing wildcard with port", route: newRoute("r", hosts("example.*:8000")), req: get("example.org:8000", "/"), match: true},

		// paths
		{name: "paths: prefix", route: newRoute("r", paths("/foo")), req: get("a", "/foo/bar"), match: true, prefix: "/foo"},
		{name: "paths: prefix is a byte prefix, not a segment prefix", route: newRoute("r", paths("/foo")), req: get("a", "/foobar"), match: true, prefix: "/foo"},
		{name: "paths: prefix mismatch", route: newRoute("r", paths("/foo")), req: get("a", "/fo")},
		{name: "paths: case-sensitive", route: newRoute("r", paths("/foo")), req: get("a", "/FOO")},
		{name: "paths: normalized, unreserved percent-decoded", route: newRoute("r", paths("/foo")), req: get("a", "/fo%6F/x"), match: true, prefix: "/foo"},
		{name: "paths: normalized, dot segments removed", route: newRoute("r", paths("/foo")), req: get("a", "/bar/../foo/x"), match: true, prefix: "/foo"},
		{name: "paths: normalized, %2e%2e is a dot segment", route: newRoute("r", paths("/foo")), req: get("a", "/bar/%2e%2e/foo"), match: true},
		{name: "paths: normalized, slashes merged", route: newRoute("r", paths("/foo/bar")), req: get("a", "//foo//bar"), match: true},
		{name: "paths: normalized, reserved %2F stays encoded", route: newRoute("r", paths("/foo/bar")), req: get("a", "/foo%2Fbar")},
		{name: "paths: route path normalized too", route: newRoute("r", paths("/fo%6f")), req: get("a", "/foo"), match: true, prefix: "/foo"},
		{name: "paths: no escape above the root", route: newRoute("r", paths("/admin")), req: get("a", "/../admin"), match: true},
		{name: "paths: regex anchored at the start", route: newRoute("r", paths(`~/foo/\d+`)), req: get("a", "/x/foo/1")},
		{name: "paths: regex not anchored at the end", route: newRoute("r", paths(`~/foo/\d+`)), req: get("a", "/foo/12/rest"), match: true, prefix: "/foo/12"},
		{name: "paths: regex anchor covers every alternative", route: newRoute("r", paths(`~/a|/b`)), req: get("a", "/x/b")},
		{name: "paths: regex alternative", route: newRoute("r", paths(`~/a|/b`)), req: get("a", "/b/c"), match: true, prefix: "/b"},
		{name: "paths: regex without groups has no captures", route: newRoute("r", paths(`~/v\d+`)), req: get("a", "/v2/x"), match: true, prefix: "/v2"},
		{name: "paths: regex named captures, PCRE syntax", route: newRoute("r", paths(`~/users/(?<id>\d+)/(?<action>\w+)`)),
			req: get("a", "/users/42/edit"), match: true, prefix: "/users/42/edit", captures: map[string]string{"id": "42", "action": "edit"}},
		{name: "paths: regex unnamed captures by number", route: newRoute("r", paths(`~/(\w+)/(?<id>\d+)/(\w+)`)),
			req: get("a", "/users/42/edit"), match: true, captures: map[string]string{"1": "users", "id": "42", "3": "edit"}},
		{name: "paths: regex optional group that did not match is absent", route: newRoute("r", paths(`~/a(/(\d+))?`)),
			req: get("a", "/a/x"), match: true, prefix: "/a", captures: nil},
		{name: "paths: regex against the normalized path", route: newRoute("r", paths(`~/foo/bar$`)), req: get("a", "/foo/./b%61r"), match: true},
		{name: "paths: any of several", route: newRoute("r", paths("/a", "/b")), req: get("a", "/b"), match: true, prefix: "/b"},

		// methods
		{name: "methods: listed", route: newRoute("r", methods("GET", "POST")), req: &Request{Protocol: "http", Method: "POST", Path: "/"}, match: true},
		{name: "methods: not listed", route: newRoute("r", methods("GET")), req: &Request{Protocol: "http", Method: "DELETE", Path: "/"}},
		{name: "methods: configured lower-case is upper-cased", route: newRoute("r", methods("get")), req: get("a", "/"), match: true},
		{name: "methods: request methods are case-sensitive (RFC 9110 §9.1)", route: newRoute("r", methods("GET")), req: &Request{Protocol: "http", Method: "get", Path: "/"}},

		// headers
		{name: "headers: value case-insensitive", route: newRoute("r", header("X-Version", "v1")), req: withHeader(hdr{"x-version": {"V1"}}), match: true},
		{name: "headers: any configured value", route: newRoute("r", header("x-version", "v1", "v2")), req: withHeader(hdr{"x-version": {"v2"}}), match: true},
		{name: "headers: any request value", route: newRoute("r", header("x-version", "v2")), req: withHeader(hdr{"x-version": {"v1", "v2"}}), match: true},
		{name: "headers: values are not split at commas", route: newRoute("r", header("x-version", "v2")), req: withHeader(hdr{"x-version": {"v1, v2"}})},
		{name: "headers: missing header", route: newRoute("r", header("x-version", "v1")), req: withHeader(hdr{"x-other": {"v1"}})},
		{name: "headers: nil header source", route: newRoute("r", header("x-version", "v1")), req: get("a", "/")},
		{name: "headers: all names must match", route: newRoute("r", header("x-a", "1"), header("x-b", "2")), req: withHeader(hdr{"x-a": {"1"}})},
		{name: "headers: ~* regex value", route: newRoute("r", header("x-version", `~*^v\d+$`)), req: withHeader(hdr{"x-version": {"V12"}}), match: true},
		{name: "headers: ~* regex is unanchored", route: newRoute("r", header("x-agent", `~*bot`)), req: withHeader(hdr{"x-agent": {"GoogleBot/2.1"}}), match: true},
		{name: "headers: ~* regex mismatch", route: newRoute("r", header("x-version", `~*^v\d+$`)), req: withHeader(hdr{"x-version": {"beta"}})},

		// snis
		{name: "snis: https with the sni", route: newRoute("r", snis("api.example.com"), protocols("https")),
			req: &Request{Protocol: "https", Method: "GET", Path: "/", SNI: "api.example.com"}, match: true},
		{name: "snis: final dot ignored", route: newRoute("r", snis("api.example.com."), protocols("https")),
			req: &Request{Protocol: "https", Method: "GET", Path: "/", SNI: "API.example.com."}, match: true},
		{name: "snis: https with another sni", route: newRoute("r", snis("api.example.com"), protocols("https")),
			req: &Request{Protocol: "https", Method: "GET", Path: "/", SNI: "www.example.com"}},
		{name: "snis: ignored on plain http (Kong issue #6425)", route: newRoute("r", snis("api.example.com"), paths("/")),
			req: get("a", "/"), match: true},

		// protocols
		{name: "protocols: https-only route on http asks for a redirect", route: newRoute("r", paths("/"), protocols("https")),
			req: get("a", "/"), match: true, redirect: true},
		{name: "protocols: https-only route on https", route: newRoute("r", paths("/"), protocols("https")),
			req: &Request{Protocol: "https", Method: "GET", Path: "/"}, match: true},
		{name: "protocols: http-only route still serves https (Kong issue #8073)", route: newRoute("r", paths("/"), protocols("http")),
			req: &Request{Protocol: "https", Method: "GET", Path: "/"}, match: true},
		{name: "protocols: default protocols", route: newRoute("r", paths("/"), protocols()), req: get("a", "/"), match: true},
		{name: "protocols: grpcs route is in the HTTP router", route: newRoute("r", paths("/"), protocols("grpcs")), req: get("a", "/"), match: true},
		{name: "protocols: stream route is not in the HTTP router", route: newRoute("r", snis("a"), protocols("tls")),
			req: &Request{Protocol: "https", Method: "GET", Path: "/", SNI: "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := mustCompile(t, tc.route)
			m, ok := tb.Match(tc.req)
			if ok != tc.match {
				t.Fatalf("matched %v, want %v", ok, tc.match)
			}
			if !ok {
				return
			}
			checkSatisfies(t, m, tc.req)
			if tc.prefix != "" && m.Prefix != tc.prefix {
				t.Errorf("prefix %q, want %q", m.Prefix, tc.prefix)
			}
			if tc.captures != nil || strings.Contains(tc.name, "captures") || strings.Contains(tc.name, "no captures") {
				if !maps.Equal(m.Captures, tc.captures) || (tc.captures == nil) != (m.Captures == nil) {
					t.Errorf("captures %v, want %v", m.Captures, tc.captures)
				}
			}
			if m.RedirectHTTPS != tc.redirect {
				t.Errorf("RedirectHTTPS %v, want %v", m.RedirectHTTPS, tc.redirect)
			}
			if m.Entry.Workspace != entity.DefaultWorkspace {
				t.Errorf("workspace %q", m.Entry.Workspace)
			}
		})
	}
}

func withHeader(h hdr) *Request {
	return &Request{Protocol: "http", Method: "GET", Host: "a.test", Path: "/", Header: h}
}

func TestCompileErrors(t *testing.T) {
	good := newRoute("good", paths("/ok"))
	tests := []struct {
		name  string
		route *entity.Route
		want  error
		text  string // in the message
	}{
		{name: "bad regex", route: newRoute("bad-re", paths(`~/(unclosed`)), want: ErrPath, text: "bad-re"},
		{name: "look-behind is not RE2", route: newRoute("lookbehind", paths(`~/(?<=a)b`)), want: ErrPath},
		{name: "regex not starting with ~/", route: newRoute("re-noslash", paths(`~foo`)), want: ErrPath},
		{name: "path not starting with /", route: newRoute("noslash", paths("foo")), want: ErrPath},
		{name: "empty path", route: newRoute("empty", paths("")), want: ErrPath},
		{name: "host header", route: newRoute("hosthdr", header("Host", "a")), want: ErrHeader, text: "hosts"},
		{name: "header without values", route: newRoute("novals", header("x-a")), want: ErrHeader},
		{name: "bad header regex", route: newRoute("hdr-re", header("x-a", "~*(")), want: ErrHeader},
		{name: "wildcard in the middle", route: newRoute("midwild", hosts("a.*.com")), want: ErrHost},
		{name: "two wildcards", route: newRoute("twowild", hosts("*.example.*")), want: ErrHost},
		{name: "bad port", route: newRoute("badport", hosts("a.com:99999")), want: ErrHost},
		{name: "no matching fields", route: newRoute("nothing"), want: ErrNoMatchFields},
		{name: "nil route", route: nil, want: ErrNoRoute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := Compile([]Entry{{Route: good}, {Route: tc.route, Workspace: "ws1"}})
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			var re *RouteError
			if !errors.As(err, &re) {
				t.Fatalf("error %v is no *RouteError", err)
			}
			if tc.route != nil && (re.RouteID != tc.route.ID || !strings.Contains(err.Error(), tc.route.ID)) {
				t.Errorf("error %q does not name route %q", err, tc.route.ID)
			}
			if re.Workspace != "ws1" {
				t.Errorf("workspace %q", re.Workspace)
			}
			if tc.text != "" && !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q lacks %q", err, tc.text)
			}
			if tb == nil || tb.Len() != 1 {
				t.Fatalf("table of the good routes not returned")
			}
			if _, ok := tb.Match(get("a", "/ok")); !ok {
				t.Error("good route not matched")
			}
		})
	}
}

func TestCompileReportsEveryBadRoute(t *testing.T) {
	_, err := Compile(entries(newRoute("bad1", paths("~/(")), newRoute("ok", paths("/")), newRoute("bad2", hosts("a.*.b"))))
	for _, id := range []string{"bad1", "bad2"} {
		if err == nil || !strings.Contains(err.Error(), id) {
			t.Errorf("error %v does not name %s", err, id)
		}
	}
}

func TestStreamRoutesSkipped(t *testing.T) {
	tb, err := Compile(entries(newRoute("tcp", protocols("tcp")), newRoute("http", paths("/"))))
	if err != nil {
		t.Fatal(err)
	}
	if tb.Len() != 1 {
		t.Fatalf("Len %d, want 1", tb.Len())
	}
}

func TestEmptyAndNilTable(t *testing.T) {
	var nilTable *Table
	if _, ok := nilTable.Match(get("a", "/")); ok || nilTable.Len() != 0 {
		t.Fatal("nil table matched")
	}
	tb := mustCompile(t)
	if _, ok := tb.Match(get("a", "/")); ok || tb.Len() != 0 {
		t.Fatal("empty table matched")
	}
	if _, ok := mustCompile(t, newRoute("r", paths("/"))).Match(nil); ok {
		t.Fatal("nil request matched")
	}
}

// TestCompileCopiesEntries: the table does not see later changes to the
// caller's slice.
func TestCompileCopiesEntries(t *testing.T) {
	es := entries(newRoute("a", paths("/")))
	tb, err := Compile(es)
	if err != nil {
		t.Fatal(err)
	}
	es[0] = Entry{Route: newRoute("b", paths("/"))}
	if id := matchedID(tb.Match(get("x", "/"))); id != "a" {
		t.Fatalf("matched %q", id)
	}
}

// TestConcurrentMatch runs lookups from many goroutines on one table; run
// with -race.
func TestConcurrentMatch(t *testing.T) {
	routes := benchRoutes(500)
	tb := mustCompile(t, routes...)
	reqs := benchRequests(routes, 200)
	want := make([]string, len(reqs))
	for i, r := range reqs {
		want[i] = matchedID(tb.Match(r))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := range 2000 {
				k := (i + g*37) % len(reqs)
				if got := matchedID(tb.Match(reqs[k])); got != want[k] {
					select {
					case errs <- got + " != " + want[k]:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
