package validate

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/entity"
	"golang.org/x/crypto/bcrypt"
)

func TestHashSecretsKeyAuth(t *testing.T) {
	tests := []struct {
		name       string
		in         *entity.KeyAuthCredential
		wantKey    string // "" with generated: any 32 hex chars
		generated  bool
		wantHash   string
		wantPrefix string
	}{
		{name: "given key", in: &entity.KeyAuthCredential{Key: "secret-key-1"},
			wantKey: "secret-key-1", wantHash: HashKey("secret-key-1"), wantPrefix: "secr"},
		{name: "short key", in: &entity.KeyAuthCredential{Key: "ab"},
			wantKey: "ab", wantHash: HashKey("ab"), wantPrefix: "ab"},
		{name: "multibyte key", in: &entity.KeyAuthCredential{Key: "ééééé"},
			wantKey: "ééééé", wantHash: HashKey("ééééé"), wantPrefix: "éééé"},
		{name: "generated key", in: &entity.KeyAuthCredential{}, generated: true},
		{name: "imported hash kept", in: &entity.KeyAuthCredential{KeyHash: HashKey("old"), KeyPrefix: "old"},
			wantKey: "", wantHash: HashKey("old"), wantPrefix: "old"},
	}
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := HashSecrets(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if tt.generated {
				if !hex32.MatchString(key) {
					t.Fatalf("generated key %q is not 32 hex chars", key)
				}
				tt.wantKey, tt.wantHash, tt.wantPrefix = key, HashKey(key), key[:4]
			}
			if key != tt.wantKey {
				t.Errorf("plaintext = %q, want %q", key, tt.wantKey)
			}
			if tt.in.Key != "" {
				t.Errorf("Key = %q, want cleared", tt.in.Key)
			}
			if tt.in.KeyHash != tt.wantHash || tt.in.KeyPrefix != tt.wantPrefix {
				t.Errorf("KeyHash, KeyPrefix = %q, %q; want %q, %q", tt.in.KeyHash, tt.in.KeyPrefix, tt.wantHash, tt.wantPrefix)
			}
		})
	}
}

func TestGeneratedKeysDiffer(t *testing.T) {
	a, _ := HashSecrets(&entity.KeyAuthCredential{})
	b, _ := HashSecrets(&entity.KeyAuthCredential{})
	if a == b {
		t.Errorf("two generated keys are equal: %q", a)
	}
}

func TestHashKey(t *testing.T) {
	// SHA-256 of "abc" (FIPS 180-2, appendix B.1).
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := HashKey("abc"); got != want {
		t.Errorf("HashKey(abc) = %s, want %s", got, want)
	}
}

func TestHashSecretsBasicAuth(t *testing.T) {
	b := &entity.BasicAuthCredential{Username: "u", Password: "pa55word"}
	if key, err := HashSecrets(b); err != nil || key != "" {
		t.Fatalf("HashSecrets() = %q, %v", key, err)
	}
	if b.Password != "" {
		t.Errorf("Password = %q, want cleared", b.Password)
	}
	if _, err := bcrypt.Cost([]byte(b.PasswordHash)); err != nil {
		t.Fatalf("PasswordHash %q is not bcrypt: %v", b.PasswordHash, err)
	}
	if !CheckPassword(b.PasswordHash, "pa55word") {
		t.Error("CheckPassword(right password) = false")
	}
	if CheckPassword(b.PasswordHash, "pa55wore") {
		t.Error("CheckPassword(wrong password) = true")
	}
	if CheckPassword("not-a-hash", "pa55word") {
		t.Error("CheckPassword(bad hash) = true")
	}

	imported := &entity.BasicAuthCredential{Username: "u", PasswordHash: b.PasswordHash}
	if _, err := HashSecrets(imported); err != nil {
		t.Fatal(err)
	}
	if imported.PasswordHash != b.PasswordHash {
		t.Error("imported PasswordHash changed")
	}
}

func TestHashSecretsAnalyticsToken(t *testing.T) {
	generated := regexp.MustCompile(`^tga_[0-9A-Za-z]{40}$`)
	tests := []struct {
		name       string
		in         *entity.AnalyticsToken
		wantToken  string // "" with generated: any generated token
		generated  bool
		wantHash   string
		wantPrefix string
	}{
		{name: "given token", in: &entity.AnalyticsToken{Token: "my-dashboard-token-0001"},
			wantToken: "my-dashboard-token-0001", wantHash: HashKey("my-dashboard-token-0001"), wantPrefix: "my-dashb"},
		{name: "generated token", in: &entity.AnalyticsToken{}, generated: true},
		{name: "stored hash kept", in: &entity.AnalyticsToken{TokenHash: HashKey("old"), TokenPrefix: "old"},
			wantHash: HashKey("old"), wantPrefix: "old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := HashSecrets(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if tt.generated {
				if !generated.MatchString(tok) {
					t.Fatalf("generated token %q is not tga_ and 40 base62 chars", tok)
				}
				tt.wantToken, tt.wantHash, tt.wantPrefix = tok, HashKey(tok), tok[:8]
			}
			if tok != tt.wantToken {
				t.Errorf("plaintext = %q, want %q", tok, tt.wantToken)
			}
			if tt.in.Token != "" {
				t.Errorf("Token = %q, want cleared", tt.in.Token)
			}
			if tt.in.TokenHash != tt.wantHash || tt.in.TokenPrefix != tt.wantPrefix {
				t.Errorf("TokenHash, TokenPrefix = %q, %q; want %q, %q", tt.in.TokenHash, tt.in.TokenPrefix, tt.wantHash, tt.wantPrefix)
			}
			if errs := Normalize(&entity.AnalyticsToken{Token: tok}, nil); tt.generated && errs != nil {
				t.Errorf("a generated token fails validation: %v", errs.Err())
			}
		})
	}
}

func TestGeneratedAnalyticsTokensDiffer(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := newAnalyticsToken()
		if err != nil {
			t.Fatal(err)
		}
		if seen[tok] {
			t.Fatalf("token %q generated twice", tok)
		}
		seen[tok] = true
	}
}

func TestHashSecretsOtherKinds(t *testing.T) {
	s := &entity.Service{Host: "a"}
	if key, err := HashSecrets(s); key != "" || err != nil {
		t.Errorf("HashSecrets(service) = %q, %v", key, err)
	}
}

func TestRedact(t *testing.T) {
	k := &entity.KeyAuthCredential{Key: "abcdefgh"}
	if _, err := HashSecrets(k); err != nil {
		t.Fatal(err)
	}
	Redact(k)
	if k.KeyHash != "" || k.Key != "abcd…" || k.KeyPrefix != "abcd" {
		t.Errorf("redacted key-auth = %+v", k)
	}

	plain := &entity.KeyAuthCredential{Key: "zyxwvuts"}
	Redact(plain)
	if strings.Contains(plain.Key, "zyxwvuts") || plain.Key != "zyxw…" {
		t.Errorf("redacted plaintext key = %q", plain.Key)
	}

	b := &entity.BasicAuthCredential{Username: "u", PasswordHash: "$2a$10$x", Password: "p"}
	Redact(b)
	if b.PasswordHash != "" || b.Password != "" || b.Username != "u" {
		t.Errorf("redacted basic-auth = %+v", b)
	}

	a := &entity.AnalyticsToken{Name: "n", Token: "tga_abcdefghijklmnopqrstuvwxyz"}
	Redact(a)
	if a.Token != "" || a.TokenHash != "" || a.TokenPrefix != "tga_abcd" || a.Name != "n" {
		t.Errorf("redacted plaintext analytics token = %+v", a)
	}
	stored := &entity.AnalyticsToken{TokenHash: HashKey("x"), TokenPrefix: "tga_wxyz"}
	Redact(stored)
	if stored.TokenHash != "" || stored.TokenPrefix != "tga_wxyz" {
		t.Errorf("redacted stored analytics token = %+v", stored)
	}

	c := &entity.Certificate{Cert: "CERT", Key: "-----BEGIN PRIVATE KEY-----"}
	Redact(c)
	if c.Key != redactedKey || c.Cert != "CERT" {
		t.Errorf("redacted certificate = %+v", c)
	}
}
