// Package sqlite answers analytics queries (query.Store) from standalone
// mode's embedded store (analytics/embedded), a SQLite database.
//
// Every query reads the raw requests table, through its (workspace,
// started_at_ms) index: standalone mode serves one machine's traffic, and
// the per-minute rollup keeps no latency distribution, so a raw read is
// both exact and fast enough there. Percentiles are exact nearest-rank
// values computed by SQL window functions (row_number over each group
// ordered by latency), so no latency leaves the database.
//
// Every statement is fixed text chosen from maps in this package, with the
// caller's values as bind arguments; no caller string ever becomes SQL. It
// only reads, and does not own the *sql.DB.
package sqlite
