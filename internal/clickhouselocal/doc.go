// Package clickhouselocal prepares and watches a ClickHouse server run as
// a local child process from Debian's clickhouse-server package (18.16 on
// the build machines, any later release elsewhere): it finds the server
// binary, writes the config.xml and users.xml that confine the server to
// one directory and to loopback, and waits until a started server answers.
//
// It owns the files it writes into the directory it is given and nothing
// else: the caller starts, stops and cleans up the process and the
// directory (internal/clickhousetest for tests, the load benchmarks for
// their runs). It must never start or signal a process, read the
// environment beyond the PATH lookup of the binary, or write outside the
// directory it is given.
package clickhouselocal
