// Package embedded is standalone mode's analytics store: the request log
// in one SQLite database file under the data dir, through a pure-Go SQLite
// (modernc.org/sqlite), so that `tollgate standalone` records and queries
// its traffic with nothing else installed.
//
// It owns the database's schema (raw requests and a per-minute rollup,
// versioned with PRAGMA user_version) and loading: Load inserts a batch in
// one transaction, skipping records whose request_id is already there and
// adding to the rollup only what it inserted, so loading the same records
// twice changes nothing. That is standalone's exactly-once: the spool
// feeding it is at-least-once, the store idempotent.
//
// It never talks to the network, and it never blocks the request path:
// only the in-process collector writes to it.
package embedded
