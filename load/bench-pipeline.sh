#!/usr/bin/env bash
# bench-pipeline.sh — the request-log pipeline, gateway to ClickHouse, in one run.
#
# Builds and runs load/cmd/benchpipeline, which starts ClickHouse
# (Debian's clickhouse-server, with a configuration of its own in a
# temporary directory) and, per phase, a Kafka-protocol broker (franz-go's
# kfake, in the benchmark process), a database migrated with `tollgate
# migrate clickhouse up` and a `tollgate collector` process, and prints:
#
#   throughput   BENCH_EVENTS synthetic records (10 services, 100
#                consumers, varied statuses, paths and sizes) pushed through
#                a logship.Sink (the gateway's sink, gateway defaults) as
#                fast as it takes them, until SELECT count() FROM requests
#                counts them all: events/s, CPU seconds per 100k events of
#                the collector, ClickHouse and the benchmark process (kfake
#                and the sink), and events per CPU-second of the collector
#                (target ≥ 500 000) and of collector + ClickHouse (target
#                ≥ 200 000); then checks count() and uniqExact(request_id)
#                are exactly BENCH_EVENTS
#   freshness    BENCH_RATE records/s for BENCH_DURATION, stamped with their
#                send time; one in BENCH_MARKER_EVERY is a marker that a
#                sampler looks for in ClickHouse every BENCH_POLL_INTERVAL:
#                delay from the sink to the first query returning it,
#                p50/p90/p99/max; target p99 ≤ 5 s
#   proxy        req/s of one `tollgate gateway` node (CQL from the
#                in-memory server, internal/cqlserver) in front of an
#                upstream answering 200 "ok", closed loop, request_log off
#                and on (shipping to kfake, collector loading ClickHouse)
#                alternated; target on/off ≥ 0.95; and the node's CPU per
#                request both ways
#
# then a summary table. Nothing is pinned: ClickHouse, the collector, the
# gateway, kfake, the sink, the upstream and the load generator share the
# machine's CPUs (2 on the build machines), so the per-core figures are
# events per CPU-second of each process, read from /proc/PID/stat, and the
# proxy ratio is a comparison within the run. It takes about two and a
# half minutes with the defaults.
#
# Run it with `make bench-pipeline` (which builds bin/tollgate first).
# Needs go and clickhouse-server (apt-get install -y clickhouse-server);
# uses wrk for the proxy runs when it is on PATH, else a fasthttp client in
# the benchmark process. Settings:
#   BENCH_PHASES=throughput,freshness,proxy  phases to run
#   BENCH_EVENTS=1000000       records of the throughput phase
#   BENCH_PARTITIONS=3         partitions of the request-log topic
#   BENCH_RATE=5000            records/s of the freshness phase
#   BENCH_DURATION=20          seconds the freshness phase sends
#   BENCH_MARKER_EVERY=50      one freshness record in this many is timed
#   BENCH_POLL_INTERVAL=50ms   pause between the freshness sampler's queries
#   BENCH_ROUNDS=3             off/on pairs of proxy runs
#   BENCH_PROXY_DURATION=10    seconds per proxy run
#   BENCH_WARMUP=2             seconds of warm-up before each proxy run
#   BENCH_CONNECTIONS=50       keep-alive connections of the proxy runs
#   BENCH_PROXY_LOADING=1      let the collector load ClickHouse during the proxy
#                              runs (default: it is paused, SIGSTOP, and catches up
#                              after: in a deployment collectors and ClickHouse run
#                              on other machines than the gateways)
#   BENCH_STRICT=1             exit with status 3 when a target is missed
#   TOLLGATE_COLLECTOR_BATCH_ROWS=50000, TOLLGATE_COLLECTOR_BATCH_TIME=1s
#                              passed to the collectors
#   BENCH_CLICKHOUSE_SERVER=   the server binary (default: clickhouse-server
#                              or clickhouse in PATH, /usr/sbin, /usr/bin)
#   TOLLGATE_BIN=bin/tollgate
# Everything listens on 127.0.0.1 only, on ports the kernel picks; every
# process it starts is stopped and its temporary directories removed on
# exit, Ctrl-C included.
set -euo pipefail

. "$(dirname "$0")/bench-common.sh"
bench_run bench-pipeline ./load/cmd/benchpipeline
