package entity

import (
	"errors"
	"reflect"
	"testing"
)

func TestNewCoversEveryKind(t *testing.T) {
	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) {
			e, err := New(k)
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind() != k {
				t.Errorf("New(%q).Kind() = %q", k, e.Kind())
			}
		})
	}
	if _, err := New("jwt_secrets"); err == nil {
		t.Error("an unknown kind must be an error")
	}
}

func TestDecodeKongShapes(t *testing.T) {
	e, err := Decode(KindRoute, []byte(`{"id":"r1","paths":["/a"],"service":{"id":"s1"},"strip_path":false,"tags":["x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := e.(*Route)
	if r.ID != "r1" || r.ShouldStripPath() || RefID(r.Service) != "s1" || !reflect.DeepEqual(r.Refs(), map[Kind]string{KindService: "s1"}) {
		t.Errorf("decoded %+v", r)
	}
	if _, err := Decode(KindService, []byte(`{"port":"eighty"}`)); err == nil {
		t.Error("a wrong type must be an error")
	}
}

func TestUniqueKeys(t *testing.T) {
	tests := []struct {
		name string
		e    Entity
		want map[string]string
	}{
		{"unnamed service has none", &Service{}, map[string]string{}},
		{"consumer by username and custom id", &Consumer{Username: "u", CustomID: "c"}, map[string]string{"username": "u", "custom_id": "c"}},
		{"plugin scope", &Plugin{Name: "acl", Route: &Ref{ID: "r"}}, map[string]string{"scope": "acl|r||"}},
		{"plugin instance name", &Plugin{Name: "acl", InstanceName: "i"}, map[string]string{"scope": "acl|||", "instance_name": "i"}},
		{"target per upstream", &Target{Target: "a:1", Upstream: &Ref{ID: "u"}}, map[string]string{"target": "u|a:1"}},
		{"key by hash, never the key", &KeyAuthCredential{Key: "secret", KeyHash: "h"}, map[string]string{"key": "h"}},
		{"analytics token by name and hash, never the token", &AnalyticsToken{Name: "n", Token: "secret", TokenHash: "h"}, map[string]string{"name": "n", "token": "h"}},
		{"unnamed analytics token by hash", &AnalyticsToken{TokenHash: "h"}, map[string]string{"token": "h"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.e.UniqueKeys(); !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDefaultsOfOptionalFields(t *testing.T) {
	zero := 0
	if (&Service{}).RetryCount() != DefaultRetries || (&Service{Retries: &zero}).RetryCount() != 0 {
		t.Error("retries: unset must mean Kong's default, an explicit 0 must stay 0")
	}
	if (&Target{}).WeightValue() != DefaultTargetWeight || (&Target{Weight: &zero}).WeightValue() != 0 {
		t.Error("weight: unset must mean Kong's default, an explicit 0 must stay 0")
	}
	if !(&Service{}).IsEnabled() || !(&Plugin{}).IsEnabled() {
		t.Error("services and plugins are enabled unless disabled")
	}
}

func TestFieldErrors(t *testing.T) {
	f := FieldErrors{}
	if f.Err() != nil {
		t.Fatal("no errors must be a nil error")
	}
	f.Add("port", "expected an integer")
	f.Add("config.minute", "expected a number")
	f.Add("config.policy", "expected one of: local")
	want := FieldErrors{"port": "expected an integer", "config": FieldErrors{"minute": "expected a number", "policy": "expected one of: local"}}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got %#v", f)
	}
	err := f.Err()
	var se *SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("Err() = %T", err)
	}
	if got := err.Error(); got != "3 schema violations (config.minute: expected a number; config.policy: expected one of: local; port: expected an integer)" {
		t.Errorf("message %q", got)
	}
	one := FieldErrors{"name": "required field missing"}
	if got := one.Err().Error(); got != "schema violation (name: required field missing)" {
		t.Errorf("message %q", got)
	}
}
