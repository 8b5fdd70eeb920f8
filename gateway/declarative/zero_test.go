package declarative

import (
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// An explicit 0 is a setting, not a missing value: retries 0 turns retries
// off and a target of weight 0 takes no traffic. Neither may become Kong's
// default on import.
func TestExplicitZerosSurviveImport(t *testing.T) {
	f, err := Parse([]byte(`_format_version: "3.0"
services:
- name: no-retries
  url: http://example.com
  retries: 0
- name: default-retries
  url: http://example.com
upstreams:
- name: pool
  targets:
  - target: 10.0.0.1:80
    weight: 0
  - target: 10.0.0.2:80
`))
	if err != nil {
		t.Fatal(err)
	}
	ents, err := f.Entities("default", plugin.NewRegistry(), time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range ents {
		switch e := e.(type) {
		case *entity.Service:
			got[e.Name] = e.RetryCount()
		case *entity.Target:
			got[e.Target] = e.WeightValue()
		}
	}
	want := map[string]int{"no-retries": 0, "default-retries": 5, "10.0.0.1:80": 0, "10.0.0.2:80": 100}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %d, want %d", k, got[k], w)
		}
	}
}
