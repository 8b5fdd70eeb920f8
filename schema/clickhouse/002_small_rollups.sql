-- Smaller traffic rollups, for the dashboards' long ranges. requests_by_hour
-- is keyed by route and consumer as well, so with thousands of consumers it
-- keeps most of a row per request (0.68 in the 10-million-request benchmark)
-- and a 30-day query merges millions of t-digests. These keep the same
-- aggregate states (read them the same way: sumMerge, uniqMerge,
-- quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99)) over fewer keys:
--
--   requests_by_hour_workspace  workspace, hour, status class
--   requests_by_hour_service    workspace, service, hour, status class
--   requests_by_hour_route      workspace, service, hour, route, status class
--   requests_by_day_service     workspace, service, UTC day, status class
--   requests_by_day_route       workspace, service, UTC day, route, status class
--
-- The query layer reads the smallest one whose keys cover a query's filters
-- and grouping. Merging t-digests is what long ranges pay for: the day
-- tables hold a 30-day breakdown in a few thousand states where the hour
-- ones need tens of thousands, and the workspace table answers a
-- workspace's series without a state per service.
--
-- Each table is created, then filled from the rows already in requests,
-- then given its materialized view. The backfill reads requests FINAL, as
-- the collector's reconcile rebuilds a rollup, and only while the table is
-- empty, so that running the migration again after a failure does not
-- count anything twice. Records inserted between a backfill and its view
-- reach neither; reconcile finds those hours (their counts differ from the
-- raw table's) and rebuilds them. The views' SELECTs keep the form
-- reconcile parses (one column per line, FROM requests, GROUP BY).
--
-- Every table is partitioned by UTC day, as in 001, so retention drops
-- their days with the others. Their granules are 256 rows, not 8,192: a
-- query reads whole granules, and deserializing the t-digests of other
-- workspaces' and services' rows cost more than merging its own (a
-- service's 30-day series read 130,000 states for 2,900 of them: 100 ms
-- where 256-row granules take 25 ms).

CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_workspace (
    hour             DateTime('UTC'),
    workspace        String,
    status_class     UInt8,
    requests         AggregateFunction(sum, UInt64),
    errors           AggregateFunction(sum, UInt64),
    server_errors    AggregateFunction(sum, UInt64),
    request_bytes_total AggregateFunction(sum, Int64),
    response_bytes_total AggregateFunction(sum, Int64),
    latency_total    AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    latency_upstream AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    consumers        AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(hour)
ORDER BY (workspace, hour, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_hour_workspace (hour, workspace, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, consumers)
SELECT
    toStartOfHour(started_at) AS hour,
    workspace,
    toUInt8(intDiv(status, 100)) AS status_class,
    sumState(toUInt64(1)) AS requests,
    sumState(toUInt64(status >= 400)) AS errors,
    sumState(toUInt64(status >= 500)) AS server_errors,
    sumState(request_bytes) AS request_bytes_total,
    sumState(response_bytes) AS response_bytes_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests FINAL
WHERE (SELECT count() FROM {database}.requests_by_hour_workspace) = 0
GROUP BY hour, workspace, status_class;

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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests
GROUP BY hour, workspace, status_class;

CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_service (
    hour             DateTime('UTC'),
    workspace        String,
    service_id       String,
    status_class     UInt8,
    requests         AggregateFunction(sum, UInt64),
    errors           AggregateFunction(sum, UInt64),
    server_errors    AggregateFunction(sum, UInt64),
    request_bytes_total AggregateFunction(sum, Int64),
    response_bytes_total AggregateFunction(sum, Int64),
    latency_total    AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    latency_upstream AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    consumers        AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(hour)
ORDER BY (workspace, service_id, hour, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_hour_service (hour, workspace, service_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, consumers)
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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests FINAL
WHERE (SELECT count() FROM {database}.requests_by_hour_service) = 0
GROUP BY hour, workspace, service_id, status_class;

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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests
GROUP BY hour, workspace, service_id, status_class;

CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_route (
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
    latency_total    AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    latency_upstream AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    consumers        AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(hour)
ORDER BY (workspace, service_id, hour, route_id, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_hour_route (hour, workspace, service_id, route_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, consumers)
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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests FINAL
WHERE (SELECT count() FROM {database}.requests_by_hour_route) = 0
GROUP BY hour, workspace, service_id, route_id, status_class;

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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests
GROUP BY hour, workspace, service_id, route_id, status_class;

CREATE TABLE IF NOT EXISTS {database}.requests_by_day_service (
    day              DateTime('UTC'),
    workspace        String,
    service_id       String,
    status_class     UInt8,
    requests         AggregateFunction(sum, UInt64),
    errors           AggregateFunction(sum, UInt64),
    server_errors    AggregateFunction(sum, UInt64),
    request_bytes_total AggregateFunction(sum, Int64),
    response_bytes_total AggregateFunction(sum, Int64),
    latency_total    AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    latency_upstream AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    consumers        AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (workspace, service_id, day, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_day_service (day, workspace, service_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, consumers)
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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests FINAL
WHERE (SELECT count() FROM {database}.requests_by_day_service) = 0
GROUP BY day, workspace, service_id, status_class;

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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests
GROUP BY day, workspace, service_id, status_class;

CREATE TABLE IF NOT EXISTS {database}.requests_by_day_route (
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
    latency_total    AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    latency_upstream AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    consumers        AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (workspace, service_id, day, route_id, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_day_route (day, workspace, service_id, route_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, consumers)
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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests FINAL
WHERE (SELECT count() FROM {database}.requests_by_day_route) = 0
GROUP BY day, workspace, service_id, route_id, status_class;

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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests
GROUP BY day, workspace, service_id, route_id, status_class;
