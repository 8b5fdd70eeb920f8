package responsetransformer

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
		{"pair without colon", `{"add":{"headers":["X-A"]}}`, entity.FieldErrors{"add": entity.FieldErrors{"headers": entity.FieldErrors{"1": "invalid value: X-A"}}}},
		{"bad json type", `{"add":{"json":["a:1"],"json_types":["integer"]}}`, entity.FieldErrors{"add": entity.FieldErrors{"json_types": entity.FieldErrors{"1": "expected one of: boolean, number, string"}}}},
		{"rename needs pairs", `{"rename":{"json":["a"]}}`, entity.FieldErrors{"rename": entity.FieldErrors{"json": entity.FieldErrors{"1": "invalid value: a"}}}},
		{"no uri here", `{"replace":{"uri":"/x"}}`, entity.FieldErrors{"replace": entity.FieldErrors{"uri": "unknown field"}}},
		{"several", `{"append":{"headers":"x"},"remove":{"json":[1]}}`, entity.FieldErrors{"append": entity.FieldErrors{"headers": "expected an array"}, "remove": entity.FieldErrors{"json": entity.FieldErrors{"1": "expected a string"}}}},
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
	want := `{"remove":{"json":[],"headers":[]},"rename":{"headers":[],"json":[]},"replace":{"json":[],"json_types":[],"headers":[]},"add":{"json":[],"json_types":[],"headers":[]},"append":{"json":[],"json_types":[],"headers":[]}}`
	if string(out) != want {
		t.Errorf("defaults = %s\nwant %s", out, want)
	}
}

func build(t *testing.T, config string) *Transformer {
	t.Helper()
	inst := plugintest.Build(t, Factory(), config, plugin.Env{})
	return inst.(*Transformer)
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		headers map[string]string
		want    map[string][]string
	}{
		{"remove", `{"remove":{"headers":["Server","X-Absent"]}}`, map[string]string{"Server": "up"}, map[string][]string{"Server": nil}},
		{"rename", `{"rename":{"headers":["X-Old:X-New"]}}`, map[string]string{"X-Old": "v"}, map[string][]string{"X-Old": nil, "X-New": {"v"}}},
		{"replace existing only", `{"replace":{"headers":["X-A:r","X-B:r"]}}`, map[string]string{"X-A": "a"}, map[string][]string{"X-A": {"r"}, "X-B": nil}},
		{"add absent only", `{"add":{"headers":["X-A:n","X-B:n"]}}`, map[string]string{"X-A": "a"}, map[string][]string{"X-A": {"a"}, "X-B": {"n"}}},
		{"append", `{"append":{"headers":["X-A:2"]}}`, map[string]string{"X-A": "1"}, map[string][]string{"X-A": {"1", "2"}}},
		{"judged on the original headers", `{"remove":{"headers":["X-A"]},"add":{"headers":["X-A:again"]},"replace":{"headers":["X-A:replaced"]}}`,
			map[string]string{"X-A": "1"}, map[string][]string{"X-A": {"replaced"}}},
		{"rename after remove uses the original", `{"remove":{"headers":["X-A"]},"rename":{"headers":["X-A:X-B"]}}`,
			map[string]string{"X-A": "1"}, map[string][]string{"X-A": nil, "X-B": {"1"}}},
		{"json changes drop Content-Length of JSON", `{"add":{"json":["a:1"]}}`, map[string]string{"Content-Type": "application/json", "Content-Length": "2"}, map[string][]string{"Content-Length": nil}},
		{"other types keep Content-Length", `{"add":{"json":["a:1"]}}`, map[string]string{"Content-Type": "text/html", "Content-Length": "2"}, map[string][]string{"Content-Length": {"2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(t, tt.config)
			c := &plugin.Context{Request: plugintest.NewRequest("GET", "/", nil, nil)}
			resp := plugintest.NewResponse(200, tt.headers, nil)
			c.Response = resp
			p.HeaderFilter(c)
			for h, want := range tt.want {
				if got := resp.HeaderValues(h); !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
		})
	}
}

func TestJSONBody(t *testing.T) {
	tests := []struct {
		name, config, ctype, body, want string
	}{
		{"all changes", `{"remove":{"json":["secret"]},"rename":{"json":["old:new"]},"replace":{"json":["r:x","absent:x"]},"add":{"json":["a:1","keep:no"]},"append":{"json":["list:c"]}}`,
			"application/json", `{"keep":1,"secret":"s","old":"o","r":"v","list":["a","b"]}`,
			`{"keep":1,"new":"o","r":"x","list":["a","b","c"],"a":"1"}`},
		{"types", `{"add":{"json":["n:42","b:TRUE","s:42","bad:x1"],"json_types":["number","boolean"]},"append":{"json":["bad:x"],"json_types":["number"]}}`,
			"application/json", `{}`, `{"n":42,"b":true,"s":"42","bad":"x1"}`},
		{"false not replaced, null is", `{"replace":{"json":["f:x","z:x"]}}`, "application/json", `{"f":false,"z":null}`, `{"f":false,"z":"x"}`},
		{"content type with charset", `{"add":{"json":["a:1"]}}`, "application/json; charset=utf-8", `{}`, `{"a":"1"}`},
		{"vendor json", `{"add":{"json":["a:1"]}}`, "application/vnd.api+json", `{}`, `{}`},
		{"not json", `{"add":{"json":["a:1"]}}`, "text/plain", `{}`, `{}`},
		{"invalid json untouched", `{"add":{"json":["a:1"]}}`, "application/json", `{"a":`, `{"a":`},
		{"array untouched", `{"add":{"json":["a:1"]}}`, "application/json", `[1,2]`, `[1,2]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(t, tt.config)
			c := &plugin.Context{Request: plugintest.NewRequest("GET", "/", nil, nil)}
			resp := plugintest.NewResponse(200, map[string]string{"Content-Type": tt.ctype}, []byte(tt.body))
			c.Response = resp
			p.HeaderFilter(c)
			p.BodyFilter(c)
			if got := string(resp.Body()); got != tt.want {
				t.Errorf("body = %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCompressedBodyUntouched(t *testing.T) {
	p := build(t, `{"add":{"json":["a:1"]}}`)
	resp := plugintest.NewResponse(200, map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, []byte("\x1f\x8b..."))
	p.BodyFilter(&plugin.Context{Response: resp})
	if string(resp.Body()) != "\x1f\x8b..." {
		t.Errorf("compressed body changed")
	}
}

func TestUsesResponseBody(t *testing.T) {
	if build(t, `{"add":{"headers":["X:1"]}}`).UsesResponseBody() {
		t.Error("header-only config needs the body")
	}
	if !build(t, `{"remove":{"json":["x"]}}`).UsesResponseBody() {
		t.Error("json config does not need the body")
	}
}
