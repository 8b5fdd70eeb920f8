package upstream

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

func TestNormalizeTarget(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "host and port", in: "example.com:80", want: "example.com:80"},
		{name: "host gets Kong's default port", in: "example.com", want: "example.com:8000"},
		{name: "host is lower-cased", in: "API.Example.COM:443", want: "api.example.com:443"},
		{name: "ipv4", in: "10.0.0.1", want: "10.0.0.1:8000"},
		{name: "ipv4 and port", in: "10.0.0.1:9000", want: "10.0.0.1:9000"},
		{name: "bare ipv6", in: "::1", want: "[::1]:8000"},
		{name: "bracketed ipv6", in: "[2001:db8::1]", want: "[2001:db8::1]:8000"},
		{name: "ipv6 and port", in: "[2001:db8::1]:443", want: "[2001:db8::1]:443"},
		{name: "spaces trimmed", in: " a:1 ", want: "a:1"},
		{name: "empty", in: "", wantErr: true},
		{name: "port zero", in: "a:0", wantErr: true},
		{name: "port too big", in: "a:65536", wantErr: true},
		{name: "port not a number", in: "a:http", wantErr: true},
		{name: "port with leading zero", in: "a:080", wantErr: true},
		{name: "empty host", in: ":80", wantErr: true},
		{name: "unclosed bracket", in: "[::1", wantErr: true},
		{name: "bad ipv6", in: "[fe80::zz]:80", wantErr: true},
		{name: "url", in: "http://a:80", wantErr: true},
		{name: "path", in: "a/b:80", wantErr: true},
		{name: "space inside", in: "a b:80", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := normalizeTarget(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("normalizeTarget(%q) = %q, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("normalizeTarget(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func FuzzNormalizeTarget(f *testing.F) {
	for _, s := range []string{"a", "a:1", "10.0.0.1:80", "::1", "[::1]:80", "[::1", ":80", "a:b:c", "A.B:65535", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := normalizeTarget(s)
		if err != nil {
			return
		}
		host, port, err := net.SplitHostPort(got)
		if err != nil || host == "" || port == "" {
			t.Fatalf("normalizeTarget(%q) = %q: not host:port (%v)", s, got, err)
		}
		// Normal form is a fixed point: a target written either way is
		// one target.
		again, err := normalizeTarget(got)
		if err != nil || again != got {
			t.Fatalf("normalizeTarget(%q) = %q, then %q, %v", s, got, again, err)
		}
		if strings.ToLower(got) != got {
			t.Fatalf("normalizeTarget(%q) = %q: not lower case", s, got)
		}
	})
}

func TestCompileDefaults(t *testing.T) {
	// Zero values get Kong's defaults; nil status lists the default lists,
	// empty lists stay empty.
	u := upstreamOf("svc")
	a := compileActive(u, func(msg string) { t.Errorf("unexpected warning %q", msg) })
	if a.typ != probeHTTP || a.path != "/" || a.timeout != time.Second || a.concurrency != 10 || a.enabled() {
		t.Errorf("active defaults: %+v", a)
	}
	for _, code := range defaultActiveHealthy {
		if !a.thresholds.healthy.has(code) {
			t.Errorf("active healthy default lacks %d", code)
		}
	}
	if !a.thresholds.unhealthy.has(404) || a.thresholds.unhealthy.has(200) {
		t.Error("active unhealthy defaults wrong")
	}
	p := passiveThresholds(u.Healthchecks.Passive)
	if p.enabled() || !p.healthy.has(308) || !p.unhealthy.has(429) || p.unhealthy.has(404) {
		t.Errorf("passive defaults: %+v", p)
	}
	u.Healthchecks.Passive.Unhealthy.HTTPStatuses = []int{}
	if p := passiveThresholds(u.Healthchecks.Passive); p.unhealthy.has(500) {
		t.Error("an explicitly empty list got the defaults")
	}
	u.Healthchecks.Passive.Type = "tcp"
	if p := passiveThresholds(u.Healthchecks.Passive); !p.healthy.has(503) {
		t.Error("passive tcp checks classify HTTP statuses")
	}

	var warned []string
	u.Healthchecks.Active.Type = "grpc"
	if a := compileActive(u, func(msg string) { warned = append(warned, msg) }); a.typ != probeTCP || len(warned) != 1 {
		t.Errorf("grpc probe: type %v, warnings %v", a.typ, warned)
	}
}

func TestUnsupportedSettingsWarn(t *testing.T) {
	var logged strings.Builder
	m := newTestManager(t, Options{Logger: newBufLogger(&logged)})
	u := upstreamOf("svc", func(u *entity.Upstream) { u.Algorithm, u.HashOn = "latency", "path" })
	m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, "a:1", 1), targetOf(u, "b:1", 1)}, nil)
	for _, want := range []string{`algorithm \"latency\" is not supported`, `hash_on \"path\" is not supported`} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logged.String())
		}
	}
	// Round-robin it is.
	bal := mustLookup(t, m, "svc")
	a, _ := bal.Pick(nil, nil)
	b, _ := bal.Pick(nil, nil)
	if a.Addr == b.Addr {
		t.Errorf("not round-robin: %s twice", a.Addr)
	}
}
