#!/usr/bin/env bash
# bench-analytics.sh — the analytics HTTP API over a month of request logs.
#
# Builds and runs load/cmd/benchanalytics, which starts ClickHouse
# (Debian's clickhouse-server, with a configuration of its own), migrates
# a database with schema/clickhouse, and then:
#
#   seed      BENCH_ROWS requests over the last BENCH_DAYS days: 5
#             workspaces (the busiest with 45 % of the traffic), 50
#             services, about 300 routes, 5,000 consumers with Zipf-like
#             shares, a daily curve with weekends quieter, mostly 2xx with
#             4xx and 5xx and the gateway's error classes, log-normal
#             latencies, sizes and billing; inserted through the
#             collector's insert path (collector.Loader.Insert of
#             collector.Rows built from logrecord.Records) in batches of
#             BENCH_BATCH, so the minute and hour rollups and the usage
#             table fill as in production: rows seeded, rows/s and ETA as
#             it goes, seed time and rate at the end
#   measure   the analytics API (analytics/api over
#             analytics/query/clickhouse) on 127.0.0.1, timed over HTTP
#             with a workspace token for the busiest workspace (and the
#             admin token for one series over every workspace), for
#             range=30d and range=1h: series (auto bucket, a service,
#             the busiest consumer, gateway latency), breakdown by
#             service, route, consumer,
#             status, status class and error class, top routes and
#             consumers by requests and by p95, recent requests and usage
#             per day; BENCH_WARMUPS untimed then BENCH_REPS timed
#             requests each: p50/p95/p99 ms, the table the statements read,
#             and for the series and top cases the same statements sent
#             straight to ClickHouse with clickhouse-go (what the API
#             adds); targets p95 ≤ 100 ms over 30 days and ≤ 50 ms over
#             the last hour (stated at 100 million rows)
#   counts    rows in requests and in each rollup, the requests they
#             count, parts and size on disk; ClickHouse version and cores
#
# then a summary table. Nothing is pinned: ClickHouse, the API and the
# client share the machine's CPUs. With the defaults (10 million rows) it
# takes about 15 minutes on 2 cores: seeding 2½ to 6½ minutes (25,000 to
# 70,000 rows/s, depending on what else runs), the 30-day cases about 30 s
# each (BENCH_CASE_BUDGET), and 2 GB of disk. 100 million rows
# (BENCH_ROWS=100000000) take ten times as long to seed and about 20 GB.
#
# Run it with `make bench-analytics`. Needs go and clickhouse-server
# (apt-get install -y clickhouse-server). Settings:
#   BENCH_ROWS=10000000        requests seeded
#   BENCH_DAYS=30              days they are spread over, ending now
#   BENCH_BATCH=100000         rows per INSERT
#   BENCH_INSERTERS=2          INSERTs in flight while seeding
#   BENCH_SEED=1               the seed of the generated traffic
#   BENCH_REUSE=1              keep ClickHouse's data in BENCH_DATA_DIR and
#                              skip seeding when it holds the same rows
#                              (BENCH_ROWS, BENCH_DAYS, BENCH_SEED); the
#                              window then ends when it was seeded, so the
#                              last-hour cases of a later run read less
#   BENCH_DATA_DIR=bin/bench-analytics
#   BENCH_SETTLE=3m            longest wait for background merges after seeding
#   BENCH_REPS=50              timed requests per case
#   BENCH_WARMUPS=3            untimed requests per case before them
#   BENCH_CASE_BUDGET=30s      a case that has taken this long stops at 10
#                              timed requests (0: always BENCH_REPS)
#   BENCH_CACHE=warm           the store's rollup statements ask ClickHouse for
#                              its cache of uncompressed blocks: warm leaves it
#                              between requests, as a dashboard's refreshes find
#                              it; cold empties it before every timed request;
#                              off sends the statements without asking for it
#   BENCH_NOW=                 an RFC 3339 time within the seeded window where
#                              the measured ranges end (default: the data's end);
#                              data seeded early in a UTC day holds that day's
#                              last hour in small parts, so for the last hour of a
#                              whole day give a time late in the day before
#   BENCH_STRICT=1             exit with status 3 when a target is missed
#   BENCH_CLICKHOUSE_SERVER=   the server binary (default: clickhouse-server
#                              or clickhouse in PATH, /usr/sbin, /usr/bin)
# Everything listens on 127.0.0.1 only, on ports the kernel picks;
# ClickHouse is stopped and its temporary directory removed on exit,
# Ctrl-C included (a BENCH_REUSE data directory stays).
set -euo pipefail

. "$(dirname "$0")/bench-common.sh"
bench_run bench-analytics ./load/cmd/benchanalytics
