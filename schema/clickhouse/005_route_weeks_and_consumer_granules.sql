-- A weekly route rollup, and finer granules for the consumer rollups.
--
-- requests_by_week_route keeps the states of requests_by_day_route per
-- week. A route's day usually holds thousands of requests, and such a
-- quantilesTiming state is a dense histogram that costs the same to read
-- and merge whatever its count: a 30-day breakdown by route merged about
-- 30 of them per route and latency. Weeks are multiples of 7 days since
-- the Unix epoch (they start on Thursdays, 00:00 UTC), the alignment the
-- query planner splits ranges at:
--
--   toDateTime(intDiv(toUInt32(started_at), 604800) * 604800)
--
-- The table is filled from requests_by_day_route, whose states merge into
-- a week's exactly, while it is empty, and then given its view. Records
-- inserted between the fill and the view are found by the collector's
-- reconcile, which checks each week that ends in its window against the
-- days of requests_by_day_route, and rebuilds a week that differs.
-- Retention drops a week's partition once the whole week is older than the
-- age it keeps.
--
-- Weeks do not help the consumers: most of a consumer's days are sparse
-- states, which a week would turn into dense ones. What the top consumers
-- by requests paid for instead was reading whole granules: their second
-- statement reads the states of ten consumers, and every 256-row granule
-- it touched deserialized the states of about sixty others. The two
-- consumer rollups are rebuilt with 32-row granules, as 004 rebuilt them:
-- a new table filled from requests FINAL while it is empty, the old view
-- and table dropped, the new table renamed and given its view. A re-run
-- after a failure is safe for the same reasons as 004's.

-- requests_by_week_route
CREATE TABLE IF NOT EXISTS {database}.requests_by_week_route (
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
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_week_route (week, workspace, service_id, route_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
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
WHERE (SELECT count() FROM {database}.requests_by_week_route) = 0
GROUP BY week, workspace, service_id, route_id, status_class;

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


-- requests_by_hour_consumer
CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_consumer_005 (
    hour             DateTime('UTC'),
    workspace        String,
    consumer_id      String,
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
ORDER BY (workspace, consumer_id, hour, status_class)
SETTINGS index_granularity = 32;

INSERT INTO {database}.requests_by_hour_consumer_005 (hour, workspace, consumer_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    toStartOfHour(started_at) AS hour,
    workspace,
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
WHERE (SELECT count() FROM {database}.requests_by_hour_consumer_005) = 0
GROUP BY hour, workspace, consumer_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_hour_consumer_mv;

DROP TABLE IF EXISTS {database}.requests_by_hour_consumer;

RENAME TABLE {database}.requests_by_hour_consumer_005 TO {database}.requests_by_hour_consumer;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_hour_consumer_mv TO {database}.requests_by_hour_consumer AS
SELECT
    toStartOfHour(started_at) AS hour,
    workspace,
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
GROUP BY hour, workspace, consumer_id, status_class;

-- requests_by_day_consumer
CREATE TABLE IF NOT EXISTS {database}.requests_by_day_consumer_005 (
    day              DateTime('UTC'),
    workspace        String,
    consumer_id      String,
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
ORDER BY (workspace, consumer_id, day, status_class)
SETTINGS index_granularity = 32;

INSERT INTO {database}.requests_by_day_consumer_005 (day, workspace, consumer_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    toStartOfDay(started_at) AS day,
    workspace,
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
WHERE (SELECT count() FROM {database}.requests_by_day_consumer_005) = 0
GROUP BY day, workspace, consumer_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_day_consumer_mv;

DROP TABLE IF EXISTS {database}.requests_by_day_consumer;

RENAME TABLE {database}.requests_by_day_consumer_005 TO {database}.requests_by_day_consumer;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_day_consumer_mv TO {database}.requests_by_day_consumer AS
SELECT
    toStartOfDay(started_at) AS day,
    workspace,
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
GROUP BY day, workspace, consumer_id, status_class;
