package iprestriction

import (
	"encoding/json"
	"net/netip"
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
		{"allow", `{"allow":["10.0.0.0/8","::1"]}`, nil},
		{"both", `{"allow":["10.0.0.0/8"],"deny":["10.1.0.0/16"]}`, nil},
		{"neither", `{}`, entity.FieldErrors{"@entity": "at least one of these fields must be non-empty: 'config.allow', 'config.deny'"}},
		{"bad entries", `{"allow":["10.0.0.0/8","nope"],"deny":["1.2.3.4/33"]}`, entity.FieldErrors{
			"allow": entity.FieldErrors{"2": "invalid ip or cidr range: 'nope'"},
			"deny":  entity.FieldErrors{"1": "invalid ip or cidr range: '1.2.3.4/33'"},
		}},
		{"status type", `{"allow":["1.1.1.1"],"status":"403"}`, entity.FieldErrors{"status": "expected an integer"}},
		{"status range", `{"allow":["1.1.1.1"],"status":42}`, entity.FieldErrors{"status": "value should be between 100 and 599"}},
		{"message type", `{"allow":["1.1.1.1"],"message":false}`, entity.FieldErrors{"message": "expected a string"}},
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
	tests := []struct {
		name       string
		config     string
		ip         string
		wantStatus int
		wantBody   string
	}{
		{"allowed v4", `{"allow":["10.0.0.0/8"]}`, "10.1.2.3", 0, ""},
		{"not allowed v4", `{"allow":["10.0.0.0/8"]}`, "11.1.2.3", 403, `{"message":"IP address not allowed: 11.1.2.3"}`},
		{"single address", `{"allow":["192.168.1.7"]}`, "192.168.1.7", 0, ""},
		{"host bits in cidr", `{"deny":["192.168.1.7/24"]}`, "192.168.1.200", 403, `{"message":"IP address not allowed: 192.168.1.200"}`},
		{"denied v6", `{"deny":["2001:db8::/32"]}`, "2001:db8::1", 403, `{"message":"IP address not allowed: 2001:db8::1"}`},
		{"not denied v6", `{"deny":["2001:db8::/32"]}`, "2001:db9::1", 0, ""},
		{"mapped client address", `{"allow":["10.0.0.1"]}`, "::ffff:10.0.0.1", 0, ""},
		{"v4 list does not match v6", `{"allow":["0.0.0.0/0"]}`, "::1", 403, `{"message":"IP address not allowed: ::1"}`},
		{"deny wins over allow", `{"allow":["10.0.0.0/8"],"deny":["10.0.0.5"]}`, "10.0.0.5", 403, `{"message":"IP address not allowed: 10.0.0.5"}`},
		{"custom status and message", `{"deny":["10.0.0.5"],"status":401,"message":"go away"}`, "10.0.0.5", 401, `{"message":"go away"}`},
		{"unknown client ip", `{"allow":["10.0.0.0/8"]}`, "", 403, `{"message":"Cannot identify the client IP address, unix domain sockets are not supported."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := plugintest.Build(t, Factory(), tt.config, plugin.Env{})
			c := &plugin.Context{Request: plugintest.NewRequest("GET", "/", nil, nil)}
			if tt.ip != "" {
				c.ClientIP = netip.MustParseAddr(tt.ip)
			}
			inst.(plugin.Accessor).Access(c)
			exit, exited := c.Exited()
			if tt.wantStatus == 0 {
				if exited {
					t.Fatalf("exited %d %s", exit.Status, exit.Body)
				}
				return
			}
			if !exited || exit.Status != tt.wantStatus || string(exit.Body) != tt.wantBody {
				t.Fatalf("exit = %v %d %s, want %d %s", exited, exit.Status, exit.Body, tt.wantStatus, tt.wantBody)
			}
			if exit.Headers["Content-Type"] != plugin.ContentTypeJSON {
				t.Errorf("Content-Type = %q", exit.Headers["Content-Type"])
			}
		})
	}
}
