package cors

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/plugin/plugintest"
	"github.com/tollgate/tollgate/internal/entity"
)

func TestConfigValidation(t *testing.T) {
	reg := plugin.NewRegistry(Factory())
	tests := []struct {
		name   string
		config string
		want   entity.FieldErrors
	}{
		{"defaults", `{}`, nil},
		{"regex origin", `{"origins":["https://.*\\.example\\.com", "*"]}`, nil},
		{"bad regex", `{"origins":["http://ok.com","(unclosed"]}`, entity.FieldErrors{"origins": entity.FieldErrors{"2": "'(unclosed' is not a valid regex"}}},
		{"bad method", `{"methods":["GET","FETCH"]}`, entity.FieldErrors{"methods": entity.FieldErrors{"2": "expected one of: GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS, TRACE, CONNECT"}}},
		{"max_age type", `{"max_age":"1h"}`, entity.FieldErrors{"max_age": "expected a number"}},
		{"credentials type", `{"credentials":"yes"}`, entity.FieldErrors{"credentials": "expected a boolean"}},
		{"unknown", `{"origin":"*"}`, entity.FieldErrors{"origin": "unknown field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := reg.Validate(Name, json.RawMessage(tt.config))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate = %#v, want %#v", got, tt.want)
			}
		})
	}
	out, _ := reg.Validate(Name, nil)
	want := `{"origins":null,"headers":null,"exposed_headers":null,"methods":["GET","HEAD","PUT","PATCH","POST","DELETE","OPTIONS","TRACE","CONNECT"],"max_age":null,"credentials":false,"private_network":false,"preflight_continue":false,"allow_origin_absent":true}`
	if string(out) != want {
		t.Errorf("defaults = %s\nwant %s", out, want)
	}
}

func build(t *testing.T, config string) *CORS {
	t.Helper()
	inst := plugintest.Build(t, Factory(), config, plugin.Env{})
	return inst.(*CORS)
}

func TestPreflight(t *testing.T) {
	const allMethods = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"
	tests := []struct {
		name    string
		config  string
		headers map[string]string
		want    map[string]string // nil: not answered
	}{
		{
			name:    "defaults",
			headers: map[string]string{"Access-Control-Request-Headers": "X-Foo, Content-Type"},
			want: map[string]string{
				"Access-Control-Allow-Origin":  "*",
				"Access-Control-Allow-Methods": allMethods,
				"Access-Control-Allow-Headers": "X-Foo, Content-Type",
			},
		},
		{
			name:   "configured",
			config: `{"origins":["https://app.example.com"],"headers":["X-A","X-B"],"methods":["GET","POST"],"max_age":3600,"credentials":true}`,
			want: map[string]string{
				"Access-Control-Allow-Origin":      "https://app.example.com",
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Methods":     "GET,POST",
				"Access-Control-Allow-Headers":     "X-A,X-B",
				"Access-Control-Max-Age":           "3600",
				"Vary":                             "Origin",
			},
		},
		{
			name:   "credentials with every origin echo the origin",
			config: `{"credentials":true}`,
			want: map[string]string{
				"Access-Control-Allow-Origin":      "https://app.example.com",
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Methods":     allMethods,
				"Vary":                             "Origin",
			},
		},
		{
			name:   "origin not allowed",
			config: `{"origins":["https://other.example.com"]}`,
			want: map[string]string{
				"Access-Control-Allow-Methods": allMethods,
				"Vary":                         "Origin",
			},
		},
		{
			name:    "private network",
			config:  `{"private_network":true,"max_age":1.5}`,
			headers: map[string]string{"Access-Control-Request-Private-Network": "true"},
			want: map[string]string{
				"Access-Control-Allow-Origin":          "*",
				"Access-Control-Allow-Methods":         allMethods,
				"Access-Control-Allow-Private-Network": "true",
				"Access-Control-Max-Age":               "1.5",
			},
		},
		{name: "preflight continues upstream", config: `{"preflight_continue":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(t, tt.config)
			h := map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
			for k, v := range tt.headers {
				h[k] = v
			}
			c := &plugin.Context{Request: plugintest.NewRequest("OPTIONS", "/", h, nil)}
			p.Access(c)
			exit, exited := c.Exited()
			if tt.want == nil {
				if exited {
					t.Fatalf("answered: %v", exit)
				}
				c.Response = plugintest.NewResponse(204, nil, nil)
				p.HeaderFilter(c)
				c.Response.VisitHeaders(func(n, v string) { t.Errorf("header added to a continued preflight: %s: %s", n, v) })
				return
			}
			if !exited || exit.Status != 200 || len(exit.Body) != 0 {
				t.Fatalf("exit = %v %d %q", exited, exit.Status, exit.Body)
			}
			if !reflect.DeepEqual(exit.Headers, tt.want) {
				t.Errorf("headers = %v\nwant %v", exit.Headers, tt.want)
			}
			// The response phases leave the preflight answer alone.
			c.Response = plugintest.FromExit(exit)
			p.HeaderFilter(c)
			if got := c.Response.Header("Access-Control-Expose-Headers"); got != "" {
				t.Errorf("header filter touched the preflight: %q", got)
			}
		})
	}
}

func TestHeaderFilter(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		origin   string
		method   string
		respVary string
		want     map[string]string // "" means absent
	}{
		{name: "every origin", origin: "https://a.com", want: map[string]string{"Access-Control-Allow-Origin": "*", "Vary": ""}},
		{name: "no origin header still gets headers", want: map[string]string{"Access-Control-Allow-Origin": "*"}},
		{name: "no origin header, allow_origin_absent false", config: `{"allow_origin_absent":false}`, want: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "exact match", config: `{"origins":["https://a.com","https://b.com"]}`, origin: "https://b.com", want: map[string]string{"Access-Control-Allow-Origin": "https://b.com", "Vary": "Origin"}},
		{name: "default port normalised", config: `{"origins":["http://a.com:80"]}`, origin: "http://a.com", want: map[string]string{"Access-Control-Allow-Origin": "http://a.com"}},
		{name: "no match", config: `{"origins":["https://a.com"]}`, origin: "https://evil.com", want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"}},
		{name: "no match is not a suffix match", config: `{"origins":["https://a.com"]}`, origin: "https://a.com.evil.com", want: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "regex by host", config: `{"origins":["(.*\\.)?example\\.com"]}`, origin: "https://api.example.com", want: map[string]string{"Access-Control-Allow-Origin": "https://api.example.com"}},
		{name: "regex anchored", config: `{"origins":["(.*\\.)?example\\.com"]}`, origin: "https://example.com.evil.org", want: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "regex with scheme", config: `{"origins":["https://.*\\.example\\.com"]}`, origin: "https://x.example.com", want: map[string]string{"Access-Control-Allow-Origin": "https://x.example.com"}},
		{name: "regex with scheme mismatched", config: `{"origins":["https://.*\\.example\\.com"]}`, origin: "http://x.example.com", want: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "credentials", config: `{"origins":["https://a.com"],"credentials":true}`, origin: "https://a.com", want: map[string]string{"Access-Control-Allow-Credentials": "true"}},
		{name: "credentials and every origin", config: `{"credentials":true}`, origin: "https://z.com", want: map[string]string{"Access-Control-Allow-Origin": "https://z.com", "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}},
		{name: "exposed headers", config: `{"exposed_headers":["X-A","X-B"]}`, origin: "https://z.com", want: map[string]string{"Access-Control-Expose-Headers": "X-A,X-B"}},
		{name: "vary merged", config: `{"origins":["https://a.com"]}`, origin: "https://a.com", respVary: "Accept-Encoding", want: map[string]string{"Vary": "Accept-Encoding, Origin"}},
		{name: "vary kept", config: `{"origins":["https://a.com"]}`, origin: "https://a.com", respVary: "origin", want: map[string]string{"Vary": "origin"}},
		{name: "plain OPTIONS is not a preflight", origin: "https://a.com", method: "OPTIONS", want: map[string]string{"Access-Control-Allow-Origin": "*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(t, tt.config)
			h := map[string]string{}
			if tt.origin != "" {
				h["Origin"] = tt.origin
			}
			method := tt.method
			if method == "" {
				method = "GET"
			}
			c := &plugin.Context{Request: plugintest.NewRequest(method, "/", h, nil)}
			p.Access(c)
			if _, exited := c.Exited(); exited {
				t.Fatal("exited on a simple request")
			}
			rh := map[string]string{}
			if tt.respVary != "" {
				rh["Vary"] = tt.respVary
			}
			c.Response = plugintest.NewResponse(200, rh, nil)
			p.HeaderFilter(c)
			for name, want := range tt.want {
				if got := c.Response.Header(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}
