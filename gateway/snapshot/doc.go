// Package snapshot turns one version of the stored configuration into what
// the proxy serves from: a compiled routing table, the plugin pipeline,
// in-memory indexes of services, consumers and their credentials, and the
// TLS certificates by server name. A Snapshot is immutable; Holder keeps the
// current one behind an atomic pointer and swaps in a new one after every
// config change, so a request sees one consistent version from start to end.
//
// It owns building and swapping snapshots and the credentials index (with
// its cache of verified basic-auth passwords). It must never be read from
// the request path through anything but Holder.Load, and must never block
// requests on the store: a store that is down leaves the last good snapshot
// in place.
package snapshot
