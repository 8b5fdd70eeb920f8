package route

import (
	"strings"
	"testing"
)

// TestNormalizePath follows Kong's normalization (docs "Normalization
// behavior", kong/tools/uri.lua normalize(uri, true)).
func TestNormalizePath(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"root", "/", "/"},
		{"plain", "/foo/bar", "/foo/bar"},
		{"trailing slash kept", "/foo/", "/foo/"},
		{"unreserved letter decoded", "/fo%6f", "/foo"},
		{"unreserved upper-case hex decoded", "/%41%42", "/AB"},
		{"unreserved tilde decoded", "/%7e", "/~"},
		{"unreserved hyphen, dot, underscore decoded", "/%2D%2e%5F", "/-._"},
		{"reserved slash stays encoded", "/a%2fb", "/a%2Fb"},
		{"reserved colon upper-cased", "/a%3ab", "/a%3Ab"},
		{"other (space) stays encoded", "/a%20b", "/a%20b"},
		{"non-ASCII stays encoded", "/%c3%b6", "/%C3%B6"},
		{"percent itself stays", "/100%25", "/100%25"},
		{"malformed triplet left alone", "/%zz", "/%zz"},
		{"truncated triplet left alone", "/a%4", "/a%4"},
		{"lone percent left alone", "/a%", "/a%"},
		{"single dot segment removed", "/a/./b", "/a/b"},
		{"double dot segment removes its parent", "/a/b/../c", "/a/c"},
		{"double dot at the root stays at the root", "/../a", "/a"},
		{"trailing double dot", "/a/b/..", "/a/"},
		{"trailing single dot", "/a/.", "/a/"},
		{"encoded dot segments (Kong: /%2e./ is /../)", "/a/%2e%2E/b", "/b"},
		{"encoded single dot", "/a/%2e/b", "/a/b"},
		{"dots inside a segment are not segments", "/a.b/..c/c..", "/a.b/..c/c.."},
		{"three dots are a name", "/a/.../b", "/a/.../b"},
		{"slashes merged", "//a///b", "/a/b"},
		{"only slashes", "///", "/"},
		{"mixed", "/a/./b//../c%2e/%2e%2e/d", "/a/d"},
		{"triplet completed by decoding is decoded too", "/%%34%31", "/A"},
		{"triplet completed by decoding is upper-cased", "/%a%410", "/%AA0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NormalizePath(tc.in); got != tc.want {
				t.Fatalf("NormalizePath(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := NormalizePath(tc.want); again != tc.want {
				t.Errorf("not idempotent: %q -> %q", tc.want, again)
			}
		})
	}
}

func TestNormalizePathNoAllocWhenNormal(t *testing.T) {
	p := strings.Repeat("/segment-name.v1", 8)
	if n := testing.AllocsPerRun(100, func() { NormalizePath(p) }); n != 0 {
		t.Fatalf("allocates %.0f times on a normal path", n)
	}
}
