package bearer

import (
	"net/http/httptest"
	"testing"
)

func TestFromRequest(t *testing.T) {
	for _, tc := range []struct {
		name, header, token string
		ok                  bool
	}{
		{"absent", "", "", false},
		{"bearer", "Bearer s3cret", "s3cret", true},
		{"scheme in any case, spaces trimmed", "bEaReR   s3cret ", "s3cret", true},
		{"another scheme", "Basic dXNlcjpwYXNz", "", true},
		{"no token", "Bearer", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if tok, ok := FromRequest(r); tok != tc.token || ok != tc.ok {
				t.Errorf("got %q %v, want %q %v", tok, ok, tc.token, tc.ok)
			}
		})
	}
}

func TestSecret(t *testing.T) {
	s := NewSecret("s3cret")
	if !s.Set() || !s.Matches("s3cret") || s.Matches("s3cre") || s.Matches("s3cret2") || s.Matches("") {
		t.Error("a set secret matches exactly its token")
	}
	if none := NewSecret(""); none.Set() || none.Matches("") || none.Matches("x") {
		t.Error("an empty secret matches nothing")
	}
}
