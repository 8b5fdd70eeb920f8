package main

import (
	"errors"
	"time"

	"github.com/tollgate/tollgate/load/benchrig"
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
	env := benchrig.NewSettings(getenv)

	c.bin = env.String("TOLLGATE_BIN", "bin/tollgate")
	c.cassandra = env.String("TOLLGATE_BENCH_CASSANDRA", "")
	c.dbUpdateFrequency = env.String("TOLLGATE_DB_UPDATE_FREQUENCY", "100ms")
	c.syncInterval = env.String("TOLLGATE_RATELIMIT_SYNC_INTERVAL", "100ms")

	c.phases = env.Phases("BENCH_PHASES", "propagation,accuracy,throughput", phasePropagation, phaseAccuracy, phaseThroughput)

	c.changes = env.Int("BENCH_CHANGES", 200, 1)
	c.pollEvery = env.Duration("BENCH_POLL_INTERVAL", time.Millisecond)
	c.changeWithin = env.Duration("BENCH_CHANGE_TIMEOUT", 10*time.Second)

	c.limit = env.Int("BENCH_LIMIT", 1000, 1)
	c.rlRate = float64(env.Int("BENCH_RL_RATE", 1667, 1))
	c.windows = env.Int("BENCH_WINDOWS", 1, 1)
	c.rlConns = env.Int("BENCH_RL_CONNECTIONS", 32, 1)

	c.connections = env.Int("BENCH_CONNECTIONS", 50, 1)
	c.duration = env.Duration("BENCH_DURATION", 10*time.Second)
	c.warmup = env.Duration("BENCH_WARMUP", 2*time.Second)
	c.rounds = env.Int("BENCH_ROUNDS", 2, 1)

	c.strict = env.Flag("BENCH_STRICT")
	if c.duration <= 0 {
		env.Fail(errors.New("BENCH_DURATION: must be positive"))
	}
	if c.changeWithin <= 0 {
		env.Fail(errors.New("BENCH_CHANGE_TIMEOUT: must be positive"))
	}
	return c, env.Err()
}
