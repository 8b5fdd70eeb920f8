package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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
//	BENCH_STRICT=0                     1: exit 3 when a target is missed
//
// Durations are Go durations or whole seconds.
func configFromEnv(getenv func(string) string) (config, error) {
	var c config
	var errs []error
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	num := func(name string, def, lo, hi int) int {
		v := str(name, "")
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number from %d to %d", name, v, lo, hi))
			return def
		}
		return n
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := str(name, "")
		if v == "" {
			return def
		}
		d, err := parseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			return def
		}
		return d
	}

	c.bin = str("TOLLGATE_BIN", "bin/tollgate")
	// The children run in the temporary directory: name the binary by its
	// absolute path.
	if abs, err := filepath.Abs(c.bin); err == nil {
		c.bin = abs
	}
	c.clickhouse = str("BENCH_CLICKHOUSE_SERVER", "")

	c.phases = map[string]bool{}
	for _, p := range strings.Split(str("BENCH_PHASES", "throughput,freshness,proxy"), ",") {
		switch p = strings.TrimSpace(p); p {
		case phaseThroughput, phaseFreshness, phaseProxy:
			c.phases[p] = true
		case "":
		default:
			errs = append(errs, fmt.Errorf("BENCH_PHASES: unknown phase %q: want throughput, freshness, proxy", p))
		}
	}
	if len(c.phases) == 0 {
		errs = append(errs, errors.New("BENCH_PHASES: no phase to run"))
	}

	// The bounds keep a typo from asking for a run that does not end:
	// kfake holds every record in this process's memory.
	c.events = num("BENCH_EVENTS", 1_000_000, 1000, 20_000_000)
	c.partitions = num("BENCH_PARTITIONS", 3, 1, 64)
	c.rate = num("BENCH_RATE", 5000, 1, 200_000)
	c.duration = dur("BENCH_DURATION", 20*time.Second)
	c.markerEvery = num("BENCH_MARKER_EVERY", 50, 1, 1_000_000)
	c.pollEvery = dur("BENCH_POLL_INTERVAL", 50*time.Millisecond)
	c.rounds = num("BENCH_ROUNDS", 3, 1, 20)
	c.proxyDuration = dur("BENCH_PROXY_DURATION", 10*time.Second)
	c.warmup = dur("BENCH_WARMUP", 2*time.Second)
	c.connections = num("BENCH_CONNECTIONS", 50, 1, 1000)

	switch v := str("BENCH_STRICT", "0"); v {
	case "0":
	case "1":
		c.strict = true
	default:
		errs = append(errs, fmt.Errorf("BENCH_STRICT=%q: want 0 or 1", v))
	}
	if c.duration <= 0 || c.duration > 10*time.Minute {
		errs = append(errs, errors.New("BENCH_DURATION: must be positive and at most 10m"))
	}
	if c.proxyDuration <= 0 || c.proxyDuration > 10*time.Minute {
		errs = append(errs, errors.New("BENCH_PROXY_DURATION: must be positive and at most 10m"))
	}
	if c.pollEvery <= 0 {
		errs = append(errs, errors.New("BENCH_POLL_INTERVAL: must be positive"))
	}
	// Every phase loads into ClickHouse: the proxy phase runs the
	// collector while the gateway logs.
	if c.clickhouse == "" {
		p, err := findClickHouse()
		if err != nil {
			errs = append(errs, err)
		}
		c.clickhouse = p
	}
	return c, errors.Join(errs...)
}

// findClickHouse looks for Debian's clickhouse-server (18.16 ships it as a
// program of its own) and then for the single clickhouse binary of later
// releases ("clickhouse server"), in PATH and in the directories packages
// install to, which a user's PATH often lacks (/usr/sbin).
func findClickHouse() (string, error) {
	for _, name := range []string{"clickhouse-server", "clickhouse"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"} {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", errors.New("clickhouse-server not found: apt-get install -y clickhouse-server, or set BENCH_CLICKHOUSE_SERVER")
}

// parseDuration reads a Go duration ("10s") or a whole number of seconds
// ("10").
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, errors.New("must not be negative")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("want a duration such as 10s or a whole number of seconds")
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}
