package main

import (
	"context"
	"time"

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

// startClickHouse starts the run's server on dir (keeping data already
// there), sized by chConfig.
func startClickHouse(ctx context.Context, bin, dir string) (*benchrig.ClickHouse, error) {
	// A fresh data directory starts in seconds.
	return benchrig.StartClickHouse(ctx, benchrig.ClickHouseOptions{
		Binary: bin, Dir: dir, Config: chConfig,
		ReadyWithin: 60 * time.Second, ReadTimeout: time.Minute, MaxOpenConns: 4,
	})
}
