// Package validate checks configuration entities the way Kong 3.x's schemas
// do, fills in Kong's defaults, and turns plaintext secrets into the hashes
// that are stored.
//
// It owns the field rules of every entity kind (ranges, formats, the route
// and upstream entity checks) and the secret handling of credentials and
// analytics tokens (generation, SHA-256 key and token hashes, bcrypt
// password hashes, redaction for output). Its messages follow Kong's schema
// messages so that tooling written against Kong's Admin API reads them
// unchanged.
//
// It must never do I/O or look at other entities: whether a referenced
// service or consumer exists, and whether a unique key is taken, is for the
// callers and the store to say.
//
// Zero values count as absent: Normalize fills a default wherever a field
// holds its zero value. The fields whose zero is a valid setting that
// differs from Kong's default — a service's retries and a target's weight —
// are pointers in the entity types, so an explicit 0 is kept.
package validate
