// Command benchpipeline measures the request-log pipeline of a Tollgate
// cluster, from a gateway's log sink through Kafka and the collector into
// ClickHouse, in one run on one machine (make bench-pipeline):
//
//   - throughput: records pushed through a logship.Sink as fast as it
//     takes them, until ClickHouse holds all of them, with the CPU time the
//     collector, ClickHouse and this program spent per record;
//   - freshness: at a steady rate, how long a record takes from the sink to
//     a query's answer;
//   - proxy: requests per second of one `tollgate gateway` node with the
//     request log on (shipping to Kafka, collector running) and off,
//     alternated.
//
// It starts a Kafka-protocol broker (franz-go's kfake) and, for the proxy
// phase, the in-memory CQL server (internal/cqlserver) in-process, and
// runs ClickHouse (Debian's clickhouse-server, with a configuration of its
// own in a temporary directory), `tollgate collector` and `tollgate
// gateway` as processes of their own, all on 127.0.0.1 on ports the kernel
// picks, so that each one's CPU time can be read from /proc. It stops all
// of them and removes its temporary directory when it ends, Ctrl-C
// included. Progress goes to stderr, results to stdout, ending with a
// summary table.
//
// Settings are environment variables (see configFromEnv); the exit status
// is 0 when the run completed, whether or not targets were met, 3 when
// BENCH_STRICT=1 and a target was missed, 1 when the run failed, 2 for bad
// settings and 130 when interrupted.
package main

import (
	"os"

	"github.com/tollgate/tollgate/load/benchrig"
)

func main() {
	os.Exit(benchrig.Main("bench-pipeline", os.Stderr, func() (benchrig.Bench, bool, error) {
		cfg, err := configFromEnv(os.Getenv)
		if err != nil {
			return nil, false, err
		}
		return newBench(cfg, os.Stdout, os.Stderr), cfg.strict, nil
	}))
}
