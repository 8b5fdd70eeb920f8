-- Finer granules for the day and week rollups.
--
-- ClickHouse reads whole granules, and a granule of a rollup reads every
-- aggregate state in it: a busy day of a service, route or status code is
-- a dense latency state of about 10 KB for each latency. The day and week
-- rollups were made with 256-row granules, and a day of
-- requests_by_day_service holds about 200 rows for every workspace: a
-- workspace's days read every other workspace's states with its own. With
-- 32-row granules a query reads little beyond its workspace's rows, or
-- beyond the rows of the routes it looks up. Measured on copies at 100
-- million requests (a 30-day statement of the busiest workspace, p50):
-- by status class from requests_by_day_service 35 against 25 ms, by route
-- from requests_by_day_route 67 against 51 ms, by error class from
-- requests_by_day_status 43 against 35 ms, the ten busiest routes' states
-- 62 to 75 against 50 to 55 ms.
--
-- The three day rollups are rebuilt as 004 rebuilt them: a new table filled
-- from requests FINAL while it is empty, the old view and table dropped,
-- the new table renamed into place and given its view. The week rollup is
-- then rebuilt from the new requests_by_day_route, as 005 filled it. A
-- re-run after a failure is safe for the same reasons as 004's, and
-- records inserted between a fill and its view are found and rebuilt by
-- the collector's reconcile.

-- requests_by_day_service
CREATE TABLE IF NOT EXISTS {database}.requests_by_day_service_007 (
    day              DateTime('UTC'),
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
PARTITION BY toYYYYMMDD(day)
ORDER BY (workspace, service_id, day, status_class)
SETTINGS index_granularity = 32;

INSERT INTO {database}.requests_by_day_service_007 (day, workspace, service_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    toStartOfDay(started_at) AS day,
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
FROM {database}.requests FINAL
WHERE (SELECT count() FROM {database}.requests_by_day_service_007) = 0
GROUP BY day, workspace, service_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_day_service_mv;

DROP TABLE IF EXISTS {database}.requests_by_day_service;

RENAME TABLE {database}.requests_by_day_service_007 TO {database}.requests_by_day_service;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_day_service_mv TO {database}.requests_by_day_service AS
SELECT
    toStartOfDay(started_at) AS day,
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
GROUP BY day, workspace, service_id, status_class;


-- requests_by_day_route
CREATE TABLE IF NOT EXISTS {database}.requests_by_day_route_007 (
    day              DateTime('UTC'),
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
PARTITION BY toYYYYMMDD(day)
ORDER BY (workspace, service_id, day, route_id, status_class)
SETTINGS index_granularity = 32;

INSERT INTO {database}.requests_by_day_route_007 (day, workspace, service_id, route_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    toStartOfDay(started_at) AS day,
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
FROM {database}.requests FINAL
WHERE (SELECT count() FROM {database}.requests_by_day_route_007) = 0
GROUP BY day, workspace, service_id, route_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_day_route_mv;

DROP TABLE IF EXISTS {database}.requests_by_day_route;

RENAME TABLE {database}.requests_by_day_route_007 TO {database}.requests_by_day_route;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_day_route_mv TO {database}.requests_by_day_route AS
SELECT
    toStartOfDay(started_at) AS day,
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
GROUP BY day, workspace, service_id, route_id, status_class;


-- requests_by_day_status
CREATE TABLE IF NOT EXISTS {database}.requests_by_day_status_007 (
    day              DateTime('UTC'),
    workspace        String,
    service_id       String,
    status_class     UInt8,
    status           UInt16,
    error_class      String,
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
ORDER BY (workspace, service_id, day, status_class, status, error_class)
SETTINGS index_granularity = 32;

INSERT INTO {database}.requests_by_day_status_007 (day, workspace, service_id, status_class, status, error_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    toStartOfDay(started_at) AS day,
    workspace,
    service_id,
    toUInt8(intDiv(status, 100)) AS status_class,
    status,
    error_class,
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
WHERE (SELECT count() FROM {database}.requests_by_day_status_007) = 0
GROUP BY day, workspace, service_id, status_class, status, error_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_day_status_mv;

DROP TABLE IF EXISTS {database}.requests_by_day_status;

RENAME TABLE {database}.requests_by_day_status_007 TO {database}.requests_by_day_status;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_day_status_mv TO {database}.requests_by_day_status AS
SELECT
    toStartOfDay(started_at) AS day,
    workspace,
    service_id,
    toUInt8(intDiv(status, 100)) AS status_class,
    status,
    error_class,
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
GROUP BY day, workspace, service_id, status_class, status, error_class;


-- requests_by_week_route
CREATE TABLE IF NOT EXISTS {database}.requests_by_week_route_007 (
    week             DateTime('UTC'),
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
PARTITION BY toYYYYMMDD(week)
ORDER BY (workspace, service_id, week, route_id, status_class)
SETTINGS index_granularity = 32;

INSERT INTO {database}.requests_by_week_route_007 (week, workspace, service_id, route_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    toDateTime(intDiv(toUInt32(day), 604800) * 604800) AS week,
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
FROM {database}.requests_by_day_route
WHERE (SELECT count() FROM {database}.requests_by_week_route_007) = 0
GROUP BY week, workspace, service_id, route_id, status_class;

DROP TABLE IF EXISTS {database}.requests_by_week_route_mv;

DROP TABLE IF EXISTS {database}.requests_by_week_route;

RENAME TABLE {database}.requests_by_week_route_007 TO {database}.requests_by_week_route;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_week_route_mv TO {database}.requests_by_week_route AS
SELECT
    toDateTime(intDiv(toUInt32(started_at), 604800) * 604800) AS week,
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
GROUP BY week, workspace, service_id, route_id, status_class;
