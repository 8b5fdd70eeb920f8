package clickhousetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Database creates a database no other test uses ("t_" and random hex, so
// that test binaries sharing one external server do not collide) and drops
// it when t ends.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random database name: %v", err)
	}
	name := "t_" + hex.EncodeToString(b[:])
	conn := s.Conn(t, "default")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if !s.Running() {
			return // an outage test stopped it; the directory goes with it
		}
		c, err := s.open("default")
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	return name
}

// Conn opens a native-protocol connection pool to database, closed when t
// ends.
func (s *Server) Conn(t testing.TB, database string) driver.Conn {
	t.Helper()
	conn, err := s.open(database)
	if err != nil {
		t.Fatalf("connect to clickhouse: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// Options returns the driver options that reach database on s: the
// native protocol (the driver's HTTP mode fails on 18.16), the default
// user, and timeouts short enough that a test stuck on a query fails in
// a minute rather than the driver's five.
func (s *Server) Options(database string) *clickhouse.Options {
	return &clickhouse.Options{
		Protocol:    clickhouse.Native,
		Addr:        []string{s.addr},
		Auth:        clickhouse.Auth{Database: database, Username: "default"},
		DialTimeout: 5 * time.Second,
		ReadTimeout: time.Minute,
	}
}

func (s *Server) open(database string) (driver.Conn, error) {
	conn, err := clickhouse.Open(s.Options(database))
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", s.addr, err)
	}
	return conn, nil
}
