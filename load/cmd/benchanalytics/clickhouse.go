package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tollgate/tollgate/internal/clickhouselocal"
	"github.com/tollgate/tollgate/load/benchrig"
)

// database is the benchmark's database in its server.
const database = "bench_analytics"

// chConfig sizes the server for queries over tens of millions of rows on
// a small machine: caches of 1 GiB (marks are what repeated queries over
// the same parts keep reading) and 8 GB per query. The rest, two threads
// per query included, is clickhouselocal's fixed configuration.
func chConfig(dir string, tcpPort, httpPort int) clickhouselocal.Config {
	return clickhouselocal.Config{
		Dir:                   dir,
		TCPPort:               tcpPort,
		HTTPPort:              httpPort,
		LogLevel:              "warning",
		MarkCacheSize:         1 << 30,
		UncompressedCacheSize: 1 << 30,
		MaxMemoryUsage:        8_000_000_000,
	}
}

// chServer is the ClickHouse server process of the run.
type chServer struct {
	*benchrig.Proc
	addr, httpAddr string
	dir            string
	version        string
}

// startClickHouse writes a configuration with free ports into dir and
// starts the server on the data already there, if any, waiting until it
// answers.
func startClickHouse(ctx context.Context, bin, dir string) (*chServer, error) {
	addrs, err := benchrig.FreePorts(2)
	if err != nil {
		return nil, err
	}
	port := func(a string) int {
		_, p, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(p)
		return n
	}
	if err := clickhouselocal.WriteConfig(chConfig(dir, port(addrs[0]), port(addrs[1]))); err != nil {
		return nil, err
	}
	b := clickhouselocal.BinaryAt(bin)
	p, err := benchrig.StartProc("clickhouse", b.Path, b.CommandArgs(dir), os.Environ(), dir, filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, err
	}
	s := &chServer{Proc: p, addr: addrs[0], httpAddr: addrs[1], dir: dir}
	// Loading the tables of a large data directory takes a while.
	if err := s.waitReady(ctx, 5*time.Minute); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, err
	}
	conn, err := s.open("default")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.QueryRow(ctx, "SELECT version()").Scan(&s.version)
	return s, nil
}

// waitReady waits until the server answers, or fails with the end of its
// log.
func (s *chServer) waitReady(ctx context.Context, within time.Duration) error {
	err := clickhouselocal.WaitReady(ctx, s.httpAddr, s.addr, s.Exited(), within)
	switch {
	case errors.Is(err, clickhouselocal.ErrExited):
		return fmt.Errorf("%w (%v): %s", err, s.WaitErr(), s.errTail())
	case err != nil:
		return fmt.Errorf("%w: %s", err, s.errTail())
	}
	return nil
}

// errTail is the end of the server's error log, for error messages.
func (s *chServer) errTail() string {
	for _, name := range []string{clickhouselocal.ServerErrLog, "stdout.log"} {
		if t, err := benchrig.FileTail(filepath.Join(s.dir, name), 15); err == nil && t != "(empty)\n" {
			return strings.TrimSpace(t)
		}
	}
	return "(no server log)"
}

// open connects to db over the native protocol (clickhouse-go's HTTP
// mode fails on 18.16), as `tollgate analytics` does.
func (s *chServer) open(db string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:     clickhouse.Native,
		Addr:         []string{s.addr},
		Auth:         clickhouse.Auth{Database: db, Username: "default"},
		DialTimeout:  5 * time.Second,
		ReadTimeout:  5 * time.Minute,
		MaxOpenConns: 8,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to clickhouse %s: %w", s.addr, err)
	}
	return conn, nil
}

// insertOptions are the collector's options for its insert connection
// (collector.Config.insertOptions): LZ4 blocks over a ch-go connection.
func (s *chServer) insertOptions() ch.Options {
	return ch.Options{
		Address:     s.addr,
		Database:    database,
		User:        "default",
		Compression: ch.CompressionLZ4,
		ClientName:  "tollgate-bench-analytics",
		DialTimeout: 5 * time.Second,
		ReadTimeout: 5 * time.Minute,
	}
}

// queryUint runs a query answering one unsigned number.
func queryUint(ctx context.Context, conn driver.Conn, query string, args ...any) (uint64, error) {
	var v uint64
	if err := conn.QueryRow(ctx, query, args...).Scan(&v); err != nil {
		return 0, fmt.Errorf("%s: %w", query, err)
	}
	return v, nil
}
