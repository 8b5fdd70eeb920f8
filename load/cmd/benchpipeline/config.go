package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tollgate/tollgate/internal/clickhouselocal"
	"github.com/tollgate/tollgate/load/benchrig"
)

// config holds the run's settings, read from the environment.
type config struct {
	bin        string // TOLLGATE_BIN: the tollgate binary
	clickhouse string // BENCH_CLICKHOUSE_SERVER: the clickhouse-server binary

	phases map[string]bool // BENCH_PHASES

	events     int // BENCH_EVENTS: records pushed by the throughput phase
	partitions int // BENCH_PARTITIONS: partitions of the request-log topic

	rate        int           // BENCH_RATE: records/s of the freshness phase
	duration    time.Duration // BENCH_DURATION: how long the freshness phase sends
	markerEvery int           // BENCH_MARKER_EVERY: one marker record in this many
	pollEvery   time.Duration // BENCH_POLL_INTERVAL: the freshness sampler's pause between queries

	rounds        int           // BENCH_ROUNDS: off/on pairs of proxy runs
	proxyDuration time.Duration // BENCH_PROXY_DURATION: each proxy run
	warmup        time.Duration // BENCH_WARMUP: warm-up before each proxy run
	connections   int           // BENCH_CONNECTIONS: keep-alive connections of the proxy runs
	proxyLoading  bool          // BENCH_PROXY_LOADING=1: the collector loads during proxy runs

	strict bool // BENCH_STRICT=1
}

// Phase names for BENCH_PHASES.
const (
	phaseThroughput = "throughput"
	phaseFreshness  = "freshness"
	phaseProxy      = "proxy"
)

// configFromEnv reads the settings; every one has a default:
//
//	TOLLGATE_BIN=bin/tollgate
//	BENCH_CLICKHOUSE_SERVER=           clickhouse-server (or clickhouse) in PATH, /usr/sbin, /usr/bin
//	BENCH_PHASES=throughput,freshness,proxy
//	BENCH_EVENTS=1000000               records pushed through the pipeline by the throughput phase
//	BENCH_PARTITIONS=3                 partitions of the request-log topic
//	BENCH_RATE=5000                    records/s sent by the freshness phase
//	BENCH_DURATION=20s                 how long the freshness phase sends
//	BENCH_MARKER_EVERY=50              one record in this many is a marker whose arrival is timed
//	BENCH_POLL_INTERVAL=50ms           pause between the freshness sampler's queries
//	BENCH_ROUNDS=3                     off/on pairs of proxy runs
//	BENCH_PROXY_DURATION=10s           each proxy run
//	BENCH_WARMUP=2s                    warm-up before each proxy run
//	BENCH_CONNECTIONS=50               keep-alive connections of the proxy runs
//	BENCH_PROXY_LOADING=0              1: the collector loads ClickHouse during the proxy runs
//	                                   (default: paused, as collectors and ClickHouse run on
//	                                   other machines than gateways; it catches up after)
//	BENCH_STRICT=0                     1: exit 3 when a target is missed
//
// Durations are Go durations or whole seconds.
func configFromEnv(getenv func(string) string) (config, error) {
	var c config
	env := benchrig.NewSettings(getenv)

	c.bin = env.String("TOLLGATE_BIN", "bin/tollgate")
	// The children run in the temporary directory: name the binary by its
	// absolute path.
	if abs, err := filepath.Abs(c.bin); err == nil {
		c.bin = abs
	}
	c.clickhouse = env.String("BENCH_CLICKHOUSE_SERVER", "")

	c.phases = env.Phases("BENCH_PHASES", "throughput,freshness,proxy", phaseThroughput, phaseFreshness, phaseProxy)

	// The bounds keep a typo from asking for a run that does not end:
	// kfake holds every record in this process's memory.
	c.events = env.IntIn("BENCH_EVENTS", 1_000_000, 1000, 20_000_000)
	c.partitions = env.IntIn("BENCH_PARTITIONS", 3, 1, 64)
	c.rate = env.IntIn("BENCH_RATE", 5000, 1, 200_000)
	c.duration = env.Duration("BENCH_DURATION", 20*time.Second)
	c.markerEvery = env.IntIn("BENCH_MARKER_EVERY", 50, 1, 1_000_000)
	c.pollEvery = env.Duration("BENCH_POLL_INTERVAL", 50*time.Millisecond)
	c.rounds = env.IntIn("BENCH_ROUNDS", 3, 1, 20)
	c.proxyDuration = env.Duration("BENCH_PROXY_DURATION", 10*time.Second)
	c.warmup = env.Duration("BENCH_WARMUP", 2*time.Second)
	c.connections = env.IntIn("BENCH_CONNECTIONS", 50, 1, 1000)
	c.proxyLoading = env.Flag("BENCH_PROXY_LOADING")

	c.strict = env.Flag("BENCH_STRICT")
	if c.duration <= 0 || c.duration > 10*time.Minute {
		env.Fail(errors.New("BENCH_DURATION: must be positive and at most 10m"))
	}
	if c.proxyDuration <= 0 || c.proxyDuration > 10*time.Minute {
		env.Fail(errors.New("BENCH_PROXY_DURATION: must be positive and at most 10m"))
	}
	if c.pollEvery <= 0 {
		env.Fail(errors.New("BENCH_POLL_INTERVAL: must be positive"))
	}
	// Every phase loads into ClickHouse: the proxy phase runs the
	// collector while the gateway logs.
	if c.clickhouse == "" {
		p, err := findClickHouse()
		env.Fail(err)
		c.clickhouse = p
	}
	return c, env.Err()
}

// findClickHouse looks for Debian's clickhouse-server and then for the
// single clickhouse binary of later releases.
func findClickHouse() (string, error) {
	b, err := clickhouselocal.FindBinary()
	if err != nil {
		return "", fmt.Errorf("%w, or set BENCH_CLICKHOUSE_SERVER", err)
	}
	return b.Path, nil
}
