-- Finer granules for the workspace hour rollup.
--
-- requests_by_hour_workspace keeps a row per workspace, hour and status
-- class: about 100 rows of a busy workspace's day among some 470 of every
-- workspace's. It was made with 256-row granules, so a workspace's hours
-- read about two and a half times the dense latency states they need (a
-- busy hour's state is about 10 KB per latency, and ClickHouse reads every
-- state of a granule it reads). With 32-row granules, as 007 gave the day
-- rollups, a copy at 100 million requests took the 30-day series of the
-- busiest workspace with the gateway's latency from 66-79 to 43-44 ms at
-- p50.
--
-- The table is rebuilt as 004 rebuilt it: a new table filled from requests
-- FINAL while it is empty, the old view and table dropped, the new table
-- renamed into place and given its view. A re-run after a failure is safe
-- for the same reasons as 004's, and records inserted between the fill and
-- the view are found and rebuilt by the collector's reconcile.

-- requests_by_hour_workspace
CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_workspace_008 (
    hour             DateTime('UTC'),
    workspace        String,
    status_class     UInt8,
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
PARTITION BY toYYYYMMDD(hour)
ORDER BY (workspace, hour, status_class)
SETTINGS index_granularity = 32;

INSERT INTO {database}.requests_by_hour_workspace_008 (hour, workspace, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    toStartOfHour(started_at) AS hour,
    workspace,
    toUInt8(intDiv(status, 100)) AS status_class,
    sumState(toUInt64(1)) AS requests,
    sumState(toUInt64(status >= 400)) AS errors,
    sumState(toUInt64(status >= 500)) AS server_errors,
    sumState(request_bytes) AS request_bytes_total,
    sumState(response_bytes) AS response_bytes_total,
    quantilesTimingState(0.5, 0.9, 0.95, 0.99)(toUInt32(round(log(1 + greatest(latency_total_ms, 0) * 1000) / log(1.02)))) AS latency_total,
    quantilesTimingState(0.5, 0.9, 0.95, 0.99)(toUInt32(round(log(1 + greatest(latency_upstream_ms, 0) * 1000) / log(1.02)))) AS latency_upstream,
    quantilesTimingState(0.5, 0.9, 0.95, 0.99)(toUInt32(round(log(1 + greatest(latency_gateway_ms, 0) * 1000) / log(1.02)))) AS latency_gateway,
    uniqState(consumer_id) AS consumers
FROM {database}.requests FINAL
WHERE (SELECT count() FROM {database}.requests_by_hour_workspace_008) = 0
GROUP BY hour, workspace, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_hour_workspace_mv;

DROP TABLE IF EXISTS {database}.requests_by_hour_workspace;

RENAME TABLE {database}.requests_by_hour_workspace_008 TO {database}.requests_by_hour_workspace;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_hour_workspace_mv TO {database}.requests_by_hour_workspace AS
SELECT
    toStartOfHour(started_at) AS hour,
    workspace,
    toUInt8(intDiv(status, 100)) AS status_class,
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
GROUP BY hour, workspace, status_class;
