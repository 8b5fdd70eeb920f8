// Package clickhouse answers analytics queries (query.Store) from the
// request log in ClickHouse, as schema/clickhouse lays it out.
//
// It picks, for every query, the smallest table that answers it exactly
// (Plan): requests_by_hour when the range is whole hours and the bucket an
// hour or more, requests_by_minute when it is whole minutes, the raw
// requests table when the query needs what the rollups do not keep (status
// code, method, node, gateway latency, sub-minute ranges) and for recent
// requests; consumer_usage_by_hour for usage. Raw reads do not use FINAL:
// the collector loads every record once (offsets in ClickHouse, resends
// checked by request id), so the raw table has no duplicates to collapse,
// and the rollups, which FINAL cannot correct, would disagree with a
// deduplicated raw read if it had. Recent requests add LIMIT 1 BY
// request_id, which costs nothing on a few hundred rows.
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
