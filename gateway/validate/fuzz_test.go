package validate

import (
	"testing"

	"github.com/tollgate/tollgate/internal/entity"
)

// FuzzNormalize feeds arbitrary JSON of every kind through Normalize: it
// must never panic, and a valid entity must stay valid when normalized again
// (defaults are a fixed point).
func FuzzNormalize(f *testing.F) {
	seeds := []struct {
		kind entity.Kind
		json string
	}{
		{entity.KindService, `{"url":"https://example.com:8443/a/b"}`},
		{entity.KindService, `{"host":"[::1]","port":70000,"path":"/a%zz"}`},
		{entity.KindRoute, `{"paths":["~/(?<id>\\d+)$","/a/../b"],"hosts":["*.a.com:80"]}`},
		{entity.KindRoute, `{"protocols":["https"],"snis":["example.*"],"headers":{"x":["1"]}}`},
		{entity.KindUpstream, `{"name":"u","hash_on":"header","hash_on_header":"x","healthchecks":{"active":{"healthy":{"http_statuses":[]}}}}`},
		{entity.KindTarget, `{"target":"[::1]","upstream":{"id":"x"}}`},
		{entity.KindSNI, `{"name":"*.example.com","certificate":{"id":"x"}}`},
		{entity.KindWorkspace, `{"name":"a~b"}`},
		{entity.KindConsumer, `{"username":"u","tags":["a","é"]}`},
		{entity.KindPlugin, `{"name":"nope","protocols":["http"]}`},
		{entity.KindPlugin, `{"name":"limits","config":{"minute":5}}`},
	}
	kinds := entity.Kinds
	reg := testRegistry()
	for _, s := range seeds {
		for i, k := range kinds {
			if k == s.kind {
				f.Add(uint8(i), []byte(s.json))
			}
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		k := kinds[int(kind)%len(kinds)]
		e, err := entity.Decode(k, data)
		if err != nil {
			return
		}
		if Normalize(e, reg) != nil {
			return
		}
		if errs := Normalize(e, reg); errs != nil {
			t.Fatalf("valid %s became invalid when normalized again: %v", k, errs.Err())
		}
	})
}

// FuzzTranslateRegex checks that translation never panics and leaves
// patterns without PCRE-only spelling alone.
func FuzzTranslateRegex(f *testing.F) {
	for _, s := range []string{`/a`, `(?<a>b)`, `(?'a'b)`, `[(?<a>]`, `\(?<a>`, `(?<=a)`, `[^]]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, re string) {
		out := translateRegex(re)
		if len(out) < len(re) {
			t.Fatalf("translateRegex(%q) = %q, shorter than input", re, out)
		}
	})
}
