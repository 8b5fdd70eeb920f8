// Package bearer reads bearer tokens (RFC 6750 §2.1) and checks them
// against a configured secret, as the Admin API and the analytics API do:
// the scheme is case-insensitive, and the comparison takes the same time
// whatever either token's length or contents.
package bearer

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// FromRequest returns the token of r's Authorization header: ok is false
// when the header is absent, and token is "" when it is not a bearer token.
func FromRequest(r *http.Request) (token string, ok bool) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", false
	}
	scheme, tok, found := strings.Cut(auth, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

// Secret is a configured token, kept as its SHA-256.
type Secret struct {
	hash [sha256.Size]byte
	set  bool
}

// NewSecret keeps token; an empty token makes a Secret that matches
// nothing.
func NewSecret(token string) Secret {
	if token == "" {
		return Secret{}
	}
	return Secret{hash: sha256.Sum256([]byte(token)), set: true}
}

// Set says whether a token was configured.
func (s Secret) Set() bool { return s.set }

// Matches compares token with the secret in constant time: both are
// hashed first, so that lengths do not leak either.
func (s Secret) Matches(token string) bool {
	if !s.set || token == "" {
		return false
	}
	h := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(h[:], s.hash[:]) == 1
}
