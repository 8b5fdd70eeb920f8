package main

import (
	"context"
	"time"

	"github.com/ClickHouse/ch-go"

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

// startClickHouse starts the run's server on dir (keeping data already
// there), sized by chConfig.
func startClickHouse(ctx context.Context, bin, dir string) (*benchrig.ClickHouse, error) {
	// Loading the tables of a large data directory takes a while, and a
	// migration's fill of a new table from 100 million stored requests
	// sends nothing back for many minutes.
	return benchrig.StartClickHouse(ctx, benchrig.ClickHouseOptions{
		Binary: bin, Dir: dir, Config: chConfig,
		ReadyWithin: 5 * time.Minute, ReadTimeout: 24 * time.Hour, MaxOpenConns: 8,
	})
}

// insertOptions are the collector's options for its insert connection
// (collector.Config.insertOptions): LZ4 blocks over a ch-go connection.
func insertOptions(s *benchrig.ClickHouse) ch.Options {
	return ch.Options{
		Address:     s.Addr,
		Database:    database,
		User:        "default",
		Compression: ch.CompressionLZ4,
		ClientName:  "tollgate-bench-analytics",
		DialTimeout: 5 * time.Second,
		ReadTimeout: 5 * time.Minute,
	}
}
