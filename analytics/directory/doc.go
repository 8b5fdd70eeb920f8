// Package directory is what the analytics service knows of the gateway's
// configuration: its analytics tokens, by the hash of their secret, and
// the names of its services, routes and consumers. It implements
// api.Directory over a config store.
//
// It owns an in-memory index built from a store snapshot and rebuilt, off
// the request path, whenever the store reports a change; readers get the
// index through an atomic pointer and never wait for a rebuild. A rebuild
// that fails leaves the last good index in place and is retried.
//
// It only reads the store, and it never sees a token's secret: stores
// keep hashes only.
package directory
