-- Rollups by consumer and by status code, and daily billing usage, for the
-- dashboards' long ranges. Grouping or filtering by consumer read
-- requests_by_hour, whose key has the route as well, so with thousands of
-- consumers it keeps most of a row per request; status codes and error
-- classes were in no rollup at all, so the errors page read the raw table;
-- and a month of daily usage summed consumer_usage_by_hour, a row per
-- consumer, service and hour. These keep the same states as 002's tables
-- (read them the same way: sumMerge, uniqMerge,
-- quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99)) over these keys:
--
--   requests_by_hour_consumer  workspace, consumer, hour, status class
--   requests_by_day_consumer   workspace, consumer, UTC day, status class
--   requests_by_hour_status    workspace, service, hour, status class,
--                              status code, error class
--   requests_by_day_status     workspace, service, UTC day, status class,
--                              status code, error class
--
-- and consumer_usage_by_day has consumer_usage_by_hour's counters per UTC
-- day and consumer, without the service (read it with sum() and GROUP BY,
-- as the hourly table): a month of a workspace's daily usage is then a row
-- per consumer and day, where keeping the service made it about fifteen
-- (1,000,000 rows and 400 ms for the busiest workspace of the
-- 100-million-request benchmark). Usage for one service reads the hourly
-- table.
--
-- As in 002: each table is created, filled from requests FINAL while it is
-- empty (a re-run after a failure counts nothing twice), then given its
-- view; records inserted between a backfill and its view are found and
-- rebuilt by the collector's reconcile. The views keep the form reconcile
-- parses (one column per line, FROM requests, GROUP BY). Tables are
-- partitioned by UTC day for retention, with 256-row granules.

CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_consumer (
    hour             DateTime('UTC'),
    workspace        String,
    consumer_id      String,
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
ORDER BY (workspace, consumer_id, hour, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_hour_consumer (hour, workspace, consumer_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, consumers)
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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests FINAL
WHERE (SELECT count() FROM {database}.requests_by_hour_consumer) = 0
GROUP BY hour, workspace, consumer_id, status_class;

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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests
GROUP BY hour, workspace, consumer_id, status_class;

CREATE TABLE IF NOT EXISTS {database}.requests_by_day_consumer (
    day              DateTime('UTC'),
    workspace        String,
    consumer_id      String,
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
ORDER BY (workspace, consumer_id, day, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_day_consumer (day, workspace, consumer_id, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, consumers)
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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests FINAL
WHERE (SELECT count() FROM {database}.requests_by_day_consumer) = 0
GROUP BY day, workspace, consumer_id, status_class;

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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests
GROUP BY day, workspace, consumer_id, status_class;

CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_status (
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
    latency_total    AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    latency_upstream AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    consumers        AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(hour)
ORDER BY (workspace, service_id, hour, status_class, status, error_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_hour_status (hour, workspace, service_id, status_class, status, error_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, consumers)
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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests FINAL
WHERE (SELECT count() FROM {database}.requests_by_hour_status) = 0
GROUP BY hour, workspace, service_id, status_class, status, error_class;

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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests
GROUP BY hour, workspace, service_id, status_class, status, error_class;

CREATE TABLE IF NOT EXISTS {database}.requests_by_day_status (
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
    latency_total    AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    latency_upstream AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    consumers        AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (workspace, service_id, day, status_class, status, error_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_day_status (day, workspace, service_id, status_class, status, error_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, consumers)
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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests FINAL
WHERE (SELECT count() FROM {database}.requests_by_day_status) = 0
GROUP BY day, workspace, service_id, status_class, status, error_class;

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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests
GROUP BY day, workspace, service_id, status_class, status, error_class;

CREATE TABLE IF NOT EXISTS {database}.consumer_usage_by_day (
    day               DateTime('UTC'),
    workspace         String,
    consumer_id       String,
    requests          UInt64,
    billable_requests UInt64,
    billing_units_total Int64
) ENGINE = SummingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (workspace, consumer_id, day)
SETTINGS index_granularity = 256;

INSERT INTO {database}.consumer_usage_by_day (day, workspace, consumer_id, requests, billable_requests, billing_units_total)
SELECT
    toStartOfDay(started_at) AS day,
    workspace,
    consumer_id,
    count() AS requests,
    toUInt64(countIf(billable = 1)) AS billable_requests,
    sumIf(billing_units, billable = 1) AS billing_units_total
FROM {database}.requests FINAL
WHERE (SELECT count() FROM {database}.consumer_usage_by_day) = 0
GROUP BY day, workspace, consumer_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.consumer_usage_by_day_mv TO {database}.consumer_usage_by_day AS
SELECT
    toStartOfDay(started_at) AS day,
    workspace,
    consumer_id,
    count() AS requests,
    toUInt64(countIf(billable = 1)) AS billable_requests,
    sumIf(billing_units, billable = 1) AS billing_units_total
FROM {database}.requests
GROUP BY day, workspace, consumer_id;
