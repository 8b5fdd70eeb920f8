// Package clickhousetest runs a real ClickHouse server for tests: Debian's
// clickhouse-server (18.16 on the build machines, any later release
// elsewhere) as a child process with a generated configuration in a
// temporary directory, or, when TOLLGATE_TEST_CLICKHOUSE=host:port is set,
// an existing server. The configuration and the binary lookup are
// internal/clickhouselocal's, shared with the load benchmarks.
//
// It owns the server processes it starts, their temporary directories and
// the test databases it creates, and removes them when the test (or, for a
// Shared server, the test binary) ends. It must never be imported outside
// tests, never touch a database it did not create, and never leave a server
// running after the test binary exits.
//
// When the server binary is missing the test is skipped with a message that
// says how to install it, unless TOLLGATE_REQUIRE names "clickhouse": CI
// sets that so a missing server fails the run instead of passing silently.
package clickhousetest
