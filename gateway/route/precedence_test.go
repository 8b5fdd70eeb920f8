package route

import (
	"testing"

	"github.com/tollgate/tollgate/internal/entity"
)

// Each case names the Kong rule it shows (Kong docs "Routing in Kong
// Gateway", kong/router/transform.lua get_priority and
// split_routes_and_services_by_path); routes are listed so that insertion
// order alone would pick the wrong one.
func TestPrecedence(t *testing.T) {
	tests := []struct {
		name   string
		routes []*entity.Route
		req    *Request
		want   string // route id, "" for no match
		path   string // matched route path, checked when not ""
	}{
		{
			name: "priority points: methods+paths before paths only",
			routes: []*entity.Route{
				newRoute("paths", paths("/"), created(1)),
				newRoute("methods+paths", paths("/"), methods("GET"), created(2)),
			},
			req:  get("a.test", "/x"),
			want: "methods+paths",
		},
		{
			name: "priority points: hosts+paths before longer path alone",
			routes: []*entity.Route{
				newRoute("long-path", paths("/very/long/prefix"), created(1)),
				newRoute("host+root", hosts("a.test"), paths("/"), created(2)),
			},
			req:  get("a.test", "/very/long/prefix/x"),
			want: "host+root",
		},
		{
			name: "priority points: paths count as a point (get_priority), so methods+paths beats a header alone",
			routes: []*entity.Route{
				newRoute("header", header("x-v", "1"), created(1)),
				newRoute("methods+paths", methods("GET"), paths("/foo"), created(2)),
			},
			req:  &Request{Protocol: "http", Method: "GET", Host: "a.test", Path: "/foo", Header: hdr{"X-V": {"1"}}},
			want: "methods+paths",
		},
		{
			name: "priority points: snis count as a point",
			routes: []*entity.Route{
				newRoute("paths", paths("/"), created(1)),
				newRoute("snis+paths", snis("a.test"), paths("/"), protocols("https"), created(2)),
			},
			req:  &Request{Protocol: "https", Method: "GET", Host: "a.test", Path: "/", SNI: "a.test"},
			want: "snis+paths",
		},
		{
			name: "plain hosts before wildcard hosts (suffix wildcard)",
			routes: []*entity.Route{
				newRoute("wild", hosts("*.example.com"), paths("/"), created(1)),
				newRoute("plain", hosts("api.example.com"), paths("/"), created(2)),
			},
			req:  get("api.example.com", "/x"),
			want: "plain",
		},
		{
			name: "plain hosts before wildcard hosts (prefix wildcard)",
			routes: []*entity.Route{
				newRoute("wild", hosts("api.*"), paths("/"), created(1)),
				newRoute("plain", hosts("api.example.com"), paths("/"), created(2)),
			},
			req:  get("api.example.com", "/x"),
			want: "plain",
		},
		{
			name: "plain hosts: a route mixing plain and wildcard hosts is not plain",
			routes: []*entity.Route{
				newRoute("mixed", hosts("api.example.com", "*.example.org"), paths("/"), created(1)),
				newRoute("plain", hosts("api.example.com"), paths("/"), created(2)),
			},
			req:  get("api.example.com", "/x"),
			want: "plain",
		},
		{
			name: "plain hosts outrank header count",
			routes: []*entity.Route{
				newRoute("wild+header", hosts("*.example.com"), header("x-v", "1"), created(1)),
				newRoute("plain+path", hosts("api.example.com"), paths("/"), created(2)),
			},
			req:  &Request{Protocol: "http", Method: "GET", Host: "api.example.com", Path: "/", Header: hdr{"x-v": {"1"}}},
			want: "plain+path",
		},
		{
			name: "plain hosts outrank path length",
			routes: []*entity.Route{
				newRoute("wild-long", hosts("*.example.com"), paths("/a/b/c/d"), created(1)),
				newRoute("plain-short", hosts("api.example.com"), paths("/"), created(2)),
			},
			req:  get("api.example.com", "/a/b/c/d"),
			want: "plain-short",
		},
		{
			name: "header count: more headers first",
			routes: []*entity.Route{
				newRoute("one", header("x-a", "1"), paths("/"), created(1)),
				newRoute("two", header("x-a", "1"), header("x-b", "2"), paths("/"), created(2)),
			},
			req:  &Request{Protocol: "http", Method: "GET", Host: "a.test", Path: "/", Header: hdr{"x-a": {"1"}, "x-b": {"2"}}},
			want: "two",
		},
		{
			name: "header count outranks regex over prefix",
			routes: []*entity.Route{
				newRoute("regex", header("x-a", "1"), paths(`~/\w+`), created(1)),
				newRoute("prefix", header("x-a", "1"), header("x-b", "2"), paths("/"), created(2)),
			},
			req:  &Request{Protocol: "http", Method: "GET", Host: "a.test", Path: "/abc", Header: hdr{"x-a": {"1"}, "x-b": {"2"}}},
			want: "prefix",
		},
		{
			name: "regex paths before prefix paths at equal points (Kong issue #4121)",
			routes: []*entity.Route{
				newRoute("prefix", paths("/api/account"), created(1)),
				newRoute("regex", paths("~/api/.*"), created(2)),
			},
			req:  get("a.test", "/api/account/getAll"),
			want: "regex",
		},
		{
			name: "regex paths: higher regex_priority first",
			routes: []*entity.Route{
				newRoute("low", paths(`~/status/\d+`), prio(0), created(1)),
				newRoute("high", paths(`~/status/.*`), prio(10), created(2)),
			},
			req:  get("a.test", "/status/200"),
			want: "high",
		},
		{
			name: "regex paths: negative regex_priority after zero",
			routes: []*entity.Route{
				newRoute("neg", paths(`~/status/\d+`), prio(-5), created(1)),
				newRoute("zero", paths(`~/status/.*`), created(2)),
			},
			req:  get("a.test", "/status/200"),
			want: "zero",
		},
		{
			name: "regex paths: equal regex_priority, older created_at first",
			routes: []*entity.Route{
				newRoute("newer", paths(`~/status/\d+`), prio(3), created(20)),
				newRoute("older", paths(`~/status/.*`), prio(3), created(10)),
			},
			req:  get("a.test", "/status/200"),
			want: "older",
		},
		{
			name: "regex paths: regex_priority does not lift a route over more priority points",
			routes: []*entity.Route{
				newRoute("regex", paths(`~/x`), prio(100), created(1)),
				newRoute("host+prefix", hosts("a.test"), paths("/"), created(2)),
			},
			req:  get("a.test", "/x"),
			want: "host+prefix",
		},
		{
			name: "prefix paths: longer first",
			routes: []*entity.Route{
				newRoute("short", paths("/foo"), created(1)),
				newRoute("long", paths("/foo/bar"), created(2)),
			},
			req:  get("a.test", "/foo/bar/baz"),
			want: "long",
		},
		{
			name: "prefix paths: longer first, shorter still serves the rest",
			routes: []*entity.Route{
				newRoute("short", paths("/foo"), created(1)),
				newRoute("long", paths("/foo/bar"), created(2)),
			},
			req:  get("a.test", "/foo/baz"),
			want: "short",
		},
		{
			name: "prefix paths: same length, older created_at first",
			routes: []*entity.Route{
				newRoute("newer", paths("/same"), created(20)),
				newRoute("older", paths("/same"), created(10)),
			},
			req:  get("a.test", "/same"),
			want: "older",
		},
		{
			name: "ties: same created_at, lower id first",
			routes: []*entity.Route{
				newRoute("b", paths("/same"), created(10)),
				newRoute("a", paths("/same"), created(10)),
			},
			req:  get("a.test", "/same"),
			want: "a",
		},
		{
			name: "split by path: each prefix length of a route has its own priority",
			routes: []*entity.Route{
				newRoute("multi", paths("/x", "/api/v1/users"), created(1)),
				newRoute("mid", paths("/x/y"), created(2)),
			},
			req:  get("a.test", "/x/y/z"),
			want: "mid",
		},
		{
			name: "split by path: the long path of the same route still wins its requests",
			routes: []*entity.Route{
				newRoute("multi", paths("/x", "/api/v1/users"), created(1)),
				newRoute("mid", paths("/api/v1"), created(2)),
			},
			req:  get("a.test", "/api/v1/users/7"),
			want: "multi",
			path: "/api/v1/users",
		},
		{
			name: "split by path: a route's regex path does not lift its prefix paths over longer prefixes",
			routes: []*entity.Route{
				newRoute("mixed", paths("/plain", `~/re\d`), created(2)),
				newRoute("other", paths("/plainer"), created(1)),
			},
			req:  get("a.test", "/plainer"),
			want: "other",
		},
		{
			name: "split by path: regex paths of a group tried in configured order",
			routes: []*entity.Route{
				newRoute("r", paths(`~/a/\d+`, `~/a/.*`)),
			},
			req:  get("a.test", "/a/12"),
			want: "r",
			path: `~/a/\d+`,
		},
		{
			name: "exact host bucket and host-less bucket compete by priority",
			routes: []*entity.Route{
				newRoute("hostless", paths("/"), methods("GET"), header("x-a", "1"), created(1)),
				newRoute("host", hosts("a.test"), paths("/"), created(2)),
			},
			req:  &Request{Protocol: "http", Method: "GET", Host: "a.test", Path: "/", Header: hdr{"x-a": {"1"}}},
			want: "hostless",
		},
		{
			name: "lower-priority route serves when the better one's method does not match",
			routes: []*entity.Route{
				newRoute("post", hosts("a.test"), paths("/"), methods("POST"), created(1)),
				newRoute("any", hosts("a.test"), paths("/"), created(2)),
			},
			req:  get("a.test", "/"),
			want: "any",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := mustCompile(t, tc.routes...)
			m, ok := tb.Match(tc.req)
			if got := matchedID(m, ok); got != tc.want {
				t.Fatalf("matched %q, want %q", got, tc.want)
			}
			if tc.path != "" && m.Path != tc.path {
				t.Errorf("matched path %q, want %q", m.Path, tc.path)
			}
			// the indexed lookup and a linear scan in priority order agree
			if lid := linearID(tb, tc.req); lid != tc.want {
				t.Errorf("linear scan matched %q, want %q", lid, tc.want)
			}
		})
	}
}
