package requesttransformer

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
		{"method", `{"http_method":"get"}`, entity.FieldErrors{"http_method": "invalid value: get"}},
		{"pair without colon", `{"add":{"headers":["X-A"]}}`, entity.FieldErrors{"add": entity.FieldErrors{"headers": entity.FieldErrors{"1": "invalid value: X-A"}}}},
		{"body pair without value", `{"add":{"body":["ok:1","k:"]}}`, entity.FieldErrors{"add": entity.FieldErrors{"body": entity.FieldErrors{"2": "key 'k' has no value"}}}},
		{"bad header name", `{"remove":{"headers":["X A"]}}`, entity.FieldErrors{"remove": entity.FieldErrors{"headers": entity.FieldErrors{"1": "'X A' is not a valid header"}}}},
		{"bad rename target", `{"rename":{"headers":["X-A:X B"]}}`, entity.FieldErrors{"rename": entity.FieldErrors{"headers": entity.FieldErrors{"1": "'X B' is not a valid header"}}}},
		{"unsupported template", `{"add":{"querystring":["a:$(uri_captures.id)"]}}`, entity.FieldErrors{"add": entity.FieldErrors{"querystring": entity.FieldErrors{"1": "template expression 'uri_captures.id' is not supported (only headers and query_params by name)"}}}},
		{"unterminated template", `{"replace":{"uri":"/a/$(headers.x"}}`, entity.FieldErrors{"replace": entity.FieldErrors{"uri": "value '/a/$(headers.x' has an unterminated template"}}},
		{"unknown record field", `{"add":{"json":["a:b"]}}`, entity.FieldErrors{"add": entity.FieldErrors{"json": "unknown field"}}},
		{"record type", `{"remove":["a"]}`, entity.FieldErrors{"remove": "expected a record"}},
		{"templates", `{"add":{"headers":["X-A:$(headers.x_b)-$(query_params[\"q\"])"]}}`, nil},
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
	want := `{"http_method":null,"remove":{"body":[],"headers":[],"querystring":[]},"rename":{"body":[],"headers":[],"querystring":[]},"replace":{"body":[],"headers":[],"querystring":[],"uri":null},"add":{"body":[],"headers":[],"querystring":[]},"append":{"body":[],"headers":[],"querystring":[]}}`
	if string(out) != want {
		t.Errorf("defaults = %s\nwant %s", out, want)
	}
}

func run(t *testing.T, config string, req *plugintest.Request) {
	t.Helper()
	inst := plugintest.Build(t, Factory(), config, plugin.Env{})
	inst.(plugin.Accessor).Access(&plugin.Context{Request: req})
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		headers map[string]string
		want    map[string][]string
	}{
		{
			name:    "remove",
			config:  `{"remove":{"headers":["X-A","x-missing","Host"]}}`,
			headers: map[string]string{"X-A": "1", "X-B": "2", "Host": "h"},
			want:    map[string][]string{"X-A": nil, "X-B": {"2"}, "Host": {"h"}},
		},
		{
			name:    "rename",
			config:  `{"rename":{"headers":["X-Old:X-New","X-Absent:X-Other"]}}`,
			headers: map[string]string{"X-Old": "v"},
			want:    map[string][]string{"X-Old": nil, "X-New": {"v"}, "X-Other": nil},
		},
		{
			name:    "replace only existing, host always",
			config:  `{"replace":{"headers":["X-A:new","X-Absent:new","host:upstream.test"]}}`,
			headers: map[string]string{"X-A": "old", "Host": "client.test"},
			want:    map[string][]string{"X-A": {"new"}, "X-Absent": nil, "Host": {"upstream.test"}},
		},
		{
			name:    "add only absent, never host",
			config:  `{"add":{"headers":["X-A:added","X-B:added","Host:nope"]}}`,
			headers: map[string]string{"X-A": "kept", "Host": "h"},
			want:    map[string][]string{"X-A": {"kept"}, "X-B": {"added"}, "Host": {"h"}},
		},
		{
			name:    "append",
			config:  `{"append":{"headers":["X-A:two","X-B:one"]}}`,
			headers: map[string]string{"X-A": "one"},
			want:    map[string][]string{"X-A": {"one", "two"}, "X-B": {"one"}},
		},
		{
			name:    "order: remove then add",
			config:  `{"remove":{"headers":["X-A"]},"add":{"headers":["X-A:fresh"]}}`,
			headers: map[string]string{"X-A": "old"},
			want:    map[string][]string{"X-A": {"fresh"}},
		},
		{
			name:   "colons in values",
			config: `{"add":{"headers":["X-URL:http://a:8080/x"]}}`,
			want:   map[string][]string{"X-URL": {"http://a:8080/x"}},
		},
		{
			name:    "templates",
			config:  `{"add":{"headers":["X-Copy:$(headers.x_src)","X-Q:q=$(query_params[\"id\"]);","X-None:[$(headers.missing)]"]}}`,
			headers: map[string]string{"X-Src": "s"},
			want:    map[string][]string{"X-Copy": {"s"}, "X-Q": {"q=42;"}, "X-None": {"[]"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := plugintest.NewRequest("GET", "/?id=42", tt.headers, nil)
			run(t, tt.config, req)
			for h, want := range tt.want {
				if got := req.HeaderValues(h); !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if req.BodyReads != 0 {
				t.Error("body read for header changes")
			}
		})
	}
}

func TestQuery(t *testing.T) {
	tests := []struct {
		name, config, url, want string
	}{
		{"remove", `{"remove":{"querystring":["a"]}}`, "/?a=1&b=2&a=3", "b=2"},
		{"rename", `{"rename":{"querystring":["a:z"]}}`, "/?a=1&b=2", "b=2&z=1"},
		{"rename absent clears the target", `{"rename":{"querystring":["x:b"]}}`, "/?a=1&b=2", "a=1"},
		{"replace", `{"replace":{"querystring":["a:9","x:9"]}}`, "/?a=1&b=2", "a=9&b=2"},
		{"add", `{"add":{"querystring":["a:9","c:3"]}}`, "/?a=1", "a=1&c=3"},
		{"append", `{"append":{"querystring":["a:2"]}}`, "/?a=1", "a=1&a=2"},
		{"untouched without query changes", `{"add":{"headers":["X:1"]}}`, "/?b=2&a=1", "b=2&a=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := plugintest.NewRequest("GET", tt.url, nil, nil)
			run(t, tt.config, req)
			if got := req.RawQuery(); got != tt.want {
				t.Errorf("query = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBody(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	const js = "application/json"
	tests := []struct {
		name, config, ctype, body, want string
	}{
		{"json all", `{"remove":{"body":["secret"]},"rename":{"body":["old:new"]},"replace":{"body":["r:replaced","absent:x"]},"add":{"body":["a:added","keep:no"]},"append":{"body":["list:3","scalar:2"]}}`,
			js, `{"keep":1,"secret":"s","old":"o","r":true,"list":["1","2"],"scalar":"1"}`,
			`{"keep":1,"new":"o","r":"replaced","list":["1","2","3"],"scalar":["1","2"],"a":"added"}`},
		{"json empty body gets added fields", `{"add":{"body":["a:1"]},"remove":{"body":["b"]}}`, js, ``, `{"a":"1"}`},
		{"json invalid left alone", `{"add":{"body":["a:1"]}}`, js, `{"x":`, `{"x":`},
		{"json array left alone", `{"add":{"body":["a:1"]}}`, js, `[1]`, `[1]`},
		{"json charset param", `{"add":{"body":["a:1"]}}`, js + "; charset=utf-8", `{}`, `{"a":"1"}`},
		{"json value escaped", `{"add":{"body":["a:say \"hi\" <b>"]}}`, js, `{}`, `{"a":"say \"hi\" <b>"}`},
		{"form", `{"remove":{"body":["p"]},"rename":{"body":["u:user"]},"add":{"body":["n:a b"]},"append":{"body":["t:2"]}}`, form, "u=joe&p=pw&t=1", "t=1&user=joe&n=a+b&t=2"},
		{"other types untouched", `{"add":{"body":["a:1"]}}`, "text/plain", "hello", "hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := plugintest.NewRequest("POST", "/", map[string]string{"Content-Type": tt.ctype}, []byte(tt.body))
			run(t, tt.config, req)
			if got := string(req.RawBody()); got != tt.want {
				t.Errorf("body = %s\nwant %s", got, tt.want)
			}
			if got, want := req.Header("Content-Length"), len(tt.want); got != itoa(want) {
				t.Errorf("Content-Length = %s, want %d", got, want)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestMethodAndURI(t *testing.T) {
	req := plugintest.NewRequest("POST", "/old?x=1", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Id": "7"}, []byte("a=1&x=2"))
	run(t, `{"http_method":"GET","replace":{"uri":"/items/$(headers.x_id)"}}`, req)
	if req.Method() != "GET" {
		t.Errorf("method = %s", req.Method())
	}
	if req.Path() != "/items/7" {
		t.Errorf("path = %s", req.Path())
	}
	if got := req.RawQuery(); got != "x=1&a=1&x=2" {
		t.Errorf("query = %s (form body moves to the query)", got)
	}
}

func TestTemplateParse(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		desc string
	}{
		{"plain", true, "literal"},
		{"$(headers.a)", true, "header by dot"},
		{"$(headers['X-A'])", true, "header by bracket"},
		{"x$(query_params.q)y$(headers.b)z", true, "mixed"},
		{"$(headers.a or 'x')", false, "lua expression"},
		{"$(headers[x])", false, "unquoted bracket"},
		{"$(shared.x)", false, "shared"},
		{"$(headers.)", false, "empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, msg := parseTemplate(tt.in)
			if (msg == "") != tt.ok {
				t.Errorf("parseTemplate(%q) = %q, ok want %v", tt.in, msg, tt.ok)
			}
		})
	}
}
