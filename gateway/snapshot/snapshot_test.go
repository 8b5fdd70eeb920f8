package snapshot

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testcert"

	"golang.org/x/crypto/bcrypt"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/route"
	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
)

func buildFixture(t *testing.T, log *slog.Logger) *Snapshot {
	t.Helper()
	exactCert, exactKey := testcert.PEM(t, "exact", "api.example.com")
	wildCert, wildKey := testcert.PEM(t, "wild", "*.example.com")
	trailCert, trailKey := testcert.PEM(t, "trail", "example.*")
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	ss := &store.Snapshot{Version: 7, Entities: []entity.Entity{
		&entity.Service{Meta: meta("svc-1"), Name: "one", Protocol: "http", Host: "example.org", Port: 80},
		&entity.Route{Meta: meta("r-good"), Name: "good", Protocols: []string{"http"}, Paths: []string{"/good"}, Service: &entity.Ref{ID: "svc-1"}},
		&entity.Route{Meta: meta("r-bad"), Name: "bad", Protocols: []string{"http"}, Paths: []string{"~/bad(["}, Service: &entity.Ref{ID: "svc-1"}},
		&entity.Plugin{Meta: meta("p-good"), Name: "test", Config: json.RawMessage(`{"mode":"ok"}`), Enabled: nil},
		&entity.Plugin{Meta: meta("p-bad"), Name: "test", Route: &entity.Ref{ID: "r-good"}, Config: json.RawMessage(`{"mode":"bad"}`)},
		// Credentials before their consumer: order must not matter.
		&entity.KeyAuthCredential{Meta: meta("k-1"), KeyHash: validate.HashKey("key-one"), Consumer: &entity.Ref{ID: "c-1"}},
		&entity.KeyAuthCredential{Meta: entity.Meta{ID: "k-old", Workspace: "default", CreatedAt: time.Now().Add(-time.Hour).Unix()}, KeyHash: validate.HashKey("key-old"), TTL: 60, Consumer: &entity.Ref{ID: "c-1"}},
		&entity.KeyAuthCredential{Meta: meta("k-orphan"), KeyHash: validate.HashKey("key-orphan"), Consumer: &entity.Ref{ID: "c-missing"}},
		&entity.BasicAuthCredential{Meta: meta("b-1"), Username: "alice", PasswordHash: string(hash), Consumer: &entity.Ref{ID: "c-1"}},
		&entity.ACLGroup{Meta: meta("g-1"), Group: "admins", Consumer: &entity.Ref{ID: "c-1"}},
		&entity.ACLGroup{Meta: meta("g-2"), Group: "users", Consumer: &entity.Ref{ID: "c-1"}},
		&entity.Consumer{Meta: meta("c-1"), Username: "alice"},
		&entity.Certificate{Meta: meta("cert-exact"), Cert: exactCert, Key: exactKey},
		&entity.Certificate{Meta: meta("cert-wild"), Cert: wildCert, Key: wildKey},
		&entity.Certificate{Meta: meta("cert-trail"), Cert: trailCert, Key: trailKey},
		&entity.Certificate{Meta: meta("cert-broken"), Cert: "not a cert", Key: "nope"},
		&entity.SNI{Meta: meta("sni-1"), Name: "api.example.com", Certificate: &entity.Ref{ID: "cert-exact"}},
		&entity.SNI{Meta: meta("sni-2"), Name: "*.example.com", Certificate: &entity.Ref{ID: "cert-wild"}},
		&entity.SNI{Meta: meta("sni-3"), Name: "example.*", Certificate: &entity.Ref{ID: "cert-trail"}},
		&entity.SNI{Meta: meta("sni-4"), Name: "broken.test", Certificate: &entity.Ref{ID: "cert-broken"}},
		// The analytics service's, not the proxy's: accepted and unused.
		&entity.AnalyticsToken{Meta: meta("at-provider"), Name: "dash", TokenHash: validate.HashKey("tga_provider")},
		&entity.AnalyticsToken{Meta: meta("at-orphan"), TokenHash: validate.HashKey("tga_orphan"), Consumer: &entity.Ref{ID: "c-missing"}},
	}}
	snap, err := Build(ss, Deps{Plugins: plugin.NewRegistry(testFactory()), Logger: log})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return snap
}

func TestBuildSkipsBadEntities(t *testing.T) {
	var logs bytes.Buffer
	snap := buildFixture(t, slog.New(slog.NewTextHandler(&logs, nil)))
	if snap.Version != 7 {
		t.Errorf("version = %d, want 7", snap.Version)
	}
	if n := snap.Router.Len(); n != 1 {
		t.Errorf("routes = %d, want 1 (the bad regex skipped)", n)
	}
	if _, ok := snap.Router.Match(&route.Request{Protocol: "http", Method: "GET", Path: "/good"}); !ok {
		t.Error("the good route does not match")
	}
	if _, ok := snap.Service("svc-1"); !ok {
		t.Error("service svc-1 missing")
	}
	for _, want := range []string{"route skipped", "r-bad", "plugin skipped", "p-bad", "certificate skipped", "cert-broken", "k-orphan"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not mention %q:\n%s", want, logs.String())
		}
	}
	for _, quiet := range []string{"p-good", "at-provider", "at-orphan"} {
		if strings.Contains(logs.String(), quiet) {
			t.Errorf("%s was reported:\n%s", quiet, logs.String())
		}
	}
}

func TestCertificateBySNI(t *testing.T) {
	snap := buildFixture(t, nil)
	tests := []struct {
		name, server, wantCN string
	}{
		{name: "exact", server: "api.example.com", wantCN: "exact"},
		{name: "exact, any case and trailing dot", server: "API.Example.com.", wantCN: "exact"},
		{name: "leading wildcard", server: "www.example.com", wantCN: "wild"},
		{name: "trailing wildcard", server: "example.net", wantCN: "trail"},
		{name: "wildcard covers one label only", server: "a.b.example.com", wantCN: ""},
		{name: "unknown", server: "other.test", wantCN: ""},
		{name: "broken certificate skipped", server: "broken.test", wantCN: ""},
		{name: "no server name", server: "", wantCN: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := snap.Certificate(tc.server)
			if tc.wantCN == "" {
				if ok {
					t.Fatalf("got certificate %q, want none", c.Leaf.Subject.CommonName)
				}
				return
			}
			if !ok {
				t.Fatal("no certificate")
			}
			if got := c.Leaf.Subject.CommonName; got != tc.wantCN {
				t.Fatalf("certificate CN = %q, want %q", got, tc.wantCN)
			}
		})
	}
	if _, ok := snap.CertificateByID("cert-exact"); !ok {
		t.Error("CertificateByID misses cert-exact")
	}
}

func TestCredentials(t *testing.T) {
	snap := buildFixture(t, nil)
	cr := snap.Creds

	t.Run("key-auth", func(t *testing.T) {
		tests := []struct {
			name, ws, key string
			wantCred      string
		}{
			{name: "known key", ws: "default", key: "key-one", wantCred: "k-1"},
			{name: "empty workspace is default", ws: "", key: "key-one", wantCred: "k-1"},
			{name: "other workspace", ws: "team-b", key: "key-one"},
			{name: "unknown key", ws: "default", key: "nope"},
			{name: "expired ttl", ws: "default", key: "key-old"},
			{name: "consumer missing", ws: "default", key: "key-orphan"},
			{name: "empty key", ws: "default", key: ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				co, cred, ok := cr.KeyAuth(tc.ws, tc.key)
				if tc.wantCred == "" {
					if ok {
						t.Fatalf("found credential %s", cred.ID)
					}
					return
				}
				if !ok || cred.ID != tc.wantCred || co.ID != "c-1" {
					t.Fatalf("KeyAuth = %v, %v, %v", co, cred, ok)
				}
			})
		}
	})

	t.Run("basic-auth", func(t *testing.T) {
		tests := []struct {
			name, user, pass string
			ok               bool
		}{
			{name: "right password", user: "alice", pass: "s3cret", ok: true},
			{name: "right password again (cached)", user: "alice", pass: "s3cret", ok: true},
			{name: "wrong password", user: "alice", pass: "guess", ok: false},
			{name: "unknown user", user: "bob", pass: "s3cret", ok: false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				co, _, ok := cr.BasicAuth("default", tc.user, tc.pass)
				if ok != tc.ok {
					t.Fatalf("ok = %v, want %v", ok, tc.ok)
				}
				if ok && co.Username != "alice" {
					t.Fatalf("consumer = %v", co)
				}
			})
		}
		c := cr.(*credentials)
		c.mu.Lock()
		n := len(c.verified)
		c.mu.Unlock()
		if n != 1 {
			t.Fatalf("verified cache holds %d entries, want 1 (successes only)", n)
		}
	})

	t.Run("consumers and groups", func(t *testing.T) {
		if c, ok := cr.Consumer("default", "c-1"); !ok || c.Username != "alice" {
			t.Errorf("Consumer by id = %v, %v", c, ok)
		}
		if c, ok := cr.Consumer("default", "alice"); !ok || c.ID != "c-1" {
			t.Errorf("Consumer by username = %v, %v", c, ok)
		}
		if _, ok := cr.Consumer("default", "nobody"); ok {
			t.Error("found a consumer that does not exist")
		}
		got := strings.Join(cr.Groups("default", "c-1"), ",")
		if got != "admins,users" {
			t.Errorf("Groups = %q", got)
		}
	})
}

func TestVerifiedCacheIsBounded(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	b := newCredentialsBuilder()
	b.consumer("default", &entity.Consumer{Meta: meta("c")})
	b.basicAuth("default", &entity.BasicAuthCredential{Meta: meta("b"), Username: "u", PasswordHash: string(hash), Consumer: &entity.Ref{ID: "c"}})
	c, err := b.build()
	if err != nil {
		t.Fatal(err)
	}
	// Fill the cache with made-up entries, then verify once more.
	for i := 0; i < maxVerified; i++ {
		var k [32]byte
		k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16)
		c.verified[k] = struct{}{}
	}
	if _, _, ok := c.BasicAuth("default", "u", "pw"); !ok {
		t.Fatal("BasicAuth failed")
	}
	if n := len(c.verified); n != maxVerified {
		t.Fatalf("cache size = %d, want %d", n, maxVerified)
	}
}

func TestBuildNilSnapshot(t *testing.T) {
	if _, err := Build(nil, Deps{}); err == nil {
		t.Fatal("Build(nil) succeeded")
	}
}
