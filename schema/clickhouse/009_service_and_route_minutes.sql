-- Minute rollups per service and per route, for the last hour.
--
-- A breakdown or top-N over the last hour is read by the minute (a range
-- that ends at the current second is not whole hours), and until now a
-- service or route in it was read from requests_by_minute: a row per route,
-- consumer and status class of each minute, 0.86 rows per request at 100
-- million requests a month. The busiest workspace's busiest hour there is
-- some 60,000 rows, each with three small latency states, which took
-- 35-68 ms at p50 and up to 110 ms at p95 to merge for a breakdown by service
-- or route or the top routes. These keep a row per service (and route)
-- and status class of each minute, as requests_by_hour_service and
-- requests_by_hour_route do of each hour.
--
-- Each table is filled from requests_by_minute, whose states merge into
-- its own exactly, while it is empty, and then given its view. Records
-- inserted between the fill and the view are found by the collector's
-- reconcile, which checks every rollup's periods against the raw table, as
-- after 006.

-- requests_by_minute_service
CREATE TABLE IF NOT EXISTS {database}.requests_by_minute_service (
    minute           DateTime('UTC'),
    workspace        String,
    service_id       String,
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
PARTITION BY toYYYYMMDD(minute)
ORDER BY (workspace, service_id, minute, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_minute_service (minute, workspace, service_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    minute,
    workspace,
    service_id,
    status_class,
    sumMergeState(requests) AS requests,
    sumMergeState(errors) AS errors,
    sumMergeState(server_errors) AS server_errors,
    sumMergeState(request_bytes_total) AS request_bytes_total,
    sumMergeState(response_bytes_total) AS response_bytes_total,
    quantilesTimingMergeState(0.5, 0.9, 0.95, 0.99)(latency_total) AS latency_total,
    quantilesTimingMergeState(0.5, 0.9, 0.95, 0.99)(latency_upstream) AS latency_upstream,
    quantilesTimingMergeState(0.5, 0.9, 0.95, 0.99)(latency_gateway) AS latency_gateway,
    uniqMergeState(consumers) AS consumers
FROM {database}.requests_by_minute
WHERE (SELECT count() FROM {database}.requests_by_minute_service) = 0
GROUP BY minute, workspace, service_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_minute_service_mv TO {database}.requests_by_minute_service AS
SELECT
    toStartOfMinute(started_at) AS minute,
    workspace,
    service_id,
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
GROUP BY minute, workspace, service_id, status_class;

-- requests_by_minute_route
CREATE TABLE IF NOT EXISTS {database}.requests_by_minute_route (
    minute           DateTime('UTC'),
    workspace        String,
    service_id       String,
    route_id         String,
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
PARTITION BY toYYYYMMDD(minute)
ORDER BY (workspace, service_id, minute, route_id, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_minute_route (minute, workspace, service_id, route_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    minute,
    workspace,
    service_id,
    route_id,
    status_class,
    sumMergeState(requests) AS requests,
    sumMergeState(errors) AS errors,
    sumMergeState(server_errors) AS server_errors,
    sumMergeState(request_bytes_total) AS request_bytes_total,
    sumMergeState(response_bytes_total) AS response_bytes_total,
    quantilesTimingMergeState(0.5, 0.9, 0.95, 0.99)(latency_total) AS latency_total,
    quantilesTimingMergeState(0.5, 0.9, 0.95, 0.99)(latency_upstream) AS latency_upstream,
    quantilesTimingMergeState(0.5, 0.9, 0.95, 0.99)(latency_gateway) AS latency_gateway,
    uniqMergeState(consumers) AS consumers
FROM {database}.requests_by_minute
WHERE (SELECT count() FROM {database}.requests_by_minute_route) = 0
GROUP BY minute, workspace, service_id, route_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_minute_route_mv TO {database}.requests_by_minute_route AS
SELECT
    toStartOfMinute(started_at) AS minute,
    workspace,
    service_id,
    route_id,
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
GROUP BY minute, workspace, service_id, route_id, status_class;
