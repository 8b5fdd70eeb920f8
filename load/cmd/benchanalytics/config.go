package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/tollgate/tollgate/internal/clickhouselocal"
	"github.com/tollgate/tollgate/load/benchrig"
)

// config holds the run's settings, read from the environment.
type config struct {
	clickhouse string // BENCH_CLICKHOUSE_SERVER: the clickhouse-server binary

	rows      int64  // BENCH_ROWS: requests seeded
	days      int    // BENCH_DAYS: the window they are spread over, ending now
	batch     int    // BENCH_BATCH: rows per INSERT
	seed      uint64 // BENCH_SEED: what the traffic is made from
	inserters int    // BENCH_INSERTERS: INSERTs in flight

	reuse   bool          // BENCH_REUSE=1: keep the data in dataDir and reuse it
	dataDir string        // BENCH_DATA_DIR: where, with BENCH_REUSE=1
	settle  time.Duration // BENCH_SETTLE: longest wait for background merges after seeding

	reps    int            // BENCH_REPS: timed requests per case
	budget  time.Duration  // BENCH_CASE_BUDGET: time after which a case stops at minReps
	warmups int            // BENCH_WARMUPS: untimed requests per case first
	only    *regexp.Regexp // BENCH_CASES: the cases timed, by "name range"; nil: all
	profile string         // BENCH_CPUPROFILE: where the API's CPU profile goes
	cache   string         // BENCH_CACHE: warm, cold or off (see configFromEnv)
	now     time.Time      // BENCH_NOW: what the API's clock reads when the cases start; zero: the data's end

	strict bool // BENCH_STRICT=1
}

// configFromEnv reads the settings; every one has a default:
//
//	BENCH_CLICKHOUSE_SERVER=       clickhouse-server (or clickhouse) in PATH, /usr/sbin, /usr/bin
//	BENCH_ROWS=10000000            requests seeded (100000000 is the targets' size)
//	BENCH_DAYS=30                  days they are spread over, ending now
//	BENCH_BATCH=100000             rows per INSERT
//	BENCH_SEED=1                   the seed of the generated traffic
//	BENCH_INSERTERS=2              INSERTs in flight while seeding
//	BENCH_REUSE=0                  1: keep ClickHouse's data in BENCH_DATA_DIR and, when it
//	                               already holds the same rows, skip seeding
//	BENCH_DATA_DIR=bin/bench-analytics
//	BENCH_SETTLE=3m                longest wait for background merges after seeding
//	BENCH_REPS=50                  timed requests per case
//	BENCH_WARMUPS=3                untimed requests per case before them
//	BENCH_CASE_BUDGET=30s          a case that has taken this long stops once it has
//	                               10 timed requests (a month of raw rows takes seconds
//	                               a request here); 0: always BENCH_REPS
//	BENCH_CASES=                   a regular expression: only the cases whose name and
//	                               range, as the table shows them ("breakdown
//	                               group_by=consumer 30d"), match it are timed
//	BENCH_CPUPROFILE=              a file: the benchmark process (the API, its store and
//	                               the client) is profiled while the cases are timed,
//	                               for go tool pprof
//	BENCH_CACHE=warm               the store's rollup statements ask for ClickHouse's cache of
//	                               uncompressed blocks: warm leaves it between requests,
//	                               as a dashboard repeating its requests finds it; cold
//	                               empties it before every timed request and baseline;
//	                               off sends the statements without asking for it
//	BENCH_NOW=                     an RFC 3339 time inside the seeded window: the API's
//	                               clock reads it when the cases start, so that the
//	                               ranges end there (default: where the data ends). Data
//	                               seeded early in a UTC day has that day's few records
//	                               in small parts; a time late in a whole day measures
//	                               the last hour of a day as settled parts hold it
//	BENCH_STRICT=0                 1: exit 3 when a target is missed
//
// Durations are Go durations or whole seconds.
func configFromEnv(getenv func(string) string) (config, error) {
	var c config
	env := benchrig.NewSettings(getenv)
	c.clickhouse = env.String("BENCH_CLICKHOUSE_SERVER", "")
	c.rows = int64(env.IntIn("BENCH_ROWS", 10_000_000, 10_000, 2_000_000_000))
	c.days = env.IntIn("BENCH_DAYS", 30, 2, 400)
	c.batch = env.IntIn("BENCH_BATCH", 100_000, 1000, 2_000_000)
	c.seed = uint64(env.Int("BENCH_SEED", 1, 0))
	c.inserters = env.IntIn("BENCH_INSERTERS", 2, 1, 16)
	c.reuse = env.Flag("BENCH_REUSE")
	c.dataDir = env.String("BENCH_DATA_DIR", "bin/bench-analytics")
	if abs, err := filepath.Abs(c.dataDir); err == nil {
		c.dataDir = abs
	}
	c.settle = env.Duration("BENCH_SETTLE", 3*time.Minute)
	c.reps = env.IntIn("BENCH_REPS", 50, 1, 100_000)
	c.warmups = env.IntIn("BENCH_WARMUPS", 3, 0, 1000)
	c.budget = env.Duration("BENCH_CASE_BUDGET", 30*time.Second)
	c.strict = env.Flag("BENCH_STRICT")
	c.cache = env.String("BENCH_CACHE", "warm")
	if !slices.Contains([]string{"warm", "cold", "off"}, c.cache) {
		env.Fail(fmt.Errorf("BENCH_CACHE=%s: want warm, cold or off", c.cache))
	}
	if v := env.String("BENCH_NOW", ""); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			env.Fail(fmt.Errorf("BENCH_NOW=%s: want an RFC 3339 time such as 2026-12-05T20:00:00Z", v))
		}
		c.now = t
	}
	c.profile = env.String("BENCH_CPUPROFILE", "")
	if expr := env.String("BENCH_CASES", ""); expr != "" {
		re, err := regexp.Compile(expr)
		if err != nil {
			env.Fail(fmt.Errorf("BENCH_CASES: %w", err))
		}
		c.only = re
		if len(selected(cases("", ""), re)) == 0 {
			env.Fail(fmt.Errorf("BENCH_CASES=%s matches no case; cases are named as in the results table, with their range: \"breakdown group_by=consumer 30d\"", expr))
		}
	}
	if c.clickhouse == "" {
		b, err := clickhouselocal.FindBinary()
		if err != nil {
			env.Fail(fmt.Errorf("%w, or set BENCH_CLICKHOUSE_SERVER", err))
		}
		c.clickhouse = b.Path
	}
	return c, env.Err()
}
