package proxy

import (
	"bytes"
	"net/netip"
	"testing"
)

// FuzzRealClientIP: any header yields an address that appears in it, or
// none, without panicking.
func FuzzRealClientIP(f *testing.F) {
	for _, s := range []string{
		"203.0.113.7", "198.51.100.1, 203.0.113.7, 10.1.2.3", "[2001:db8::1]:443, ::1",
		" , ,", "unknown, 10.0.0.1", "::ffff:1.2.3.4", "1.2.3.4:99999", "[::1", "%00,\xff",
	} {
		f.Add([]byte(s))
	}
	trusted := trustedSet{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, header []byte) {
		a, ok := realClientIP(header, trusted)
		if ok && !a.IsValid() {
			t.Fatalf("ok with an invalid address for %q", header)
		}
		if !ok && a.IsValid() {
			t.Fatalf("address %v without ok for %q", a, header)
		}
	})
}

// FuzzConnectionTokens: tokens are non-empty, trimmed, and never the
// connection options close or keep-alive.
func FuzzConnectionTokens(f *testing.F) {
	for _, s := range []string{"close", "keep-alive, X-Foo", " Upgrade ,X-A,,x-b , Close", "\t,\t", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		connectionTokens(v, func(name []byte) {
			if len(name) == 0 || isBlank(name[0]) || isBlank(name[len(name)-1]) {
				t.Fatalf("bad token %q from %q", name, v)
			}
			if bytes.EqualFold(name, []byte("close")) || bytes.EqualFold(name, []byte("keep-alive")) {
				t.Fatalf("option %q passed as a field name", name)
			}
		})
	})
}

// FuzzTraceID: a trace id is 32 lower-case hex digits or nothing.
func FuzzTraceID(f *testing.F) {
	f.Add([]byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
	f.Add([]byte("00-00000000000000000000000000000000-00f067aa0ba902b7-01"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, v []byte) {
		id := traceID(v)
		if id == "" {
			return
		}
		if len(id) != 32 || !bytes.Contains(v, []byte(id)) {
			t.Fatalf("trace id %q from %q", id, v)
		}
	})
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }
