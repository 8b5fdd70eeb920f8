-- A daily consumer rollup without the status class, for the questions
-- about consumers that do not ask about status classes: the top consumers
-- and the breakdown by consumer over long ranges.
--
-- requests_by_day_consumer keeps a row per consumer, day and status
-- class: a busy workspace's month is about 260,000 rows of latency
-- states, and a consumer's day is usually two to four of them. A top ten
-- by requests read the counters of every row and then merged the latency
-- states of its ten consumers' rows, most of them dense histograms that
-- cost the same to merge whatever their count. requests_by_day_consumer_all
-- keeps one row per consumer and day, a state per latency where there
-- were several: the month is about 70,000 rows, and the top ten merge a
-- quarter of the states they did.
--
-- The query planner reads it where a query neither filters nor groups by
-- the status class (nor keeps the errors only); such queries, the
-- dashboard's status class filter among them, keep reading
-- requests_by_day_consumer.
--
-- The table is filled from requests_by_day_consumer, whose states merge
-- into a day's exactly, while it is empty, and then given its view, which
-- aggregates the stored requests as the other day rollups do. Records
-- inserted between the fill and the view are found by the collector's
-- reconcile, which checks the day rollups against the raw table and
-- rebuilds a day that differs. Retention drops its day partitions with
-- the other traffic rollups'. A re-run after a failure is safe: the fill
-- skips a table that has rows, and the view is created only if missing.

CREATE TABLE IF NOT EXISTS {database}.requests_by_day_consumer_all (
    day              DateTime('UTC'),
    workspace        String,
    consumer_id      String,
    requests         AggregateFunction(sum, UInt64),
    errors           AggregateFunction(sum, UInt64),
    server_errors    AggregateFunction(sum, UInt64),
    request_bytes_total AggregateFunction(sum, Int64),
    response_bytes_total AggregateFunction(sum, Int64),
    latency_total    AggregateFunction(quantilesTiming(0.5, 0.9, 0.95, 0.99), UInt32),
    latency_upstream AggregateFunction(quantilesTiming(0.5, 0.9, 0.95, 0.99), UInt32),
    latency_gateway  AggregateFunction(quantilesTiming(0.5, 0.9, 0.95, 0.99), UInt32),
    consumers        AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (workspace, consumer_id, day)
SETTINGS index_granularity = 32;

INSERT INTO {database}.requests_by_day_consumer_all (day, workspace, consumer_id, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    day,
    workspace,
    consumer_id,
    sumMergeState(requests) AS requests,
    sumMergeState(errors) AS errors,
    sumMergeState(server_errors) AS server_errors,
    sumMergeState(request_bytes_total) AS request_bytes_total,
    sumMergeState(response_bytes_total) AS response_bytes_total,
    quantilesTimingMergeState(0.5, 0.9, 0.95, 0.99)(latency_total) AS latency_total,
    quantilesTimingMergeState(0.5, 0.9, 0.95, 0.99)(latency_upstream) AS latency_upstream,
    quantilesTimingMergeState(0.5, 0.9, 0.95, 0.99)(latency_gateway) AS latency_gateway,
    uniqMergeState(consumers) AS consumers
FROM {database}.requests_by_day_consumer
WHERE (SELECT count() FROM {database}.requests_by_day_consumer_all) = 0
GROUP BY day, workspace, consumer_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_day_consumer_all_mv TO {database}.requests_by_day_consumer_all AS
SELECT
    toStartOfDay(started_at) AS day,
    workspace,
    consumer_id,
    sumState(toUInt64(1)) AS requests,
    sumState(toUInt64(status >= 400)) AS errors,
    sumState(toUInt64(status >= 500)) AS server_errors,
    sumState(request_bytes) AS request_bytes_total,
    sumState(response_bytes) AS response_bytes_total,
    quantilesTimingState(0.5, 0.9, 0.95, 0.99)(toUInt32(round(log(1 + greatest(latency_total_ms, 0) * 1000) / log(1.02)))) AS latency_total,
    quantilesTimingState(0.5, 0.9, 0.95, 0.99)(toUInt32(round(log(1 + greatest(latency_upstream_ms, 0) * 1000) / log(1.02)))) AS latency_upstream,
    quantilesTimingState(0.5, 0.9, 0.95, 0.99)(toUInt32(round(log(1 + greatest(latency_gateway_ms, 0) * 1000) / log(1.02)))) AS latency_gateway,
    uniqState(consumer_id) AS consumers
FROM {database}.requests
GROUP BY day, workspace, consumer_id;
