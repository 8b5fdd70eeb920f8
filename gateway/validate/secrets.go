package validate

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/entity"
	"golang.org/x/crypto/bcrypt"
)

// keyPrefixLen is how much of a key-auth key is kept in clear so that a key
// can be recognised in listings.
const keyPrefixLen = 4

// redactedKey replaces a certificate's private key in output.
const redactedKey = "<redacted>"

// HashSecrets replaces plaintext secrets with hashes in place: key-auth Key
// -> KeyHash (HashKey) and KeyPrefix (first 4 chars), Key cleared; a missing
// key (and no KeyHash) is generated (32 random hex chars, like Kong);
// basic-auth Password -> PasswordHash (bcrypt), Password cleared; analytics
// Token -> TokenHash (HashKey) and TokenPrefix (first 8 chars), Token
// cleared, a missing token (and no TokenHash) generated ("tga_" and 40
// random base62 chars); entities that arrive with only a hash (declarative
// import of an export) keep it. Returns the plaintext key-auth key or
// analytics token (or "") so the creation response can show it once.
func HashSecrets(e entity.Entity) (plaintextKey string, err error) {
	switch e := e.(type) {
	case *entity.AnalyticsToken:
		return hashAnalyticsToken(e)
	case *entity.KeyAuthCredential:
		key := e.Key
		if key == "" {
			if e.KeyHash != "" {
				return "", nil
			}
			// Kong's key-auth generates a UUID without dashes: 128 random
			// bits as 32 hex characters.
			var b [16]byte
			if _, err := rand.Read(b[:]); err != nil {
				return "", fmt.Errorf("generate key-auth key: %w", err)
			}
			key = hex.EncodeToString(b[:])
		}
		e.KeyHash = HashKey(key)
		e.KeyPrefix = prefix(key, keyPrefixLen)
		e.Key = ""
		return key, nil
	case *entity.BasicAuthCredential:
		if e.Password == "" {
			return "", nil
		}
		h, err := bcrypt.GenerateFromPassword([]byte(e.Password), bcrypt.DefaultCost)
		if err != nil {
			return "", fmt.Errorf("hash basic-auth password: %w", err)
		}
		e.PasswordHash = string(h)
		e.Password = ""
	}
	return "", nil
}

// prefix returns the first n characters of s (whole runes).
func prefix(s string, n int) string {
	i := 0
	for ; n > 0 && i < len(s); n-- {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}

// Redact masks secrets for output, in place: KeyHash removed, Key shown as
// KeyPrefix+"…" (never the full key), PasswordHash removed, an analytics
// token's Token and TokenHash removed (TokenPrefix stays), Certificate.Key
// replaced by a masked marker.
func Redact(e entity.Entity) {
	switch e := e.(type) {
	case *entity.AnalyticsToken:
		if e.TokenPrefix == "" && e.Token != "" {
			e.TokenPrefix = prefix(e.Token, analyticsTokenPrefixLen)
		}
		e.Token, e.TokenHash = "", ""
	case *entity.KeyAuthCredential:
		if e.KeyPrefix == "" && e.Key != "" {
			e.KeyPrefix = prefix(e.Key, keyPrefixLen)
		}
		e.KeyHash = ""
		e.Key = ""
		if e.KeyPrefix != "" {
			e.Key = e.KeyPrefix + "…"
		}
	case *entity.BasicAuthCredential:
		e.PasswordHash = ""
		e.Password = ""
	case *entity.Certificate:
		if e.Key != "" {
			e.Key = redactedKey
		}
	}
}

// HashKey is the hash under which key-auth keys and analytics tokens are
// stored and looked up: hex SHA-256. Keys are random high-entropy strings, so a fast unsalted hash
// is enough and lets the proxy find a credential with one map lookup.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// CheckPassword compares a password with a PasswordHash (bcrypt).
func CheckPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
