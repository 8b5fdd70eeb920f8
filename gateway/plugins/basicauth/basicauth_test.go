package basicauth

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/plugin/plugintest"
	"github.com/tollgate/tollgate/internal/entity"
	"github.com/tollgate/tollgate/internal/logrecord"
)

func basic(userpass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userpass))
}

func TestConfigValidation(t *testing.T) {
	reg := plugin.NewRegistry(Factory())
	tests := []struct {
		name   string
		config string
		want   entity.FieldErrors
	}{
		{"defaults", `{}`, nil},
		{"unknown field", `{"run_on_preflight": true}`, entity.FieldErrors{"run_on_preflight": "unknown field"}},
		{"realm not a string", `{"realm": 1}`, entity.FieldErrors{"realm": "expected a string"}},
		{"hide_credentials not a boolean", `{"hide_credentials": "true"}`, entity.FieldErrors{"hide_credentials": "expected a boolean"}},
		{"not a record", `[1]`, entity.FieldErrors{"@entity": "expected a record"}},
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
	if want := `{"anonymous":null,"hide_credentials":false,"realm":"service"}`; string(out) != want {
		t.Errorf("defaults = %s, want %s", out, want)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, header, user, pass string
		ok                       bool
	}{
		{"plain", basic("alice:pw"), "alice", "pw", true},
		{"lowercase scheme", "basic " + base64.StdEncoding.EncodeToString([]byte("a:b")), "a", "b", true},
		{"no space", "Basic" + base64.StdEncoding.EncodeToString([]byte("a:b")), "a", "b", true},
		{"empty password", basic("alice:"), "alice", "", true},
		{"colon in password", basic("alice:p:w"), "alice", "p:w", true},
		{"leading colons skipped", basic("::x:y"), "x", "y", true},
		{"no username", basic(":pw"), "", "", false},
		{"no colon", basic("alice"), "", "", false},
		{"bad base64", "Basic !!!", "", "", false},
		{"other scheme", "Bearer abc", "", "", false},
		{"uppercase scheme is not Kong's", "BASIC " + base64.StdEncoding.EncodeToString([]byte("a:b")), "", "", false},
		{"unpadded", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("ab:c")), "ab", "c", true},
		{"scheme only", "Basic   ", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, p, ok := parse(tt.header)
			if u != tt.user || p != tt.pass || ok != tt.ok {
				t.Errorf("parse(%q) = %q %q %v, want %q %q %v", tt.header, u, p, ok, tt.user, tt.pass, tt.ok)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{basic("a:b"), "Basic", "basic :", "xBasic YTpi", "Basic YTpi\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		u, _, ok := parse(h)
		if ok && u == "" {
			t.Errorf("parse(%q) accepted an empty username", h)
		}
	})
}

func TestAccess(t *testing.T) {
	tests := []struct {
		name         string
		config       string
		headers      map[string]string
		credential   bool
		wantStatus   int
		wantBody     string
		wantRealm    string
		wantConsumer string
		wantUpstream map[string]string
	}{
		{name: "no header", wantStatus: 401, wantBody: `{"message":"Unauthorized"}`, wantRealm: `Basic realm="service"`},
		{name: "custom realm", config: `{"realm":"kong"}`, wantStatus: 401, wantRealm: `Basic realm="kong"`},
		{name: "wrong password", headers: map[string]string{"Authorization": basic("alice:nope")}, wantStatus: 401, wantBody: `{"message":"Unauthorized"}`},
		{name: "unknown user", headers: map[string]string{"Authorization": basic("eve:pw")}, wantStatus: 401},
		{name: "malformed", headers: map[string]string{"Authorization": "Basic ###"}, wantStatus: 401},
		{
			name: "valid", headers: map[string]string{"Authorization": basic("alice:pw"), "X-Anonymous-Consumer": "true"},
			wantConsumer: "c1",
			wantUpstream: map[string]string{
				"X-Consumer-ID": "c1", "X-Consumer-Username": "alice", "X-Credential-Identifier": "alice",
				"X-Anonymous-Consumer": "", "Authorization": basic("alice:pw"),
			},
		},
		{
			name: "proxy authorization", headers: map[string]string{"Proxy-Authorization": basic("alice:pw")},
			wantConsumer: "c1",
		},
		{
			name: "proxy authorization first", config: `{"hide_credentials":true}`,
			headers:      map[string]string{"Proxy-Authorization": basic("alice:pw"), "Authorization": "Bearer upstream-token"},
			wantConsumer: "c1", wantUpstream: map[string]string{"Proxy-Authorization": "", "Authorization": "Bearer upstream-token"},
		},
		{
			name: "hide credentials", config: `{"hide_credentials":true}`, headers: map[string]string{"Authorization": basic("alice:pw")},
			wantConsumer: "c1", wantUpstream: map[string]string{"Authorization": ""},
		},
		{
			name: "anonymous", config: `{"anonymous":"anon"}`, headers: map[string]string{"Authorization": basic("alice:bad")},
			wantConsumer: "anon", wantUpstream: map[string]string{"X-Anonymous-Consumer": "true", "X-Consumer-ID": "anon"},
		},
		{
			name: "anonymous missing", config: `{"anonymous":"nobody"}`,
			wantStatus: 500, wantBody: `{"message":"anonymous consumer nobody is configured but doesn't exist"}`,
		},
		{
			name: "already authenticated, anonymous configured", config: `{"anonymous":"anon"}`, credential: true,
			wantConsumer: "earlier",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := plugintest.Build(t, Factory(), tt.config, plugin.Env{})
			cr := plugintest.NewCredentials()
			cr.AddConsumer("", "c1", "alice", "")
			cr.AddConsumer("", "anon", "", "")
			cr.AddBasicAuth("", "c1", "b1", "alice", "pw")
			req := plugintest.NewRequest("GET", "/", tt.headers, nil)
			c := &plugin.Context{Request: req, Credentials: cr, Record: &logrecord.Record{}}
			if tt.credential {
				c.Authenticate(&entity.Consumer{Meta: entity.Meta{ID: "earlier"}}, "x", false)
			}
			inst.(plugin.Accessor).Access(c)
			exit, exited := c.Exited()
			if tt.wantStatus != 0 {
				if !exited || exit.Status != tt.wantStatus {
					t.Fatalf("exit = %v %d, want %d", exited, exit.Status, tt.wantStatus)
				}
				if tt.wantBody != "" && string(exit.Body) != tt.wantBody {
					t.Errorf("body = %s, want %s", exit.Body, tt.wantBody)
				}
				if tt.wantRealm != "" && exit.Headers["WWW-Authenticate"] != tt.wantRealm {
					t.Errorf("WWW-Authenticate = %q, want %q", exit.Headers["WWW-Authenticate"], tt.wantRealm)
				}
				if tt.wantStatus == 401 && c.Record.AuthOutcome != "rejected" {
					t.Errorf("AuthOutcome = %q", c.Record.AuthOutcome)
				}
				return
			}
			if exited {
				t.Fatalf("exited %d %s", exit.Status, exit.Body)
			}
			if c.Consumer == nil || c.Consumer.ID != tt.wantConsumer {
				t.Fatalf("consumer = %v, want %s", c.Consumer, tt.wantConsumer)
			}
			for h, want := range tt.wantUpstream {
				if got := req.Header(h); got != want {
					t.Errorf("upstream %s = %q, want %q", h, got, want)
				}
			}
		})
	}
}
