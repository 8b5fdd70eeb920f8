package declarative

import (
	"encoding/json"
	"testing"
)

func TestFields(t *testing.T) {
	for _, tc := range []struct {
		name     string
		problems []Problem
		want     string
	}{
		{
			name:     "parse error goes under error, as Kong's",
			problems: []Problem{{Message: "failed parsing declarative configuration: expected an object"}},
			want:     `{"error":"failed parsing declarative configuration: expected an object"}`,
		},
		{
			name: "nested fields, lists with null holes",
			problems: []Problem{
				{Path: "services[1].routes[0].paths", Message: "expected an array", segs: path{"services", 1, "routes", 0, "paths"}},
				{Path: "vaults", Message: "not supported by tollgate", segs: path{"vaults"}},
			},
			want: `{"services":[null,{"routes":[{"paths":"expected an array"}]}],"vaults":"not supported by tollgate"}`,
		},
		{
			name: "entity problem alone is the entry",
			problems: []Problem{
				{Path: "services[1]", Message: "uniqueness violation", segs: path{"services", 1}},
			},
			want: `{"services":[null,"uniqueness violation"]}`,
		},
		{
			name: "entity problem beside field problems goes under @entity",
			problems: []Problem{
				{Path: "consumers[0]", Message: "a", segs: path{"consumers", 0}},
				{Path: "consumers[0].username", Message: "b", segs: path{"consumers", 0, "username"}},
				{Path: "consumers[1].username", Message: "c", segs: path{"consumers", 1, "username"}},
				{Path: "consumers[1]", Message: "d", segs: path{"consumers", 1}},
			},
			want: `{"consumers":[{"@entity":["a"],"username":"b"},{"@entity":["d"],"username":"c"}]}`,
		},
		{
			name: "two problems of one field are joined",
			problems: []Problem{
				{Path: "plugins[0].config.minute", Message: "a", segs: path{"plugins", 0, "config", "minute"}},
				{Path: "plugins[0].config.minute", Message: "b", segs: path{"plugins", 0, "config", "minute"}},
			},
			want: `{"plugins":[{"config":{"minute":"a; b"}}]}`,
		},
		{
			name: "problems built by hand are placed by their path",
			problems: []Problem{
				{Path: "services[0].routes[2].name", Message: "x"},
			},
			want: `{"services":[{"routes":[null,null,{"name":"x"}]}]}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal((&Error{Problems: tc.problems}).Fields())
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	one := &Error{Problems: []Problem{{Path: "vaults", Message: "not supported by tollgate", line: 3}}}
	if got, want := one.Error(), "declarative config is invalid: vaults: not supported by tollgate (line 3)"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	two := &Error{Problems: []Problem{{Path: "a", Message: "x"}, {Message: "y"}}}
	if got, want := two.Error(), "declarative config is invalid: 2 problems: a: x; y"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want path
	}{
		{"", nil},
		{"vaults", path{"vaults"}},
		{"services[0].routes[12].paths", path{"services", 0, "routes", 12, "paths"}},
		{"plugins[1].config.limits[2]", path{"plugins", 1, "config", "limits", 2}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := parsePath(tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
			if got.String() != tc.in {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}
