-- Tollgate's request log in ClickHouse: the raw records, the rollups that
-- materialized views keep from them, per-consumer usage for billing, and
-- the Kafka offsets the collector has loaded.
--
-- Every statement must run on ClickHouse 18.16 (Debian's package, which the
-- tests use) and on current releases. So: no LowCardinality (18.16 wants an
-- experimental setting for it), codecs, TTL, DateTime64, IPv6,
-- SimpleAggregateFunction or Bool; an alias never reuses a column name; and
-- the collector names its columns in every INSERT. {database} is replaced
-- by the database the migrations run in, because materialized views resolve
-- unqualified names in whatever database the session happens to use.
--
-- Every table is partitioned by UTC day (toYYYYMMDD), so that retention
-- drops whole partitions (TTL does not exist on 18.16) and queries over a
-- time range skip whole days.

-- requests holds one row per record, one column per logrecord.Record field,
-- plus where in Kafka it came from. ReplacingMergeTree collapses a row
-- loaded twice (same sorting key, so same request_id) when parts merge or
-- a query says FINAL: the collector loads each offset once, and this is
-- the net under it, not the mechanism.
CREATE TABLE IF NOT EXISTS {database}.requests (
    request_id          String,
    trace_id            String,
    started_at          DateTime('UTC'),
    started_at_ms       Int64,
    node_id             String,
    workspace           String,
    service_id          String,
    route_id            String,
    route_path          String,
    consumer_id         String,
    credential_id       String,
    method              String,
    protocol            String,
    host                String,
    path                String,
    client_ip           String,
    user_agent          String,
    status              UInt16,
    upstream_status     UInt16,
    responder           String,
    upstream_tries      UInt16,
    upstream_addr       String,
    latency_total_ms    Float64,
    latency_gateway_ms  Float64,
    latency_upstream_ms Float64,
    request_bytes       Int64,
    response_bytes      Int64,
    auth_outcome        String,
    rate_limit_outcome  String,
    error_class         String,
    billable            UInt8,
    billing_units       Int64,
    kafka_topic         String,
    kafka_partition     Int32,
    kafka_offset        Int64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(started_at)
ORDER BY (workspace, service_id, started_at, request_id);

-- loaded_offsets is the collector's proof of what is loaded: the view below
-- writes, in the same INSERT as the rows, the highest Kafka offset of every
-- (topic, partition) in the block. The collector also writes a row itself
-- when the records at the end of a batch were all dead-lettered. A few rows
-- per partition, merged down to one by ReplacingMergeTree(max_offset):
-- reading max(max_offset) on a restart or rebalance is cheap. It is not
-- partitioned by day because retention must never forget an offset.
CREATE TABLE IF NOT EXISTS {database}.loaded_offsets (
    topic           String,
    kafka_partition Int32,
    max_offset      Int64,
    loaded_at       DateTime('UTC')
) ENGINE = ReplacingMergeTree(max_offset)
ORDER BY (topic, kafka_partition);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.loaded_offsets_mv TO {database}.loaded_offsets AS
SELECT
    kafka_topic AS topic,
    kafka_partition,
    max(kafka_offset) AS max_offset,
    now() AS loaded_at
FROM {database}.requests
GROUP BY kafka_topic, kafka_partition;

-- requests_by_minute and requests_by_hour are the traffic rollups behind the
-- dashboards: per workspace, service, route, consumer and status class
-- (2 for 2xx, …). Columns are aggregate states: read them with
-- sumMerge, uniqMerge and quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99).
-- errors counts status >= 400 and server_errors status >= 500. A view's
-- columns reach its TO table by name, and 18.16 cannot alias an aggregate
-- to the name of a column it reads, hence request_bytes_total rather than
-- request_bytes.
CREATE TABLE IF NOT EXISTS {database}.requests_by_minute (
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
    latency_total    AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    latency_upstream AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    consumers        AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(minute)
ORDER BY (workspace, service_id, minute, route_id, consumer_id, status_class);

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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests
GROUP BY minute, workspace, service_id, route_id, consumer_id, status_class;

CREATE TABLE IF NOT EXISTS {database}.requests_by_hour (
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
    latency_total    AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    latency_upstream AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    consumers        AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(hour)
ORDER BY (workspace, service_id, hour, route_id, consumer_id, status_class);

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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_total_ms) AS latency_total,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(latency_upstream_ms) AS latency_upstream,
    uniqState(consumer_id) AS consumers
FROM {database}.requests
GROUP BY hour, workspace, service_id, route_id, consumer_id, status_class;

-- consumer_usage_by_hour meters consumers for billing: plain counters that
-- SummingMergeTree adds up as parts merge, so read them with sum() and
-- GROUP BY. Retention leaves it alone unless told otherwise: invoices
-- outlive traffic dashboards.
CREATE TABLE IF NOT EXISTS {database}.consumer_usage_by_hour (
    hour              DateTime('UTC'),
    workspace         String,
    consumer_id       String,
    service_id        String,
    requests          UInt64,
    billable_requests UInt64,
    billing_units_total Int64
) ENGINE = SummingMergeTree()
PARTITION BY toYYYYMMDD(hour)
ORDER BY (workspace, consumer_id, service_id, hour);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.consumer_usage_by_hour_mv TO {database}.consumer_usage_by_hour AS
SELECT
    toStartOfHour(started_at) AS hour,
    workspace,
    consumer_id,
    service_id,
    count() AS requests,
    toUInt64(countIf(billable = 1)) AS billable_requests,
    sumIf(billing_units, billable = 1) AS billing_units_total
FROM {database}.requests
GROUP BY hour, workspace, consumer_id, service_id;
