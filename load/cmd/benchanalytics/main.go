// Command benchanalytics measures the analytics HTTP API over a month of
// request logs in ClickHouse, in one run on one machine (make
// bench-analytics):
//
//   - it starts ClickHouse (Debian's clickhouse-server, with a
//     configuration of its own) and migrates a database with
//     schema/clickhouse;
//   - it seeds BENCH_ROWS requests over the last BENCH_DAYS days, shaped
//     like an API marketplace's traffic (a few workspaces, services,
//     routes and consumers with skewed shares, a daily curve, a status
//     mix with the gateway's error classes, log-normal latencies),
//     through the collector's insert path (collector.Rows and
//     collector.Loader.Insert), so that the rollups and usage views fill
//     as in production; BENCH_REUSE=1 keeps the data for the next run;
//   - it serves the analytics API (analytics/api over
//     analytics/query/clickhouse) on a loopback port and times every
//     endpoint, over the last 30 days and the last hour, as a workspace
//     token and as the admin, with the table each one read and, for the
//     series and top-N, the same statements sent straight to ClickHouse;
//   - it prints what the tables hold.
//
// Progress goes to stderr, results to stdout, ending with a summary
// table. Settings are environment variables (see configFromEnv); the exit
// status is 0 when the run completed, whether or not targets were met, 3
// when BENCH_STRICT=1 and a target was missed, 1 when the run failed, 2
// for bad settings and 130 when interrupted.
package main

import (
	"os"

	"github.com/tollgate/tollgate/load/benchrig"
)

func main() {
	os.Exit(benchrig.Main("bench-analytics", os.Stderr, func() (benchrig.Bench, bool, error) {
		cfg, err := configFromEnv(os.Getenv)
		if err != nil {
			return nil, false, err
		}
		return newBench(cfg, os.Stdout, os.Stderr), cfg.strict, nil
	}))
}
