// Package clickhouse answers analytics queries (query.Store) from the
// request log in ClickHouse, as schema/clickhouse lays it out.
//
// It picks, for every query, the smallest tables that answer it exactly
// (PlanSeries, PlanGroups): the traffic rollups keep the same aggregate
// states per workspace, period and status class, with more or fewer keys
// (service; consumer; service, status code and error class; service and
// route; service, route and consumer) and periods (day, hour, minute), and
// a query reads the one with the fewest keys that
// covers its filters and grouping, at the longest period its range or
// buckets are whole units of. A long breakdown or top-N whose range is not
// whole periods of one rollup is split: whole days, hours and minutes
// from the rollups and the seconds at its edges from the raw table, the
// parts' states combined with UNION ALL and merged once. The raw requests
// table answers what the rollups do not keep (method, node, gateway
// latency, a status code or error class with a route or consumer, short
// sub-minute ranges) and recent requests, read from the last hour, then
// from the latest hours that an hour rollup counts enough requests of the
// filter in (the last day for a filter no rollup keeps), then the whole
// range, until one holds enough;
// consumer_usage_by_day answers daily usage and consumer_usage_by_hour
// hourly usage.
//
// Raw reads do not use FINAL: the collector loads every record once
// (offsets in ClickHouse, resends checked by request id), so the raw table
// has no duplicates to collapse, and the rollups, which FINAL cannot
// correct, would disagree with a deduplicated raw read if it had. Recent
// requests add LIMIT 1 BY request_id, which costs nothing on a few
// hundred rows.
//
// Every statement is fixed text chosen from maps in this package, with the
// caller's values as bind arguments (the driver quotes them); no caller
// string ever becomes SQL. It only reads: it never writes to or alters the
// database, and it does not own the connection.
//
// Every statement runs on ClickHouse 18.16 and on current releases: no
// functions newer than 18.16 (toStartOfInterval, WITH FILL, parameterized
// queries on the server), intDiv on Unix seconds for buckets, and every
// result cast to the Go type it is scanned into.
package clickhouse
