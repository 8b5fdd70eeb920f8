package api

import "github.com/tollgate/tollgate/internal/entity"

// Directory is what the API knows of the configuration: who an analytics
// token belongs to, and what services, routes and consumers are called.
// The analytics service builds one over the config store (package
// analytics/directory); it is safe for concurrent use and answers from
// memory.
type Directory interface {
	// Token returns the analytics token whose secret hashes to hash
	// (validate.HashKey: the SHA-256 of the secret, in hex).
	Token(hash string) (Token, bool)
	// Entity returns the service, route or consumer of a workspace with
	// the given id, or name (username for consumers). Workspace "" looks
	// up an id in every workspace (ids are UUIDs).
	Entity(kind entity.Kind, workspace, idOrName string) (Named, bool)
	// Entities lists the services, routes or consumers of a workspace
	// ("" for every workspace), by name then id.
	Entities(kind entity.Kind, workspace string) []Named
}

// Token is an analytics token as the API needs it.
type Token struct {
	ID        string
	Name      string
	Workspace string // the workspace whose data the token reads
	// ConsumerID, when set, makes it a consumer token: it reads only that
	// consumer's records.
	ConsumerID string
	// ExpiresAt is when the token stops working, in Unix seconds; 0 never.
	ExpiresAt int64
}

// Named is a configured entity's identity.
type Named struct {
	ID        string
	Name      string // name, or username for consumers; "" when it has none
	Workspace string
}
