-- Latency percentiles the rollups merge cheaply. Until now every traffic
-- rollup kept its latencies as t-digests, and merging a busy t-digest (an
-- hour of a workspace: hundreds of centroids) costs tens of microseconds
-- on 18.16: a workspace's 30-day series, 2,160 hour states per latency,
-- took about 100 ms at 100 million requests, most of it merging.
--
-- Each rollup now keeps quantilesTiming states of the latency's bucket on a
-- log scale with 2 % steps, for the gateway's own latency as well
-- (latency_gateway, which only the raw table kept, so that asking for it
-- read a month of records):
--
--   toUInt32(round(log(1 + greatest(latency_ms, 0) * 1000) / log(1.02)))
--
-- that is, the latency in microseconds, plus one, as a power of 1.02. A
-- minute of latency is bucket 904; quantilesTiming counts buckets below
-- 1,024 (up to about 10 minutes) one by one, and is exact for a state of
-- up to about 5,600 values, a histogram beyond. A busy state merges by
-- adding two arrays of counts. Read the states back with
--
--   arrayMap(x -> (pow(1.02, x) - 1) / 1000,
--            quantilesTimingMerge(0.5, 0.9, 0.95, 0.99)(latency_total))
--
-- which gives milliseconds within 1 % of the recorded latency at the rank
-- asked for (half a step), where the t-digests interpolated between ranks.
--
-- Every traffic rollup is rebuilt: a new table is created with the new
-- columns and filled from requests FINAL while it is empty; then the old
-- view and table are dropped, the new table takes the old name, and its
-- view is created. The usage tables keep no latency and are left alone.
-- Filling reads every stored request once per table: on a large table this
-- migration takes a while (tollgate migrate clickhouse up logs each fill).
-- The minute and hour rollups keep nearly a row per request, so their fills
-- group as many keys as there are requests: each fill spills its GROUP BY
-- to disk past 2 GB (max_bytes_before_external_group_by) rather than fail
-- on the server's memory limit.
-- Rollup rows older than the oldest stored request are not kept, as they
-- cannot be rebuilt; retention trims the raw table and the traffic rollups
-- together by default, so they hold the same days. Queries of a rollup
-- fail in the moment between dropping it and renaming its replacement, and
-- records inserted between a fill and its view are found and rebuilt by
-- the collector's reconcile, as after 002 and 003.
--
-- A re-run after a failure is safe: a fill skips a table that has rows,
-- and a table whose replacement was renamed but whose view is missing is
-- filled again from the stored requests.

-- requests_by_minute
CREATE TABLE IF NOT EXISTS {database}.requests_by_minute_004 (
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
ORDER BY (workspace, service_id, minute, route_id, consumer_id, status_class);

INSERT INTO {database}.requests_by_minute_004 (minute, workspace, service_id, route_id, consumer_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
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
WHERE (SELECT count() FROM {database}.requests_by_minute_004) = 0
GROUP BY minute, workspace, service_id, route_id, consumer_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_minute_mv;

DROP TABLE IF EXISTS {database}.requests_by_minute;

RENAME TABLE {database}.requests_by_minute_004 TO {database}.requests_by_minute;

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

-- requests_by_hour
CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_004 (
    hour             DateTime('UTC'),
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
PARTITION BY toYYYYMMDD(hour)
ORDER BY (workspace, service_id, hour, route_id, consumer_id, status_class);

INSERT INTO {database}.requests_by_hour_004 (hour, workspace, service_id, route_id, consumer_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    toStartOfHour(started_at) AS hour,
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
WHERE (SELECT count() FROM {database}.requests_by_hour_004) = 0
GROUP BY hour, workspace, service_id, route_id, consumer_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_hour_mv;

DROP TABLE IF EXISTS {database}.requests_by_hour;

RENAME TABLE {database}.requests_by_hour_004 TO {database}.requests_by_hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_hour_mv TO {database}.requests_by_hour AS
SELECT
    toStartOfHour(started_at) AS hour,
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
GROUP BY hour, workspace, service_id, route_id, consumer_id, status_class;

-- requests_by_hour_workspace
CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_workspace_004 (
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
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_hour_workspace_004 (hour, workspace, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
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
WHERE (SELECT count() FROM {database}.requests_by_hour_workspace_004) = 0
GROUP BY hour, workspace, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_hour_workspace_mv;

DROP TABLE IF EXISTS {database}.requests_by_hour_workspace;

RENAME TABLE {database}.requests_by_hour_workspace_004 TO {database}.requests_by_hour_workspace;

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

-- requests_by_hour_service
CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_service_004 (
    hour             DateTime('UTC'),
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
PARTITION BY toYYYYMMDD(hour)
ORDER BY (workspace, service_id, hour, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_hour_service_004 (hour, workspace, service_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    toStartOfHour(started_at) AS hour,
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
WHERE (SELECT count() FROM {database}.requests_by_hour_service_004) = 0
GROUP BY hour, workspace, service_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_hour_service_mv;

DROP TABLE IF EXISTS {database}.requests_by_hour_service;

RENAME TABLE {database}.requests_by_hour_service_004 TO {database}.requests_by_hour_service;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_hour_service_mv TO {database}.requests_by_hour_service AS
SELECT
    toStartOfHour(started_at) AS hour,
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
GROUP BY hour, workspace, service_id, status_class;

-- requests_by_hour_route
CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_route_004 (
    hour             DateTime('UTC'),
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
PARTITION BY toYYYYMMDD(hour)
ORDER BY (workspace, service_id, hour, route_id, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_hour_route_004 (hour, workspace, service_id, route_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    toStartOfHour(started_at) AS hour,
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
WHERE (SELECT count() FROM {database}.requests_by_hour_route_004) = 0
GROUP BY hour, workspace, service_id, route_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_hour_route_mv;

DROP TABLE IF EXISTS {database}.requests_by_hour_route;

RENAME TABLE {database}.requests_by_hour_route_004 TO {database}.requests_by_hour_route;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_hour_route_mv TO {database}.requests_by_hour_route AS
SELECT
    toStartOfHour(started_at) AS hour,
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
GROUP BY hour, workspace, service_id, route_id, status_class;

-- requests_by_day_service
CREATE TABLE IF NOT EXISTS {database}.requests_by_day_service_004 (
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
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_day_service_004 (day, workspace, service_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
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
WHERE (SELECT count() FROM {database}.requests_by_day_service_004) = 0
GROUP BY day, workspace, service_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_day_service_mv;

DROP TABLE IF EXISTS {database}.requests_by_day_service;

RENAME TABLE {database}.requests_by_day_service_004 TO {database}.requests_by_day_service;

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
CREATE TABLE IF NOT EXISTS {database}.requests_by_day_route_004 (
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
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_day_route_004 (day, workspace, service_id, route_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
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
WHERE (SELECT count() FROM {database}.requests_by_day_route_004) = 0
GROUP BY day, workspace, service_id, route_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_day_route_mv;

DROP TABLE IF EXISTS {database}.requests_by_day_route;

RENAME TABLE {database}.requests_by_day_route_004 TO {database}.requests_by_day_route;

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

-- requests_by_hour_consumer
CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_consumer_004 (
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
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_hour_consumer_004 (hour, workspace, consumer_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
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
WHERE (SELECT count() FROM {database}.requests_by_hour_consumer_004) = 0
GROUP BY hour, workspace, consumer_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_hour_consumer_mv;

DROP TABLE IF EXISTS {database}.requests_by_hour_consumer;

RENAME TABLE {database}.requests_by_hour_consumer_004 TO {database}.requests_by_hour_consumer;

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
CREATE TABLE IF NOT EXISTS {database}.requests_by_day_consumer_004 (
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
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_day_consumer_004 (day, workspace, consumer_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
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
WHERE (SELECT count() FROM {database}.requests_by_day_consumer_004) = 0
GROUP BY day, workspace, consumer_id, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_day_consumer_mv;

DROP TABLE IF EXISTS {database}.requests_by_day_consumer;

RENAME TABLE {database}.requests_by_day_consumer_004 TO {database}.requests_by_day_consumer;

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

-- requests_by_hour_status
CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_status_004 (
    hour             DateTime('UTC'),
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
PARTITION BY toYYYYMMDD(hour)
ORDER BY (workspace, service_id, hour, status_class, status, error_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_hour_status_004 (hour, workspace, service_id, status_class, status, error_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    toStartOfHour(started_at) AS hour,
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
WHERE (SELECT count() FROM {database}.requests_by_hour_status_004) = 0
GROUP BY hour, workspace, service_id, status_class, status, error_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_hour_status_mv;

DROP TABLE IF EXISTS {database}.requests_by_hour_status;

RENAME TABLE {database}.requests_by_hour_status_004 TO {database}.requests_by_hour_status;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_hour_status_mv TO {database}.requests_by_hour_status AS
SELECT
    toStartOfHour(started_at) AS hour,
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
GROUP BY hour, workspace, service_id, status_class, status, error_class;

-- requests_by_day_status
CREATE TABLE IF NOT EXISTS {database}.requests_by_day_status_004 (
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
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_day_status_004 (day, workspace, service_id, status_class, status, error_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
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
WHERE (SELECT count() FROM {database}.requests_by_day_status_004) = 0
GROUP BY day, workspace, service_id, status_class, status, error_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

DROP TABLE IF EXISTS {database}.requests_by_day_status_mv;

DROP TABLE IF EXISTS {database}.requests_by_day_status;

RENAME TABLE {database}.requests_by_day_status_004 TO {database}.requests_by_day_status;

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
