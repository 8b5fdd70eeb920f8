package validate

import (
	"crypto/rand"
	"fmt"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/entity"
)

// Analytics tokens. Generated tokens are "tga_" and 40 base62 characters
// (238 random bits); the prefix tells a leaked token apart from other
// secrets (secret scanners key on such prefixes) and is what TokenPrefix
// shows of it.
const (
	analyticsTokenMark      = "tga_"
	analyticsTokenRandomLen = 40
	// analyticsTokenPrefixLen is how much of a token is kept in clear.
	analyticsTokenPrefixLen = 8
	// minAnalyticsTokenLen bounds the tokens users choose: shorter ones
	// could be guessed.
	minAnalyticsTokenLen = 20
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func normalizeAnalyticsToken(a *entity.AnalyticsToken, errs entity.FieldErrors) {
	checkName(errs, "name", a.Name)
	checkRef(errs, "consumer", a.Consumer)
	if a.Token != "" {
		checkAnalyticsToken(errs, a.Token)
	}
	if a.ExpiresAt < 0 {
		errs.Add("expires_at", "value must be greater than or equal to 0")
	}
}

// checkAnalyticsToken checks a token the user chose. It is presented as
// "Authorization: Bearer <token>", so it must be an RFC 6750 §2.1
// b64token: ASCII letters, digits and "-._~+/", then optional "=".
func checkAnalyticsToken(errs entity.FieldErrors, tok string) {
	if n := utf8.RuneCountInString(tok); n < minAnalyticsTokenLen {
		errs.Add("token", fmt.Sprintf("length must be at least %d", minAnalyticsTokenLen))
		return
	}
	i := 0
	for i < len(tok) && (isUnreserved(tok[i]) || tok[i] == '+' || tok[i] == '/') {
		i++
	}
	for i < len(tok) && tok[i] == '=' {
		i++
	}
	if i != len(tok) {
		errs.Add("token", "invalid value: the only accepted characters are alphanumerics and -, ., _, ~, +, / (then optional trailing =)")
	}
}

// newAnalyticsToken returns a fresh random token.
func newAnalyticsToken() (string, error) {
	b := make([]byte, 0, len(analyticsTokenMark)+analyticsTokenRandomLen)
	b = append(b, analyticsTokenMark...)
	// Rejection sampling keeps the characters uniform: 248 is the largest
	// multiple of 62 that fits in a byte.
	var buf [64]byte
	for len(b) < cap(b) {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("generate analytics token: %w", err)
		}
		for _, c := range buf {
			if c >= 248 || len(b) == cap(b) {
				continue
			}
			b = append(b, base62[c%62])
		}
	}
	return string(b), nil
}

// hashAnalyticsToken is HashSecrets for analytics tokens.
func hashAnalyticsToken(a *entity.AnalyticsToken) (string, error) {
	tok := a.Token
	if tok == "" {
		if a.TokenHash != "" {
			return "", nil
		}
		var err error
		if tok, err = newAnalyticsToken(); err != nil {
			return "", err
		}
	}
	a.TokenHash = HashKey(tok)
	a.TokenPrefix = prefix(tok, analyticsTokenPrefixLen)
	a.Token = ""
	return tok, nil
}
