package route

import (
	"testing"

	"github.com/tollgate/tollgate/internal/entity"
)

// TestUpstreamPath: each case matches the request against a one-route
// table and computes the upstream path from that match. The first block is
// the table of the Admin API reference, "Path handling algorithms" (its
// "/s/fv01/" row is a typo for "/s/fv0/", which is what
// get_upstream_uri_v0 computes); the rest cover the branches of
// kong/router/utils.lua get_upstream_uri and the v1 branch of
// kong/router/traditional.lua.
func TestUpstreamPath(t *testing.T) {
	tests := []struct {
		name      string
		service   string
		routePath string // "" for a route matched on host only
		strip     bool
		handling  string
		request   string
		want      string
	}{
		{"docs: v0 no strip, request beyond route", "/s", "/fv0", false, "v0", "/fv0/req", "/s/fv0/req"},
		{"docs: v0 no strip, request is route", "/s", "/fv0", false, "v0", "/fv0", "/s/fv0"},
		{"docs: v1 no strip, request beyond route", "/s", "/fv1", false, "v1", "/fv1/req", "/sfv1/req"},
		{"docs: v1 no strip, request is route", "/s", "/fv1", false, "v1", "/fv1", "/sfv1"},
		{"docs: v0 strip, request beyond route", "/s", "/tv0", true, "v0", "/tv0/req", "/s/req"},
		{"docs: v0 strip, request is route", "/s", "/tv0", true, "v0", "/tv0", "/s"},
		{"docs: v1 strip, request beyond route", "/s", "/tv1", true, "v1", "/tv1/req", "/s/req"},
		{"docs: v1 strip, request is route", "/s", "/tv1", true, "v1", "/tv1", "/s"},
		{"docs: v0 no strip, route with slash, request beyond", "/s", "/fv0/", false, "v0", "/fv0/req", "/s/fv0/req"},
		{"docs: v0 no strip, route with slash, request is route", "/s", "/fv0/", false, "v0", "/fv0/", "/s/fv0/"},
		{"docs: v1 no strip, route with slash, request beyond", "/s", "/fv1/", false, "v1", "/fv1/req", "/sfv1/req"},
		{"docs: v1 no strip, route with slash, request is route", "/s", "/fv1/", false, "v1", "/fv1/", "/sfv1/"},
		{"docs: v0 strip, route with slash, request beyond", "/s", "/tv0/", true, "v0", "/tv0/req", "/s/req"},
		{"docs: v0 strip, route with slash, request is route", "/s", "/tv0/", true, "v0", "/tv0/", "/s/"},
		{"docs: v1 strip, route with slash, request beyond", "/s", "/tv1/", true, "v1", "/tv1/req", "/sreq"},
		{"docs: v1 strip, route with slash, request is route", "/s", "/tv1/", true, "v1", "/tv1/", "/s"},

		{"v0 default service path, strip", "", "/r", true, "v0", "/r/x", "/x"},
		{"v0 root service path, strip, request is route", "/", "/r", true, "v0", "/r", "/"},
		{"v0 root service path, no strip", "/", "/r", false, "v0", "/r/x", "/r/x"},
		{"v0 service with slash, strip, request is route", "/s/", "/r", true, "v0", "/r", "/s"},
		{"v0 service with slash, strip, request is route with slash", "/s/", "/r", true, "v0", "/r/", "/s/"},
		{"v0 service with slash, strip, postfix without slash", "/s/", "/r", true, "v0", "/rx", "/s/x"},
		{"v0 service with slash, strip, postfix with slash", "/s/", "/r", true, "v0", "/r/x", "/s/x"},
		{"v0 service with slash, no strip", "/s/", "/r", false, "v0", "/r/x", "/s/r/x"},
		{"v0 service without slash, strip, postfix without slash", "/s", "/r", true, "v0", "/rx", "/s/x"},
		{"v0 service without slash, no strip, request is root", "/s", "/", false, "v0", "/", "/s"},
		{"v0 empty path_handling is v0", "/s", "/tv0", true, "", "/tv0/req", "/s/req"},
		{"v0 strip, postfix dot segment sanitized", "/s", "/foo", true, "v0", "/foo./bar", "/s/bar"},
		{"v0 request path normalized first", "/s", "/r", true, "v0", "/r/%61b/./c", "/s/ab/c"},
		{"v0 regex route strips the whole match", "/s", `~/v\d+`, true, "v0", "/v2/items", "/s/items"},
		{"v0 regex route with captures strips the whole match", "/s/", `~/users/(?<id>\d+)`, true, "v0", "/users/7/profile", "/s/profile"},
		{"v0 regex route, no strip", "/s", `~/v\d+`, false, "v0", "/v2/items", "/s/v2/items"},
		{"v0 route without paths, strip keeps the path", "/s", "", true, "v0", "/foo/bar", "/s/foo/bar"},
		{"v0 route without paths, root service", "/", "", true, "v0", "/foo", "/foo"},
		{"v1 service with slash, strip, postfix with slash", "/s/", "/r", true, "v1", "/r/x", "/s/x"},
		{"v1 service with slash, strip, postfix without slash", "/s/", "/r", true, "v1", "/rx", "/s/x"},
		{"v1 service without slash, strip, postfix without slash", "/s", "/r", true, "v1", "/rx", "/sx"},
		{"v1 service with slash, no strip", "/s/", "/r", false, "v1", "/r/x", "/s/r/x"},
		{"v1 regex route, strip", "/s", `~/v\d+`, true, "v1", "/v2/items", "/s/items"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := []opt{strip(tc.strip), pathHandling(tc.handling), hosts("a.test")}
			if tc.routePath != "" {
				opts = append(opts, paths(tc.routePath))
			}
			tb := mustCompile(t, newRoute("r", opts...))
			m, ok := tb.Match(get("a.test", tc.request))
			if !ok {
				t.Fatalf("request %q did not match route path %q", tc.request, tc.routePath)
			}
			if got := UpstreamPath(tc.service, &m, tc.request); got != tc.want {
				t.Errorf("UpstreamPath(%q, %q, %q) = %q, want %q", tc.service, tc.routePath, tc.request, got, tc.want)
			}
			// the proxy may pass the raw or the normalized request path
			if got := UpstreamPath(tc.service, &m, NormalizePath(tc.request)); got != tc.want {
				t.Errorf("with normalized request path: %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUpstreamPathWithoutMatch(t *testing.T) {
	if got := UpstreamPath("/s", nil, "/a/b"); got != "/s/a/b" {
		t.Fatalf("got %q", got)
	}
	if got := UpstreamPath("/s", &Match{Entry: &Entry{Route: &entity.Route{}}}, ""); got != "/s" {
		t.Fatalf("got %q", got)
	}
}
