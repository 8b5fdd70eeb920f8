-- A minute rollup per workspace, and an hour rollup of every workspace.
--
-- A series over the last hour is read by the minute, and until now only
-- requests_by_minute kept minutes: a row per route, consumer and status
-- class of each minute, about 2,000 rows a minute at 100 million
-- requests a month. A workspace's last hour merged tens of thousands of
-- small latency states and every workspace's (the admin's view) more than
-- a hundred thousand. requests_by_minute_workspace keeps a row per
-- workspace and status class of each minute, as requests_by_hour_workspace
-- does of each hour.
--
-- An admin's series over every workspace read requests_by_hour_workspace,
-- whose busy hours are dense latency states (a histogram of about 10 KB
-- each): a month of five workspaces is some 14,000 of them per latency.
-- requests_by_hour_all keeps every workspace's requests of an hour and
-- status class in one row, so that month is some 3,000. It has no
-- workspace column: it answers only queries over every workspace that do
-- not group by workspace.
--
-- Each table is filled from the rollup whose states merge into its own
-- exactly (requests_by_minute and requests_by_hour_workspace) while it is
-- empty, and then given its view. Records inserted between the fill and
-- the view are found by the collector's reconcile, which checks every
-- rollup's periods against the raw table, as after 002, 003 and 005.

-- requests_by_minute_workspace
CREATE TABLE IF NOT EXISTS {database}.requests_by_minute_workspace (
    minute           DateTime('UTC'),
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
PARTITION BY toYYYYMMDD(minute)
ORDER BY (workspace, minute, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_minute_workspace (minute, workspace, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    minute,
    workspace,
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
WHERE (SELECT count() FROM {database}.requests_by_minute_workspace) = 0
GROUP BY minute, workspace, status_class
SETTINGS max_bytes_before_external_group_by = 2000000000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_minute_workspace_mv TO {database}.requests_by_minute_workspace AS
SELECT
    toStartOfMinute(started_at) AS minute,
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
GROUP BY minute, workspace, status_class;

-- requests_by_hour_all
CREATE TABLE IF NOT EXISTS {database}.requests_by_hour_all (
    hour             DateTime('UTC'),
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
ORDER BY (hour, status_class)
SETTINGS index_granularity = 256;

INSERT INTO {database}.requests_by_hour_all (hour, status_class, requests, errors, server_errors, request_bytes_total, response_bytes_total, latency_total, latency_upstream, latency_gateway, consumers)
SELECT
    hour,
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
FROM {database}.requests_by_hour_workspace
WHERE (SELECT count() FROM {database}.requests_by_hour_all) = 0
GROUP BY hour, status_class;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_by_hour_all_mv TO {database}.requests_by_hour_all AS
SELECT
    toStartOfHour(started_at) AS hour,
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
GROUP BY hour, status_class;
