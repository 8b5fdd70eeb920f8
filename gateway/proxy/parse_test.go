package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/tollgate/tollgate/gateway/upstream"
	"github.com/valyala/fasthttp"
)

func TestRealClientIP(t *testing.T) {
	trusted := trustedSet{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name   string
		header string
		want   string // "" for none
	}{
		{name: "one address", header: "203.0.113.7", want: "203.0.113.7"},
		{name: "rightmost untrusted wins", header: "198.51.100.1, 203.0.113.7, 10.1.2.3", want: "203.0.113.7"},
		{name: "all trusted: leftmost", header: "10.0.0.1, 10.0.0.2", want: "10.0.0.1"},
		{name: "spaces and empty entries", header: " 203.0.113.7 ,, 10.0.0.9 ", want: "203.0.113.7"},
		{name: "ipv6 and port forms", header: "[2001:db8::1]:443, ::1", want: "2001:db8::1"},
		{name: "ipv4 with port", header: "203.0.113.7:5555", want: "203.0.113.7"},
		{name: "mapped ipv4", header: "::ffff:203.0.113.7", want: "203.0.113.7"},
		{name: "garbage stops the walk", header: "203.0.113.7, junk, 10.0.0.1", want: "10.0.0.1"},
		{name: "garbage only", header: "unknown", want: ""},
		{name: "empty", header: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := realClientIP([]byte(tc.header), trusted)
			if tc.want == "" {
				if ok {
					t.Fatalf("got %v, want none", got)
				}
				return
			}
			if !ok || got.String() != tc.want {
				t.Fatalf("got %v (%v), want %s", got, ok, tc.want)
			}
		})
	}
}

func TestConnectionTokens(t *testing.T) {
	tests := []struct{ in, want string }{
		{"close", ""},
		{"keep-alive, X-Foo", "X-Foo"},
		{" Upgrade ,X-A,,x-b , Close", "Upgrade|X-A|x-b"},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var got []string
			connectionTokens([]byte(tc.in), func(n []byte) { got = append(got, string(n)) })
			if s := strings.Join(got, "|"); s != tc.want {
				t.Fatalf("tokens = %q, want %q", s, tc.want)
			}
		})
	}
}

func TestTraceID(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"valid", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"all zero", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"upper case", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", ""},
		{"short", "00-4bf92f35-01", ""},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := traceID([]byte(tc.in)); got != tc.want {
				t.Fatalf("traceID = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	timeout := &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}
	tests := []struct {
		name   string
		err    error
		want   failure
		status int
	}{
		{"no healthy target", fmt.Errorf("pick: %w", upstream.ErrNoHealthyTarget), failNoHealthyTarget, 503},
		{"client gone", fmt.Errorf("%w: %w", errClientGone, io.ErrUnexpectedEOF), failClientGone, 499},
		{"connect refused", &connectError{"a:1", syscall.ECONNREFUSED}, failConnect, 502},
		{"connect timeout", &connectError{"a:1", timeout}, failConnectTimeout, 504},
		{"dns", &connectError{"a:1", &net.DNSError{Err: "no such host", Name: "a"}}, failNameResolution, 503},
		{"read timeout", timeout, failTimeout, 504},
		{"fasthttp timeout", fasthttp.ErrTimeout, failTimeout, 504},
		{"context deadline", context.DeadlineExceeded, failTimeout, 504},
		{"connection closed", fasthttp.ErrConnectionClosed, failBadResponse, 502},
		{"other", errors.New("malformed"), failBadResponse, 502},
		{"nil", nil, failNone, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := classify(tc.err)
			if f != tc.want || f.info().status != tc.status {
				t.Fatalf("classify = %v (status %d), want %v (%d)", f, f.info().status, tc.want, tc.status)
			}
		})
	}
	for f := failNone; f <= failInternal; f++ {
		if f != failNone && (failures[f].status == 0 || failures[f].message == "" || failures[f].class == "") {
			t.Errorf("failure %d has no complete response", f)
		}
	}
}

func TestRequestIDs(t *testing.T) {
	g := newIDGen()
	shape := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	var id [36]byte
	for i := 0; i < 1000; i++ {
		g.next(&id)
		s := string(id[:])
		if !shape.MatchString(s) {
			t.Fatalf("id %q is not shaped as a UUIDv4", s)
		}
		if seen[s] {
			t.Fatalf("id %q repeated", s)
		}
		seen[s] = true
	}
	var other [36]byte
	newIDGen().next(&other)
	if string(other[:13]) == string(id[:13]) {
		t.Error("two generators share a prefix")
	}
}

func TestHostWithoutPort(t *testing.T) {
	for in, want := range map[string]string{
		"example.com:8000": "example.com", "example.com": "example.com",
		"[::1]:80": "[::1]", "[::1]": "[::1]", "": "",
	} {
		if got := string(hostWithoutPort([]byte(in))); got != want {
			t.Errorf("hostWithoutPort(%q) = %q, want %q", in, got, want)
		}
	}
}
