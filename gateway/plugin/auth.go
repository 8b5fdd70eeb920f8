package plugin

import (
	"encoding/json"

	"github.com/tollgate/tollgate/internal/entity"
)

// Headers the authentication and ACL plugins set on the upstream request,
// with Kong's names (kong.constants HEADERS).
const (
	HeaderConsumerID           = "X-Consumer-ID"
	HeaderConsumerCustomID     = "X-Consumer-Custom-ID"
	HeaderConsumerUsername     = "X-Consumer-Username"
	HeaderCredentialIdentifier = "X-Credential-Identifier"
	HeaderAnonymous            = "X-Anonymous-Consumer"
	HeaderConsumerGroups       = "X-Consumer-Groups"
)

// Outcomes of authentication recorded in logrecord.Record.AuthOutcome.
const (
	AuthAuthenticated = "authenticated"
	AuthAnonymous     = "anonymous"
	AuthRejected      = "rejected"
)

// SetConsumer is what Kong's authentication plugins do once they know who
// is calling (their set_consumer): it calls c.Authenticate, sets or clears
// the X-Consumer-ID, X-Consumer-Custom-ID, X-Consumer-Username and
// X-Credential-Identifier upstream headers, sets X-Anonymous-Consumer: true
// when there is no credential (the anonymous fallback) and clears it
// otherwise, and records the outcome in c.Record. identifier is the value of
// X-Credential-Identifier (key-auth sends the credential id, basic-auth its
// username).
func SetConsumer(c *Context, consumer *entity.Consumer, credentialID, identifier string) {
	anonymous := credentialID == ""
	c.Authenticate(consumer, credentialID, anonymous)
	r := c.Request
	setOrDel(r, HeaderConsumerID, consumer.ID)
	setOrDel(r, HeaderConsumerCustomID, consumer.CustomID)
	setOrDel(r, HeaderConsumerUsername, consumer.Username)
	setOrDel(r, HeaderCredentialIdentifier, identifier)
	if anonymous {
		r.SetHeader(HeaderAnonymous, "true")
	} else {
		r.DelHeader(HeaderAnonymous)
	}
	if c.Record != nil {
		c.Record.ConsumerID = consumer.ID
		c.Record.CredentialID = credentialID
		c.Record.AuthOutcome = AuthAuthenticated
		if anonymous {
			c.Record.AuthOutcome = AuthAnonymous
		}
	}
}

func setOrDel(r Request, name, value string) {
	if value != "" {
		r.SetHeader(name, value)
	} else {
		r.DelHeader(name)
	}
}

// ContentTypeJSON is the content type of the gateway's error bodies.
const ContentTypeJSON = "application/json; charset=utf-8"

// MessageBody returns Kong's JSON error body, {"message": msg}; plugins
// compute it once for the messages they know in advance.
func MessageBody(msg string) []byte {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	return b
}
