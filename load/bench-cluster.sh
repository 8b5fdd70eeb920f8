#!/usr/bin/env bash
# bench-cluster.sh — three Tollgate gateway nodes sharing one Cassandra, in one run.
#
# Builds and runs load/cmd/benchcluster, which starts the in-memory CQL
# server (internal/cqlserver) in its own process, migrates a fresh keyspace
# with `tollgate migrate cassandra up`, starts three `tollgate gateway`
# nodes and an upstream answering 200 "ok", and prints:
#
#   propagation   delay from a write through node 1's Admin API to the first
#                 request served accordingly by nodes 2 and 3, p50/p90/p99/max
#                 per kind of change (create, update, delete) and overall;
#                 target p99 under 1 s
#   accuracy      requests admitted per whole minute window by a rate limit
#                 of N per minute (policy cluster) shared by the three nodes,
#                 as admitted/N: load spread evenly over the nodes (target
#                 N … 1.01·N), then all of it on node 1 (N … 1.05·N). Requests
#                 go out from second 0.2 to 59.5 of each minute, open loop,
#                 after 5.5 s of the same load at the end of the minute before
#   ops           Cassandra operations per proxied request during the even
#                 load: all of the CQL server's (config polling and
#                 heartbeats included) and the rate limit's own, from the
#                 nodes' /metrics; target ≤ 0.01
#   throughput    req/s of node 1, closed loop, with the rate-limiting plugin
#                 on policy local and on policy cluster (limit far above the
#                 load), alternated; target cluster/local ≥ 0.95
#
# then a summary table. Nothing is pinned: the nodes, the generator, the
# upstream and the CQL server share the machine's CPUs (2 on the build
# machines), so throughput is a comparison within the run, not a figure.
# Next to each load it prints the CPU the nodes, the benchmark process and
# other processes used: numbers taken while something else was busy are
# not worth keeping. It takes about five minutes: the rate-limit windows
# wait for whole minutes of the clock.
#
# Run it with `make bench-cluster` (which builds bin/tollgate first). Needs
# go; uses wrk for the throughput runs when it is on PATH (apt-get install
# -y wrk), else a fasthttp client in the benchmark process. Settings:
#   BENCH_PHASES=propagation,accuracy,throughput  phases to run
#   BENCH_CHANGES=200          propagation changes
#   BENCH_POLL_INTERVAL=1ms    pause between polls of nodes 2 and 3
#   BENCH_LIMIT=1000           N, the shared limit per minute
#   BENCH_RL_RATE=1667         req/s per node under even load (skewed: 3× on node 1)
#   BENCH_WINDOWS=1            measured minute windows per load pattern
#   BENCH_RL_CONNECTIONS=32    keep-alive connections per node for that load
#   BENCH_CONNECTIONS=50       keep-alive connections of the throughput runs
#   BENCH_DURATION=10          seconds per throughput run
#   BENCH_WARMUP=2             seconds of warm-up per throughput route
#   BENCH_ROUNDS=2             local/cluster pairs of throughput runs
#   BENCH_STRICT=1             exit with status 3 when a target is missed
#   TOLLGATE_DB_UPDATE_FREQUENCY=100ms, TOLLGATE_RATELIMIT_SYNC_INTERVAL=100ms
#                              the nodes' config poll and rate-limit sync intervals
#   TOLLGATE_BENCH_CASSANDRA=host:port  a real Cassandra instead of the
#                              in-memory server (then operations come from the
#                              nodes' metrics only)
#   TOLLGATE_BIN=bin/tollgate
# Everything listens on 127.0.0.1 only, on ports the kernel picks; every
# process it starts is stopped and its temporary directories removed on
# exit, Ctrl-C included.
set -euo pipefail

. "$(dirname "$0")/bench-common.sh"
bench_run bench-cluster ./load/cmd/benchcluster
