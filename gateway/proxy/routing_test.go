package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/entity"
)

func TestRoutesToTheRightService(t *testing.T) {
	e := newEnv(t, envOptions{})
	a, b, c := echoServer(t, "a"), echoServer(t, "b"), echoServer(t, "c")
	sa := e.service("svc-a", a.URL)
	sb := e.service("svc-b", b.URL)
	sc := e.service("svc-c", c.URL)
	e.route(sa, func(r *entity.Route) { r.Paths = []string{"/a"} })
	e.route(sb, func(r *entity.Route) { r.Hosts = []string{"b.example.com"} })
	e.route(sc, func(r *entity.Route) { r.Paths = []string{"/a"}; r.Methods = []string{"POST"} })
	e.route(sb, func(r *entity.Route) { r.Paths = []string{"/h"}; r.Headers = map[string][]string{"X-Version": {"2"}} })
	e.route(sa, func(r *entity.Route) { r.Paths = []string{"/h"} })
	e.sync()

	tests := []struct {
		name     string
		method   string
		path     string
		headers  []string
		wantName string
		wantCode int
	}{
		{name: "path prefix", method: "GET", path: "/a/x", wantName: "a", wantCode: 200},
		{name: "method narrows", method: "POST", path: "/a", wantName: "c", wantCode: 200},
		{name: "host", method: "GET", path: "/anything", headers: []string{"Host", "b.example.com"}, wantName: "b", wantCode: 200},
		{name: "header beats plain path", method: "GET", path: "/h", headers: []string{"X-Version", "2"}, wantName: "b", wantCode: 200},
		{name: "without the header", method: "GET", path: "/h", wantName: "a", wantCode: 200},
		{name: "no route", method: "GET", path: "/nowhere", wantCode: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.http+tc.path, strings.NewReader(""))
			for i := 0; i+1 < len(tc.headers); i += 2 {
				if tc.headers[i] == "Host" {
					req.Host = tc.headers[i+1]
				} else {
					req.Header.Set(tc.headers[i], tc.headers[i+1])
				}
			}
			resp := e.do(req)
			b := readAll(t, resp)
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tc.wantCode, b)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			if tc.wantCode == 404 {
				if k := decodeKongError(t, resp, b); k.Message != "no Route matched with those values" {
					t.Errorf("message = %q", k.Message)
				}
				return
			}
			if got := decodeEcho(t, b).Name; got != tc.wantName {
				t.Fatalf("served by %q, want %q", got, tc.wantName)
			}
		})
	}
}

func TestUpstreamPathAndHost(t *testing.T) {
	e := newEnv(t, envOptions{})
	up := echoServer(t, "up")
	upHost, upPort := hostPort(t, up.URL)
	no := false

	tests := []struct {
		name        string
		servicePath string
		route       func(r *entity.Route)
		request     string
		host        string
		wantPath    string
		wantQuery   string
		wantHost    string
	}{
		{name: "strip path (default)", route: func(r *entity.Route) { r.Paths = []string{"/strip"} },
			request: "/strip/users?id=1&x=%20y", wantPath: "/users", wantQuery: "id=1&x=%20y"},
		{name: "keep path", route: func(r *entity.Route) { r.Paths = []string{"/keep"}; r.StripPath = &no },
			request: "/keep/users", wantPath: "/keep/users"},
		{name: "service path v0", servicePath: "/api", route: func(r *entity.Route) { r.Paths = []string{"/v0"} },
			request: "/v0/users", wantPath: "/api/users"},
		{name: "service path v0 exact", servicePath: "/api", route: func(r *entity.Route) { r.Paths = []string{"/v0x"} },
			request: "/v0x", wantPath: "/api"},
		{name: "service path v1", servicePath: "/api", route: func(r *entity.Route) { r.Paths = []string{"/v1"}; r.PathHandling = "v1" },
			request: "/v1users", wantPath: "/apiusers"},
		{name: "encoded path kept encoded", route: func(r *entity.Route) { r.Paths = []string{"/enc"} },
			request: "/enc/a%2Fb/c%20d", wantPath: "/a%2Fb/c%20d"},
		{name: "dot segments removed", route: func(r *entity.Route) { r.Paths = []string{"/dots"} },
			request: "/dots/a/../b", wantPath: "/b"},
		{name: "preserve host", route: func(r *entity.Route) { r.Paths = []string{"/ph"}; r.PreserveHost = true },
			request: "/ph", host: "client.example.com", wantPath: "/", wantHost: "client.example.com"},
		{name: "upstream host", route: func(r *entity.Route) { r.Paths = []string{"/uh"} },
			request: "/uh", host: "client.example.com", wantPath: "/"},
	}
	for i, tc := range tests {
		svc := e.service("svc-"+string(rune('a'+i)), up.URL, func(s *entity.Service) { s.Path = tc.servicePath })
		e.route(svc, tc.route)
	}
	e.sync()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", e.http+tc.request, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp := e.do(req)
			b := readAll(t, resp)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			got := decodeEcho(t, b)
			if got.Path != tc.wantPath {
				t.Errorf("upstream path = %q, want %q", got.Path, tc.wantPath)
			}
			if got.Query != tc.wantQuery {
				t.Errorf("upstream query = %q, want %q", got.Query, tc.wantQuery)
			}
			wantHost := tc.wantHost
			if wantHost == "" {
				wantHost = upHost + ":" + itoa(upPort)
			}
			if got.Host != wantHost {
				t.Errorf("upstream Host = %q, want %q", got.Host, wantHost)
			}
		})
	}
}

func TestServiceProblems(t *testing.T) {
	e := newEnv(t, envOptions{})
	up := echoServer(t, "up")
	off := false
	disabled := e.service("disabled", up.URL, func(s *entity.Service) { s.Enabled = &off })
	e.route(disabled, func(r *entity.Route) { r.Paths = []string{"/disabled"} })
	dns := e.service("dns", "http://no-such-host.invalid:80")
	e.route(dns, func(r *entity.Route) { r.Paths = []string{"/dns"} })
	https := e.service("redirect", up.URL)
	e.route(https, func(r *entity.Route) {
		r.Paths = []string{"/secure"}
		r.Protocols = []string{"https"}
		r.HTTPSRedirectStatusCode = 301
	})
	e.route(https, func(r *entity.Route) { r.Paths = []string{"/secure426"}; r.Protocols = []string{"https"} })
	e.sync()

	tests := []struct {
		name, path string
		code       int
		message    string
		location   string
	}{
		{name: "disabled service", path: "/disabled", code: 503, message: "Service unavailable"},
		{name: "name resolution", path: "/dns", code: 503, message: "name resolution failed"},
		{name: "https only, redirect", path: "/secure/x?y=1", code: 301, location: "https://127.0.0.1/secure/x?y=1"},
		{name: "https only, 426", path: "/secure426", code: 426, message: "Please use HTTPS protocol"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.get(tc.path)
			if resp.StatusCode != tc.code {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tc.code, b)
			}
			if tc.message != "" {
				if k := decodeKongError(t, resp, b); k.Message != tc.message {
					t.Errorf("message = %q, want %q", k.Message, tc.message)
				}
			}
			if tc.location != "" && resp.Header.Get("Location") != tc.location {
				t.Errorf("Location = %q, want %q", resp.Header.Get("Location"), tc.location)
			}
		})
	}
}
