// Package declarative reads and writes Kong-compatible declarative
// configuration: the kong.yml files (`_format_version: "3.0"`) that Kong's
// DB-less mode and decK use, in YAML or JSON.
//
// It owns the file format: which keys a file may hold, how entities nest
// (routes and plugins under services, credentials and ACL groups under
// consumers, targets under upstreams, SNIs under certificates), how they
// reference each other by name or id, how missing ids are derived, and how
// problems are reported (every one, with its place in the file, in the shape
// of Kong's "invalid declarative configuration" errors). A file that only
// uses features Tollgate has is imported unchanged; one that uses others is
// refused with a message naming each of them, never silently half-applied.
//
// Analytics tokens are not declarative configuration: a file neither holds
// nor removes them, exports leave them out, and applying a file keeps the
// workspace's tokens (dropping consumer tokens whose consumer the file no
// longer has).
//
// Field rules and defaults belong to package validate; identity and storage
// to the store. This package must never do I/O other than through the
// store handed to Apply, and never keeps plaintext secrets: keys and
// passwords are hashed on import and exported only as hashes.
package declarative
