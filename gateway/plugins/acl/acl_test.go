package acl

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
		{"allow", `{"allow":["a"]}`, nil},
		{"deny", `{"deny":["a"]}`, nil},
		{"neither", `{}`, entity.FieldErrors{"@entity": "at least one of these fields must be non-empty: 'config.allow', 'config.deny'"}},
		{"empty arrays", `{"allow":[],"deny":[]}`, entity.FieldErrors{"@entity": "at least one of these fields must be non-empty: 'config.allow', 'config.deny'"}},
		{"both", `{"allow":["a"],"deny":["b"]}`, entity.FieldErrors{"@entity": "only one of these fields must be non-empty: 'config.allow', 'config.deny'"}},
		{"allow not an array", `{"allow":"a"}`, entity.FieldErrors{"allow": "expected an array"}},
		{"whitelist is gone", `{"whitelist":["a"]}`, entity.FieldErrors{"whitelist": "unknown field"}},
		{"include_consumer_groups accepted", `{"allow":["a"],"include_consumer_groups":true}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := reg.Validate(Name, json.RawMessage(tt.config))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestAccess(t *testing.T) {
	cr := plugintest.NewCredentials()
	cr.AddConsumer("", "gold", "g", "")
	cr.AddGroups("", "gold", "gold", "silver")
	cr.AddConsumer("", "plain", "p", "")
	cr.AddGroups("", "plain", "basic")
	cr.AddConsumer("", "nogroups", "n", "")

	const forbidden = `{"message":"You cannot consume this service"}`
	const unauthorized = `{"message":"Unauthorized"}`
	tests := []struct {
		name       string
		config     string
		consumer   string
		credential bool
		spoof      bool
		wantStatus int
		wantBody   string
		wantHeader string
	}{
		{name: "no consumer", config: `{"allow":["gold"]}`, wantStatus: 401, wantBody: unauthorized},
		{name: "credential without consumer", config: `{"allow":["gold"]}`, credential: true, wantStatus: 403, wantBody: forbidden},
		{name: "allowed", config: `{"allow":["gold"]}`, consumer: "gold", credential: true, wantHeader: "gold, silver"},
		{name: "not allowed", config: `{"allow":["gold"]}`, consumer: "plain", credential: true, wantStatus: 403, wantBody: forbidden},
		{name: "no groups under allow", config: `{"allow":["gold"]}`, consumer: "nogroups", credential: true, wantStatus: 403, wantBody: forbidden},
		{name: "anonymous without groups under allow", config: `{"allow":["gold"]}`, consumer: "nogroups", wantStatus: 401, wantBody: unauthorized},
		{name: "denied", config: `{"deny":["silver"]}`, consumer: "gold", credential: true, wantStatus: 403, wantBody: forbidden},
		{name: "not denied", config: `{"deny":["silver"]}`, consumer: "plain", credential: true, wantHeader: "basic"},
		{name: "no groups under deny", config: `{"deny":["silver"]}`, consumer: "nogroups", credential: true, spoof: true, wantHeader: ""},
		{name: "hidden groups", config: `{"allow":["gold"],"hide_groups_header":true}`, consumer: "gold", credential: true, spoof: true, wantHeader: ""},
		{name: "spoofed header replaced", config: `{"allow":["basic"]}`, consumer: "plain", credential: true, spoof: true, wantHeader: "basic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := plugintest.Build(t, Factory(), tt.config, plugin.Env{})
			hdrs := map[string]string{}
			if tt.spoof {
				hdrs["X-Consumer-Groups"] = "admin"
			}
			req := plugintest.NewRequest("GET", "/", hdrs, nil)
			c := &plugin.Context{Request: req, Credentials: cr}
			if tt.consumer != "" {
				con, _ := cr.Consumer("", tt.consumer)
				cred := ""
				if tt.credential {
					cred = "cred"
				}
				c.Authenticate(con, cred, !tt.credential)
			} else if tt.credential {
				c.Credential = &entity.Ref{ID: "cred"}
			}
			inst.(plugin.Accessor).Access(c)
			exit, exited := c.Exited()
			if tt.wantStatus != 0 {
				if !exited || exit.Status != tt.wantStatus || string(exit.Body) != tt.wantBody {
					t.Fatalf("exit = %v %d %s, want %d %s", exited, exit.Status, exit.Body, tt.wantStatus, tt.wantBody)
				}
				return
			}
			if exited {
				t.Fatalf("exited %d %s", exit.Status, exit.Body)
			}
			if got := req.Header("X-Consumer-Groups"); got != tt.wantHeader {
				t.Errorf("X-Consumer-Groups = %q, want %q", got, tt.wantHeader)
			}
		})
	}
}
