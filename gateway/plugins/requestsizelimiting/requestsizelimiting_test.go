package requestsizelimiting

import (
	"bytes"
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
		{"unit", `{"size_unit":"gigabytes"}`, entity.FieldErrors{"size_unit": "expected one of: megabytes, kilobytes, bytes"}},
		{"not an integer", `{"allowed_payload_size":1.5}`, entity.FieldErrors{"allowed_payload_size": "expected an integer"}},
		{"integral float accepted", `{"allowed_payload_size":2.0}`, nil},
		{"negative", `{"allowed_payload_size":-1}`, entity.FieldErrors{"allowed_payload_size": "value must be greater than or equal to 0"}},
		{"string", `{"allowed_payload_size":"10"}`, entity.FieldErrors{"allowed_payload_size": "expected an integer"}},
		{"too large", `{"allowed_payload_size":9007199254740991}`, entity.FieldErrors{"allowed_payload_size": "value is too large"}},
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
	if want := `{"allowed_payload_size":128,"size_unit":"megabytes","require_content_length":false}`; string(out) != want {
		t.Errorf("defaults = %s", out)
	}
}

func TestAccess(t *testing.T) {
	body := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	const tooBig = `{"message":"Request size limit exceeded"}`
	tests := []struct {
		name       string
		config     string
		headers    map[string]string
		body       []byte
		wantStatus int
		wantBody   string
		wantReads  int
	}{
		{name: "under the limit", config: `{"allowed_payload_size":10,"size_unit":"bytes"}`, body: body(10)},
		{name: "over the limit", config: `{"allowed_payload_size":10,"size_unit":"bytes"}`, body: body(11), wantStatus: 413, wantBody: tooBig},
		{name: "kilobytes", config: `{"allowed_payload_size":1,"size_unit":"kilobytes"}`, body: body(1025), wantStatus: 413, wantBody: tooBig},
		{name: "megabytes", config: `{"allowed_payload_size":1}`, body: body(1 << 20)},
		{name: "declared length trusted", config: `{"allowed_payload_size":10,"size_unit":"bytes"}`, headers: map[string]string{"Content-Length": "5000"}, body: body(1), wantStatus: 413, wantBody: tooBig},
		{name: "expect continue", config: `{"allowed_payload_size":10,"size_unit":"bytes"}`, headers: map[string]string{"Expect": "100-Continue"}, body: body(11), wantStatus: 417, wantBody: tooBig},
		{name: "chunked under", config: `{"allowed_payload_size":10,"size_unit":"bytes"}`, headers: map[string]string{"Transfer-Encoding": "chunked"}, body: body(10), wantReads: 1},
		{name: "chunked over", config: `{"allowed_payload_size":10,"size_unit":"bytes"}`, headers: map[string]string{"Transfer-Encoding": "chunked"}, body: body(11), wantStatus: 413, wantBody: tooBig, wantReads: 1},
		{name: "no body", config: `{"allowed_payload_size":0}`},
		{name: "length required", config: `{"require_content_length":true}`, headers: map[string]string{"Transfer-Encoding": "chunked"}, body: body(1), wantStatus: 411, wantBody: `{"message":"A valid Content-Length header is required"}`},
		{name: "length present", config: `{"require_content_length":true}`, body: body(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := plugintest.Build(t, Factory(), tt.config, plugin.Env{})
			req := plugintest.NewRequest("POST", "/", tt.headers, tt.body)
			c := &plugin.Context{Request: req}
			inst.(plugin.Accessor).Access(c)
			exit, exited := c.Exited()
			if tt.wantStatus == 0 {
				if exited {
					t.Fatalf("exited %d %s", exit.Status, exit.Body)
				}
			} else if !exited || exit.Status != tt.wantStatus || string(exit.Body) != tt.wantBody {
				t.Fatalf("exit = %v %d %s, want %d %s", exited, exit.Status, exit.Body, tt.wantStatus, tt.wantBody)
			}
			if req.BodyReads != tt.wantReads {
				t.Errorf("body reads = %d, want %d", req.BodyReads, tt.wantReads)
			}
		})
	}
}
