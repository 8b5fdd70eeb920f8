// Command benchcluster measures a three-node Tollgate cluster sharing one
// Cassandra, in one run on one machine (make bench-cluster):
//
//   - propagation: how long a change written through node 1's Admin API
//     takes to be served by nodes 2 and 3 (create, update, delete);
//   - rate-limit accuracy: requests admitted per minute window against a
//     limit of N shared by the three nodes (policy "cluster"), with the load
//     spread evenly over the nodes and with all of it on node 1;
//   - Cassandra operations per proxied request during the even load;
//   - proxy throughput of node 1 with the cluster policy against the local
//     policy, alternated in the same run.
//
// It starts the in-memory CQL server (internal/cqlserver) in-process, or
// uses the Cassandra named by TOLLGATE_BENCH_CASSANDRA, migrates a fresh
// keyspace with `tollgate migrate cassandra up`, starts three `tollgate
// gateway` processes and an upstream, all on 127.0.0.1, and stops all of
// them and removes its temporary directory when it ends, Ctrl-C included.
// Progress goes to stderr, results to stdout, ending with a summary table.
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
	os.Exit(benchrig.Main("bench-cluster", os.Stderr, func() (benchrig.Bench, bool, error) {
		cfg, err := configFromEnv(os.Getenv)
		if err != nil {
			return nil, false, err
		}
		return newBench(cfg, os.Stdout, os.Stderr), cfg.strict, nil
	}))
}
