-- The minute rollup sorted by time first, with finer granules.
--
-- requests_by_minute keeps a row per workspace, service, route, consumer
-- and status class of each minute: about 0.86 rows per request at 100
-- million requests a month. Since 009 the planner reads it only for what
-- needs the consumer by the minute: a consumer's last hour, a breakdown or
-- top-N by consumer over the last hour, and the minutes at the edges of a
-- longer range grouped by consumer. Each of those reads every service of
-- the workspace in the minutes asked for, and with the table sorted by
-- service first they lay in one run of rows per service and part, each run
-- read in whole 8,192-row granules, with the aggregate states of the
-- minutes around it (the busiest hour of 100 million requests is about
-- 76,000 rows of the busiest workspace, in 24 services). Sorted by
-- workspace and minute first, a workspace's minutes are one run per part,
-- and 256-row granules keep its edges small. Measured on copies of a day
-- at 100 million requests (the busiest workspace's busiest hour, p50): a
-- consumer's series 56 to 26 ms, the breakdown by consumer 69 to 32, the
-- ten top consumers by requests 77 to 43 and by p95 65 to 38.
--
-- A service's or route's minutes without a consumer are read from
-- requests_by_minute_service and requests_by_minute_route (009); a
-- consumer's minutes within one service now read the workspace's minutes,
-- as a consumer's alone always did. The sorting key holds the same columns,
-- so the rows that AggregatingMergeTree merges into one are the same.
--
-- The table is rebuilt as 004 rebuilt it: a new table filled from requests
-- FINAL while it is empty, the old view and table dropped, the new table
-- renamed into place and given its view. A re-run after a failure is safe
-- for the same reasons as 004's, and records inserted between the fill and
-- the view are found and rebuilt by the collector's reconcile.

-- requests_by_minute
CREATE TABLE IF NOT EXISTS {database}.requests_by_minute_010 (
    minute           DateTime('UTC'),
    workspace        String,
    service_id       String,
    route_id         String,
    consumer_id      String,
    status_class     UInt8,
    requests         AggregateFunction(sum, UInt64),
    errors           AggregateFunction(sum, UInt64),
    server_errors    AggregateFunction(sum, UInt64),
    request_bytes_total  AggregateFunction(sum, Int64),
    response_bytes_total AggregateFunction(sum, Int64),
    latency_total    AggregateFunction(quantilesTiming(0.5, 0.9, 0.95, 0.99), UInt32),
    latency_upstream AggregateFunction(quantilesTiming(0.5, 0.9, 0.95, 0.99), UInt32),
    latency_gateway  AggregateFunction(quantilesTiming(0.5, 0.9, 0.95, 0.99), UInt32),
    consumers        AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(minute)
ORDER BY (workspace, minute, service_id, route_id, consumer_id, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_minute_010 (minute, workspace, service_id, route_id, consumer_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    toStartOfMinute(started_at) AS minute,
    workspace,
    service_id,
    route_id,
    consumer_id,
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
WHERE (SELECT count() FROM {database}.requests_by_minute_010) = 0
GROUP BY minute, workspace, service_id, route_id, consumer_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_minute_mv;

DROP TABLE IF EXISTS {database}.requests_by_minute;

RENAME TABLE {database}.requests_by_minute_010 TO {database}.requests_by_minute;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_minute_mv TO {database}.requests_by_minute AS
SELECT
    toStartOfMinute(started_at) AS minute,
    workspace,
    service_id,
    route_id,
    consumer_id,
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
GROUP BY minute, workspace, service_id, route_id, consumer_id, status_class;
