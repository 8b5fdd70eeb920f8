package route

import "testing"

func TestLiteralPrefix(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"literal then class", `/users/\d+`, "/users/"},
		{"literal then named group", `/users/(?<id>\d+)`, "/users/"},
		{"whole literal", `/health`, "/health"},
		{"group first", `(/a|/b)`, ""},
		{"alternation with a common prefix", `/a|/b`, "/"},
		{"alternation without one", `/a|b`, ""},
		{"case-insensitive", `(?i)/abc`, ""},
		{"optional first char", `/?x`, ""},
		{"escaped dot", `/v1\.0/x`, "/v1.0/x"},
		{"repetition of last literal char", `/ab+`, "/a"},
		{"invalid", `/(`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := literalPrefix(tc.src); got != tc.want {
				t.Fatalf("literalPrefix(%q) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
}
