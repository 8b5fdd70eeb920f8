package tokenlist

import "testing"

func TestHas(t *testing.T) {
	tests := []struct {
		name string
		v    string
		tok  string
		want bool
	}{
		{name: "alone", v: "close", tok: "close", want: true},
		{name: "any case", v: "Keep-Alive", tok: "keep-alive", want: true},
		{name: "among others, spaced", v: "TE,\t upgrade , close", tok: "upgrade", want: true},
		{name: "last, after an empty element", v: "gzip,, chunked", tok: "chunked", want: true},
		{name: "a prefix is not the token", v: "closed, upgrades", tok: "close", want: false},
		{name: "a token with spaces inside is not it", v: "keep alive", tok: "keep-alive", want: false},
		{name: "empty list", v: "", tok: "close", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Has([]byte(tc.v), []byte(tc.tok)); got != tc.want {
				t.Errorf("Has(%q, %q) = %v, want %v", tc.v, tc.tok, got, tc.want)
			}
		})
	}
}

func TestHasAllocatesNothing(t *testing.T) {
	v, tok := []byte("TE, keep-alive, Upgrade"), []byte("upgrade")
	if n := testing.AllocsPerRun(100, func() { Has(v, tok) }); n != 0 {
		t.Errorf("Has allocates %v times per call", n)
	}
}
