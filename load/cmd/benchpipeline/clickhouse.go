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

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tollgate/tollgate/internal/clickhouselocal"
	"github.com/tollgate/tollgate/load/benchrig"
)

// chConfig sizes the run's server for a small shared machine rather than
// a dedicated server (18.16's defaults are an 8 GiB uncompressed cache and
// 16 background merge threads), with more room per query than tests get:
// caches of 256 MiB and 4 GB per query, warnings only in the log, and the
// server's own defaults for its total memory and part thresholds.
func chConfig(dir string, tcpPort, httpPort int) clickhouselocal.Config {
	return clickhouselocal.Config{
		Dir:                   dir,
		TCPPort:               tcpPort,
		HTTPPort:              httpPort,
		LogLevel:              "warning",
		MarkCacheSize:         256 << 20,
		UncompressedCacheSize: 256 << 20,
		MaxMemoryUsage:        4_000_000_000,
	}
}

// chServer is the ClickHouse server process of the run.
type chServer struct {
	*benchrig.Proc
	addr, httpAddr string
	dir            string
	version        string
}

// startClickHouse writes a configuration with free ports under dir and
// starts the server, waiting until it answers.
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
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
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

// open connects to database over the native protocol (the driver's HTTP
// mode fails on 18.16).
func (s *chServer) open(database string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:     clickhouse.Native,
		Addr:         []string{s.addr},
		Auth:         clickhouse.Auth{Database: database, Username: "default"},
		DialTimeout:  5 * time.Second,
		ReadTimeout:  time.Minute,
		MaxOpenConns: 4,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to clickhouse %s: %w", s.addr, err)
	}
	return conn, nil
}

// queryUint runs a query answering one unsigned number.
func queryUint(ctx context.Context, conn driver.Conn, query string, args ...any) (uint64, error) {
	var v uint64
	if err := conn.QueryRow(ctx, query, args...).Scan(&v); err != nil {
		return 0, fmt.Errorf("%s: %w", query, err)
	}
	return v, nil
}
