package jsonobject

import (
	"encoding/json"
	"testing"
)

func TestEditsKeepOrder(t *testing.T) {
	o, err := Parse([]byte(`{"b":1,"a":{"x":[1,2]},"c":"<s>","b":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := o.Get("b"); !ok || string(v) != "2" {
		t.Errorf("a repeated key keeps its last value: %s", v)
	}
	o.Rename("a", "z")
	o.Set("d", Quote("<new>"))
	o.Del("c")
	old, ok := o.Get("b")
	o.Set("b", AppendValue(old, ok, json.RawMessage(`3`)))
	if got, want := string(o.Marshal()), `{"b":[2,3],"z":{"x":[1,2]},"d":"<new>"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestParseRefusesNonObjects(t *testing.T) {
	for _, in := range []string{`[1]`, `"s"`, `{"a":`, ``, `{"a":1}x`} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
}

func TestAppendValue(t *testing.T) {
	tests := []struct {
		name, old string
		ok        bool
		want      string
	}{
		{"absent becomes the value", "", false, `"v"`},
		{"array gets it appended", `["a"]`, true, `["a","v"]`},
		{"scalar becomes an array of both", `"a"`, true, `["a","v"]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(AppendValue(json.RawMessage(tc.old), tc.ok, json.RawMessage(`"v"`))); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
