package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// config holds the run's settings, read from the environment.
type config struct {
	bin       string // TOLLGATE_BIN: the tollgate binary
	cassandra string // TOLLGATE_BENCH_CASSANDRA: host:port of a real Cassandra; empty starts the in-memory server

	dbUpdateFrequency string // TOLLGATE_DB_UPDATE_FREQUENCY, passed to the nodes
	syncInterval      string // TOLLGATE_RATELIMIT_SYNC_INTERVAL, passed to the nodes

	phases map[string]bool // BENCH_PHASES

	changes      int           // BENCH_CHANGES: propagation changes
	pollEvery    time.Duration // BENCH_POLL_INTERVAL: pause between polls of nodes 2 and 3
	changeWithin time.Duration // BENCH_CHANGE_TIMEOUT: a change not served by then is counted as lost

	limit       int     // BENCH_LIMIT: N requests per minute
	rlRate      float64 // BENCH_RL_RATE: requests/s per loaded node
	windows     int     // BENCH_WINDOWS: minute windows per load pattern
	rlConns     int     // BENCH_RL_CONNECTIONS: keep-alive connections per node
	rlWarmup    time.Duration
	rlFrom      time.Duration // offset in the minute where sending starts
	rlUntil     time.Duration // offset in the minute where sending stops
	connections int           // BENCH_CONNECTIONS: throughput connections
	duration    time.Duration // BENCH_DURATION: each throughput run
	warmup      time.Duration // BENCH_WARMUP: throughput warm-up per route
	rounds      int           // BENCH_ROUNDS: local/cluster pairs

	strict bool // BENCH_STRICT=1
}

// Phase names for BENCH_PHASES.
const (
	phasePropagation = "propagation"
	phaseAccuracy    = "accuracy"
	phaseThroughput  = "throughput"
)

// configFromEnv reads the settings; every one has a default:
//
//	TOLLGATE_BIN=bin/tollgate
//	TOLLGATE_BENCH_CASSANDRA=          host:port of a real Cassandra instead of the in-memory server
//	TOLLGATE_DB_UPDATE_FREQUENCY=100ms the nodes' config poll interval
//	TOLLGATE_RATELIMIT_SYNC_INTERVAL=100ms the nodes' rate-limit sync interval
//	BENCH_PHASES=propagation,accuracy,throughput
//	BENCH_CHANGES=200                  propagation changes (create, update, delete in turn)
//	BENCH_POLL_INTERVAL=1ms            pause between polls of nodes 2 and 3
//	BENCH_CHANGE_TIMEOUT=10s           a change not served within this is counted as lost
//	BENCH_LIMIT=1000                   N, the shared limit per minute
//	BENCH_RL_RATE=1667                 requests/s sent to each loaded node
//	BENCH_WINDOWS=1                    measured minute windows per load pattern
//	BENCH_RL_CONNECTIONS=32            keep-alive connections per node for the rate-limit load
//	BENCH_CONNECTIONS=50               keep-alive connections of the throughput runs
//	BENCH_DURATION=10s                 each throughput run
//	BENCH_WARMUP=2s                    throughput warm-up per route
//	BENCH_ROUNDS=2                     local/cluster pairs of throughput runs
//	BENCH_STRICT=0                     1: exit 3 when a target is missed
//
// Durations are Go durations or whole seconds.
func configFromEnv(getenv func(string) string) (config, error) {
	c := config{
		rlWarmup: 5500 * time.Millisecond,
		rlFrom:   200 * time.Millisecond,
		rlUntil:  59500 * time.Millisecond,
	}
	var errs []error
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	num := func(name string, def, lo int) int {
		v := str(name, "")
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number ≥ %d", name, v, lo))
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
	c.cassandra = str("TOLLGATE_BENCH_CASSANDRA", "")
	c.dbUpdateFrequency = str("TOLLGATE_DB_UPDATE_FREQUENCY", "100ms")
	c.syncInterval = str("TOLLGATE_RATELIMIT_SYNC_INTERVAL", "100ms")

	c.phases = map[string]bool{}
	for _, p := range strings.Split(str("BENCH_PHASES", "propagation,accuracy,throughput"), ",") {
		switch p = strings.TrimSpace(p); p {
		case phasePropagation, phaseAccuracy, phaseThroughput:
			c.phases[p] = true
		case "":
		default:
			errs = append(errs, fmt.Errorf("BENCH_PHASES: unknown phase %q: want propagation, accuracy, throughput", p))
		}
	}
	if len(c.phases) == 0 {
		errs = append(errs, errors.New("BENCH_PHASES: no phase to run"))
	}

	c.changes = num("BENCH_CHANGES", 200, 1)
	c.pollEvery = dur("BENCH_POLL_INTERVAL", time.Millisecond)
	c.changeWithin = dur("BENCH_CHANGE_TIMEOUT", 10*time.Second)

	c.limit = num("BENCH_LIMIT", 1000, 1)
	c.rlRate = float64(num("BENCH_RL_RATE", 1667, 1))
	c.windows = num("BENCH_WINDOWS", 1, 1)
	c.rlConns = num("BENCH_RL_CONNECTIONS", 32, 1)

	c.connections = num("BENCH_CONNECTIONS", 50, 1)
	c.duration = dur("BENCH_DURATION", 10*time.Second)
	c.warmup = dur("BENCH_WARMUP", 2*time.Second)
	c.rounds = num("BENCH_ROUNDS", 2, 1)

	switch v := str("BENCH_STRICT", "0"); v {
	case "0":
	case "1":
		c.strict = true
	default:
		errs = append(errs, fmt.Errorf("BENCH_STRICT=%q: want 0 or 1", v))
	}
	if c.duration <= 0 {
		errs = append(errs, errors.New("BENCH_DURATION: must be positive"))
	}
	if c.changeWithin <= 0 {
		errs = append(errs, errors.New("BENCH_CHANGE_TIMEOUT: must be positive"))
	}
	return c, errors.Join(errs...)
}

// parseDuration reads a Go duration ("10s") or a whole number of seconds
// ("10"), as bench-proxy.sh's settings are written.
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
