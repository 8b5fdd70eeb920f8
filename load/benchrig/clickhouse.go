package benchrig

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
)

// ClickHouseOptions say how a benchmark runs its ClickHouse server.
type ClickHouseOptions struct {
	Binary string // the clickhouse-server binary, "" to look it up
	Dir    string // data and configuration; data already there is kept
	// Config sizes the server for the benchmark, on the ports chosen.
	Config func(dir string, tcpPort, httpPort int) clickhouselocal.Config
	// ReadyWithin bounds the start: a large data directory takes a while
	// to load.
	ReadyWithin time.Duration
	// ReadTimeout and MaxOpenConns are those of connections from Open.
	ReadTimeout  time.Duration
	MaxOpenConns int
}

// ClickHouse is a benchmark's ClickHouse server process.
type ClickHouse struct {
	*Proc
	Addr, HTTPAddr string // native protocol and HTTP, on loopback
	Version        string
	opts           ClickHouseOptions
}

// StartClickHouse writes a configuration with free ports into o.Dir and
// starts the server, waiting until it answers.
func StartClickHouse(ctx context.Context, o ClickHouseOptions) (*ClickHouse, error) {
	addrs, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	port := func(a string) int {
		_, p, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(p)
		return n
	}
	if err := clickhouselocal.WriteConfig(o.Config(o.Dir, port(addrs[0]), port(addrs[1]))); err != nil {
		return nil, err
	}
	b := clickhouselocal.BinaryAt(o.Binary)
	p, err := StartProc("clickhouse", b.Path, b.CommandArgs(o.Dir), os.Environ(), o.Dir, filepath.Join(o.Dir, "stdout.log"))
	if err != nil {
		return nil, err
	}
	s := &ClickHouse{Proc: p, Addr: addrs[0], HTTPAddr: addrs[1], opts: o}
	if err := s.waitReady(ctx, o.ReadyWithin); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, err
	}
	conn, err := s.Open("default")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.QueryRow(ctx, "SELECT version()").Scan(&s.Version)
	return s, nil
}

// waitReady waits until the server answers, or fails with the end of its
// log.
func (s *ClickHouse) waitReady(ctx context.Context, within time.Duration) error {
	err := clickhouselocal.WaitReady(ctx, s.HTTPAddr, s.Addr, s.Exited(), within)
	switch {
	case errors.Is(err, clickhouselocal.ErrExited):
		return fmt.Errorf("%w (%v): %s", err, s.WaitErr(), s.ErrTail())
	case err != nil:
		return fmt.Errorf("%w: %s", err, s.ErrTail())
	}
	return nil
}

// ErrTail is the end of the server's error log, for error messages.
func (s *ClickHouse) ErrTail() string {
	for _, name := range []string{clickhouselocal.ServerErrLog, "stdout.log"} {
		if t, err := FileTail(filepath.Join(s.opts.Dir, name), 15); err == nil && t != "(empty)\n" {
			return strings.TrimSpace(t)
		}
	}
	return "(no server log)"
}

// Open connects to database over the native protocol (clickhouse-go's
// HTTP mode fails on 18.16).
func (s *ClickHouse) Open(database string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:     clickhouse.Native,
		Addr:         []string{s.Addr},
		Auth:         clickhouse.Auth{Database: database, Username: "default"},
		DialTimeout:  5 * time.Second,
		ReadTimeout:  s.opts.ReadTimeout,
		MaxOpenConns: s.opts.MaxOpenConns,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to clickhouse %s: %w", s.Addr, err)
	}
	return conn, nil
}

// QueryUint runs a query answering one unsigned number.
func QueryUint(ctx context.Context, conn driver.Conn, query string, args ...any) (uint64, error) {
	var v uint64
	if err := conn.QueryRow(ctx, query, args...).Scan(&v); err != nil {
		return 0, fmt.Errorf("%s: %w", query, err)
	}
	return v, nil
}
