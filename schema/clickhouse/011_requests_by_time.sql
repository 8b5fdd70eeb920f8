-- The raw table sorted by time first.
--
-- requests was sorted by (workspace, service_id, started_at, request_id):
-- a workspace's records of one hour lay in one run of rows per service and
-- part, so every statement over a workspace's last hour read a run per
-- service, each in whole 8,192-row granules of every column it reads. The
-- latest hundred records of a busy workspace (recent requests) lay at the
-- ends of all its services' runs, and reading them whole decompressed a
-- block of each of 31 columns at each end. Sorted by workspace and time,
-- a workspace's hour is one run per part and its latest records one or
-- two granules. Measured by hand on a copy of the busiest day of 100
-- million requests (the busiest workspace's busiest hour, 86,103 records
-- in 24 services, p50): the latest hundred records whole 98 to 21 ms, the
-- start time of the hundredth latest 18 to 11, the hour's requests by
-- status code 85 to 15 and by error class 65 to 16. What it costs: a
-- statement that filters by one service reads the service_id of the whole
-- workspace in its range, so a service's hour went from 8 to 20 ms and a
-- day of a service with few records from 6 to 50; such statements are the API's
-- breakdowns by method or node of one service, its recent requests of one
-- service, and the Grafana panels that read the raw table for one service
-- (see analytics/README.md). A record's copies have the same workspace,
-- start time and request_id, so ReplacingMergeTree still folds them.
--
-- The table is rebuilt: a new table filled with every stored row, a check
-- that it holds as many rows as requests, then the two renamed at once
-- (the old one to requests_010) and the old one dropped. The materialized
-- views name the table they read, so they read the new one from the
-- rename on. Stop every collector before running it: records they load
-- into requests during the fill would be missing from the new table, and
-- the check then fails; Kafka keeps the records, and the collectors load
-- them once started again. If the check fails, run DROP TABLE
-- <database>.requests_011 and then up again, with the collectors stopped.
-- Run again after a failure, it starts from its first statement: the
-- first drops the old table only once a rename has made the new one
-- requests, which happens only after the check has passed.

DROP TABLE IF EXISTS {database}.requests_010;

CREATE TABLE IF NOT EXISTS {database}.requests_011 (
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
ORDER BY (workspace, started_at, request_id);

INSERT INTO {database}.requests_011 (request_id, trace_id, started_at, started_at_ms, node_id, workspace, service_id, route_id, route_path, consumer_id, credential_id, method, protocol, host, path, client_ip, user_agent, status, upstream_status, responder, upstream_tries, upstream_addr, latency_total_ms, latency_gateway_ms, latency_upstream_ms, request_bytes, response_bytes, auth_outcome, rate_limit_outcome, error_class, billable, billing_units, kafka_topic, kafka_partition, kafka_offset)
SELECT
    request_id, trace_id, started_at, started_at_ms, node_id, workspace, service_id, route_id, route_path, consumer_id, credential_id, method, protocol, host, path, client_ip, user_agent, status, upstream_status, responder, upstream_tries, upstream_addr, latency_total_ms, latency_gateway_ms, latency_upstream_ms, request_bytes, response_bytes, auth_outcome, rate_limit_outcome, error_class, billable, billing_units, kafka_topic, kafka_partition, kafka_offset
FROM {database}.requests
WHERE (SELECT count() FROM {database}.requests_011) = 0;

-- The check: the new table holds every row of requests. It fails when
-- records were loaded during the fill or the fill was cut short.
SELECT throwIf((SELECT count() FROM {database}.requests_011) != (SELECT count() FROM {database}.requests));

RENAME TABLE {database}.requests TO {database}.requests_010, {database}.requests_011 TO {database}.requests;

DROP TABLE IF EXISTS {database}.requests_010;
