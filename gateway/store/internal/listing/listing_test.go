package listing

import (
	"testing"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/internal/entity"
)

func TestSize(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{-1, 100}, {0, 100}, {1, 1}, {1000, 1000}, {1001, 1000}} {
		if got := Size(tt.in); got != tt.want {
			t.Errorf("Size(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestOffset(t *testing.T) {
	for _, key := range []string{"a", "6f1f8a0e-4d0c-4b38-9a52-7a4bd2d0b0a1", "\x00/+ é"} {
		got, err := DecodeOffset(EncodeOffset(key))
		if err != nil || got != key {
			t.Errorf("round trip of %q = %q, %v", key, got, err)
		}
	}
	if got, err := DecodeOffset(""); got != "" || err != nil {
		t.Errorf(`DecodeOffset("") = %q, %v`, got, err)
	}
	for _, bad := range []string{"%%%", "YWJj", EncodeOffset("")} {
		if _, err := DecodeOffset(bad); err == nil {
			t.Errorf("DecodeOffset(%q) succeeded", bad)
		}
	}
}

func FuzzDecodeOffset(f *testing.F) {
	f.Add(EncodeOffset("abc"))
	f.Add("")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := DecodeOffset(s)
		if err == nil && s != "" && EncodeOffset(key) != s {
			t.Fatalf("DecodeOffset(%q) = %q, which encodes to %q", s, key, EncodeOffset(key))
		}
	})
}

func TestMatch(t *testing.T) {
	r := &entity.Route{Meta: entity.Meta{Tags: []string{"a", "b"}}, Service: &entity.Ref{ID: "s1"}}
	for _, tt := range []struct {
		name string
		opts store.ListOptions
		want bool
	}{
		{"no filter", store.ListOptions{}, true},
		{"all present", store.ListOptions{Tags: []string{"a", "b"}}, true},
		{"all missing one", store.ListOptions{Tags: []string{"a", "c"}}, false},
		{"any present", store.ListOptions{Tags: []string{"c", "b"}, TagsAny: true}, true},
		{"any missing", store.ListOptions{Tags: []string{"c"}, TagsAny: true}, false},
		{"ref", store.ListOptions{RefKind: entity.KindService, RefID: "s1"}, true},
		{"other ref", store.ListOptions{RefKind: entity.KindService, RefID: "s2"}, false},
		{"ref and tag", store.ListOptions{RefKind: entity.KindService, RefID: "s1", Tags: []string{"c"}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Match(r, tt.opts); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}
