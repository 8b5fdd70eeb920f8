package validate

import (
	"encoding/hex"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/entity"
	"golang.org/x/crypto/bcrypt"
)

// maxKeyTTL is Kong's DAO_MAX_TTL (kong/constants.lua), in seconds.
const maxKeyTTL = 100000000

// maxPasswordLen is the longest password bcrypt takes: it reads 72 bytes.
const maxPasswordLen = 72

func normalizeConsumer(c *entity.Consumer, errs entity.FieldErrors) {
	if c.Username == "" && c.CustomID == "" {
		errs.Add(entityField, "at least one of these fields must be non-empty: 'custom_id', 'username'")
	}
}

func normalizeKeyAuth(k *entity.KeyAuthCredential, errs entity.FieldErrors) {
	requireRef(errs, "consumer", k.Consumer)
	if k.Key != "" && !utf8.ValidString(k.Key) {
		errs.Add("key", "invalid utf-8")
	}
	if k.Key == "" && k.KeyHash != "" {
		if b, err := hex.DecodeString(k.KeyHash); err != nil || len(b) != 32 {
			errs.Add("key_hash", "expected a hex SHA-256 digest")
		}
	}
	between(errs, "ttl", k.TTL, 0, maxKeyTTL)
}

func normalizeBasicAuth(b *entity.BasicAuthCredential, errs entity.FieldErrors) {
	requireRef(errs, "consumer", b.Consumer)
	if b.Username == "" {
		errs.Add("username", msgRequired)
	}
	switch {
	case b.Password != "":
		if len(b.Password) > maxPasswordLen {
			errs.Add("password", "length must be at most 72")
		}
	case b.PasswordHash != "":
		if _, err := bcrypt.Cost([]byte(b.PasswordHash)); err != nil {
			errs.Add("password_hash", "expected a bcrypt hash")
		}
	default:
		errs.Add("password", msgRequired)
	}
}

func normalizeACL(a *entity.ACLGroup, errs entity.FieldErrors) {
	requireRef(errs, "consumer", a.Consumer)
	if a.Group == "" {
		errs.Add("group", msgRequired)
	}
}
