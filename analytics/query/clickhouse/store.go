package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/internal/logrecord"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

// Table is a table queries read.
type Table string

// The tables of schema/clickhouse that queries read.
const (
	Raw    Table = "requests"
	Minute Table = "requests_by_minute"
	Hour   Table = "requests_by_hour"
	Usage  Table = "consumer_usage_by_hour"
)

// Store is query.Store over a ClickHouse database. It is safe for
// concurrent use.
type Store struct {
	conn driver.Conn
	db   string
}

var _ query.Store = (*Store)(nil)

// New returns a Store reading database over conn. It does not own conn.
func New(conn driver.Conn, database string) (*Store, error) {
	// The database name is the one identifier that is not a constant of
	// this package: it comes from configuration, and is checked.
	if !clickhousemigrate.ValidDatabase(database) {
		return nil, fmt.Errorf("analytics store: invalid clickhouse database name %q", database)
	}
	return &Store{conn: conn, db: database}, nil
}

// rawOnly says whether a query needs columns that only the raw table has.
func rawOnly(f query.Filter, by query.Dimension, gateway bool) bool {
	switch by {
	case query.ByStatus, query.ByMethod, query.ByNode, query.ByErrorClass:
		return true
	}
	return gateway || f.Status != 0 || f.Method != "" || f.NodeID != "" || f.ErrorClass != ""
}

// PlanSeries returns the table that serves a normalized series query.
func PlanSeries(q query.SeriesQuery) Table {
	switch {
	case rawOnly(q.Filter, "", q.GatewayLatency):
		return Raw
	case q.Bucket >= time.Hour:
		return Hour // Normalize aligned the range to the bucket, so to the hour
	}
	return Minute
}

// PlanGroups returns the table that serves a normalized breakdown or
// top-N over [from, to): a rollup only when the range is whole units of
// it, so that it counts exactly the records in the range.
func PlanGroups(f query.Filter, from, to time.Time, by query.Dimension, gateway bool) Table {
	switch {
	case rawOnly(f, by, gateway):
		return Raw
	case query.Aligned(from, time.Hour) && query.Aligned(to, time.Hour):
		return Hour
	case query.Aligned(from, time.Minute) && query.Aligned(to, time.Minute):
		return Minute
	}
	return Raw
}

// timeColumn is each table's time column, which also prunes partitions.
var timeColumn = map[Table]string{Raw: "started_at", Minute: "minute", Hour: "hour", Usage: "hour"}

// keyColumn maps a dimension to its expression in the raw table and in
// the traffic rollups (empty where the rollups lack it).
var keyColumn = map[query.Dimension]struct{ raw, rollup string }{
	query.ByWorkspace:   {"workspace", "workspace"},
	query.ByService:     {"service_id", "service_id"},
	query.ByRoute:       {"route_id", "route_id"},
	query.ByConsumer:    {"consumer_id", "consumer_id"},
	query.ByStatus:      {"toString(status)", ""},
	query.ByStatusClass: {"toString(intDiv(status, 100))", "toString(status_class)"},
	query.ByMethod:      {"method", ""},
	query.ByNode:        {"node_id", ""},
	query.ByErrorClass:  {"error_class", ""},
}

// orderExpr maps a metric to the aliases of metricsSelect.
var orderExpr = map[query.Metric]string{
	query.MetricRequests:   "m_requests",
	query.MetricErrors:     "m_4xx + m_5xx",
	query.MetricErrors5xx:  "m_5xx",
	query.MetricBytesOut:   "m_out",
	query.MetricLatencyP95: "m_total[3]",
}

// The rollups keep t-digests for these levels, and quantilesTDigestMerge
// must name the same: p50, p95 and p99 are the 1st, 3rd and 4th.
const levels = "0.5, 0.9, 0.95, 0.99"

// metricsSelect returns the metric columns of a SELECT from t. Aliases
// never reuse a column name (18.16 rejects that) and everything is cast
// to the type Scan receives: quantiles are Float32 on 18.16.
func metricsSelect(t Table, gateway bool) string {
	if t == Raw {
		s := "toInt64(count()) AS m_requests, " +
			"toInt64(countIf(status >= 400 AND status < 500)) AS m_4xx, " +
			"toInt64(countIf(status >= 500)) AS m_5xx, " +
			"toInt64(sum(request_bytes)) AS m_in, toInt64(sum(response_bytes)) AS m_out, " +
			"arrayMap(x -> toFloat64(x), quantilesTDigest(" + levels + ")(latency_total_ms)) AS m_total, " +
			"arrayMap(x -> toFloat64(x), quantilesTDigest(" + levels + ")(latency_upstream_ms)) AS m_upstream"
		if gateway {
			s += ", arrayMap(x -> toFloat64(x), quantilesTDigest(" + levels + ")(latency_gateway_ms)) AS m_gateway"
		}
		return s
	}
	return "toInt64(sumMerge(requests)) AS m_requests, " +
		"toInt64(sumMerge(errors)) - toInt64(sumMerge(server_errors)) AS m_4xx, " +
		"toInt64(sumMerge(server_errors)) AS m_5xx, " +
		"toInt64(sumMerge(request_bytes_total)) AS m_in, toInt64(sumMerge(response_bytes_total)) AS m_out, " +
		"arrayMap(x -> toFloat64(x), quantilesTDigestMerge(" + levels + ")(latency_total)) AS m_total, " +
		"arrayMap(x -> toFloat64(x), quantilesTDigestMerge(" + levels + ")(latency_upstream)) AS m_upstream"
}

// scanMetrics receives metricsSelect's columns after the key.
func scanMetrics(rows query.Rows, key any, gateway bool) (query.Metrics, error) {
	var (
		m                  query.Metrics
		total, upstream, g []float64
	)
	dest := []any{key, &m.Requests, &m.Errors4xx, &m.Errors5xx, &m.BytesIn, &m.BytesOut, &total, &upstream}
	if gateway {
		dest = append(dest, &g)
	}
	if err := rows.Scan(dest...); err != nil {
		return query.Metrics{}, err
	}
	m.Latency, m.Upstream, m.Gateway = latency(total), latency(upstream), latency(g)
	return m, nil
}

// latency reads the percentiles p50, p95 and p99 out of the levels.
func latency(q []float64) query.Latency {
	if len(q) != 4 {
		return query.Latency{}
	}
	return query.Latency{P50: q[0], P95: q[2], P99: q[3]}
}

// where returns the WHERE clause for t over [from, to) and its arguments.
// The planner sends filters on raw-only columns to Raw, and UsageQuery
// accepts only the workspace, service and consumer filters.
func where(t Table, f query.Filter, from, to time.Time) (string, []any) {
	tc := timeColumn[t]
	class := "status_class"
	if t == Raw {
		class = "intDiv(status, 100)"
	}
	return query.Where(tc+" >= toDateTime(?) AND "+tc+" < toDateTime(?)", []any{from.Unix(), to.Unix()}, f, class)
}

func (s *Store) from(t Table) string { return s.db + "." + string(t) }

// Series implements query.Store.
func (s *Store) Series(ctx context.Context, q query.SeriesQuery) (query.Series, error) {
	q, err := q.Normalize()
	if err != nil {
		return query.Series{}, err
	}
	t := PlanSeries(q)
	w, wargs := where(t, q.Filter, q.From, q.To)
	stmt := "SELECT toInt64(intDiv(toUInt32(" + timeColumn[t] + "), ?) * ?) AS k_bucket, " +
		metricsSelect(t, q.GatewayLatency) + " FROM " + s.from(t) + " WHERE " + w + " GROUP BY k_bucket"
	b := query.Seconds(q.Bucket)
	rows, err := s.conn.Query(ctx, stmt, append([]any{b, b}, wargs...)...)
	if err != nil {
		return query.Series{}, fmt.Errorf("series from %s: %w", t, err)
	}
	series, err := query.ReadSeries(rows, q, scanMetrics)
	if err != nil {
		return query.Series{}, fmt.Errorf("series from %s: %w", t, err)
	}
	return series, nil
}

// groups runs a GROUP BY a dimension, ordered by a metric.
func (s *Store) groups(ctx context.Context, q query.GroupQuery) ([]query.Row, error) {
	t := PlanGroups(q.Filter, q.From, q.To, q.By, q.GatewayLatency)
	key := keyColumn[q.By].rollup
	if t == Raw {
		key = keyColumn[q.By].raw
	}
	w, args := where(t, q.Filter, q.From, q.To)
	stmt := "SELECT " + key + " AS k_key, " + metricsSelect(t, q.GatewayLatency) + " FROM " + s.from(t) +
		" WHERE " + w + " GROUP BY k_key ORDER BY " + orderExpr[q.OrderBy] + " DESC, k_key ASC LIMIT ?"
	rows, err := s.conn.Query(ctx, stmt, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("%s by %s from %s: %w", q.OrderBy, q.By, t, err)
	}
	out, err := query.ReadRows(rows, q.GatewayLatency, scanMetrics)
	if err != nil {
		return nil, fmt.Errorf("%s by %s from %s: %w", q.OrderBy, q.By, t, err)
	}
	return out, nil
}

// Breakdown implements query.Store.
func (s *Store) Breakdown(ctx context.Context, q query.BreakdownQuery) (query.Breakdown, error) {
	return query.Groups(s.groups).Breakdown(ctx, q)
}

// Top implements query.Store.
func (s *Store) Top(ctx context.Context, q query.TopQuery) ([]query.Row, error) {
	return query.Groups(s.groups).Top(ctx, q)
}

// Recent implements query.Store.
func (s *Store) Recent(ctx context.Context, q query.RecentQuery) ([]logrecord.Record, error) {
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	w, args := where(Raw, q.Filter, q.From, q.To)
	stmt := "SELECT " + query.RecordColumns + " FROM " + s.from(Raw) + " WHERE " + w +
		" ORDER BY started_at_ms DESC, request_id DESC LIMIT 1 BY request_id LIMIT ?"
	rows, err := s.conn.Query(ctx, stmt, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("recent requests: %w", err)
	}
	out, err := query.Collect(rows, scanRecord)
	if err != nil {
		return nil, fmt.Errorf("recent requests: %w", err)
	}
	return out, nil
}

// scanRecord receives query.RecordColumns, whose small integers are unsigned.
func scanRecord(rows query.Rows) (logrecord.Record, error) {
	var (
		r                         logrecord.Record
		status, upStatus, upTries uint16
		billable                  uint8
	)
	err := rows.Scan(&r.RequestID, &r.TraceID, &r.StartedAt, &r.NodeID, &r.Workspace, &r.ServiceID, &r.RouteID,
		&r.RoutePath, &r.ConsumerID, &r.CredentialID, &r.Method, &r.Protocol, &r.Host, &r.Path, &r.ClientIP,
		&r.UserAgent, &status, &upStatus, &r.Responder, &upTries, &r.UpstreamAddr,
		&r.LatencyTotalMs, &r.LatencyGatewayMs, &r.LatencyUpstreamMs, &r.RequestBytes, &r.ResponseBytes,
		&r.AuthOutcome, &r.RateLimitOutcome, &r.ErrorClass, &billable, &r.BillingUnits)
	r.Status, r.UpstreamStatus, r.UpstreamTries, r.Billable = int(status), int(upStatus), int(upTries), billable != 0
	return r, err
}

// Usage implements query.Store. consumer_usage_by_hour is a
// SummingMergeTree: rows of a key not yet merged are added by sum().
func (s *Store) Usage(ctx context.Context, q query.UsageQuery) ([]query.UsageRow, error) {
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	w, wargs := where(Usage, q.Filter, q.From, q.To)
	stmt := "SELECT toInt64(intDiv(toUInt32(hour), ?) * ?) AS k_bucket, workspace, consumer_id, " +
		"toInt64(sum(requests)) AS u_requests, toInt64(sum(billable_requests)) AS u_billable, " +
		"toInt64(sum(billing_units_total)) AS u_units FROM " + s.from(Usage) + " WHERE " + w +
		" GROUP BY k_bucket, workspace, consumer_id ORDER BY k_bucket, workspace, consumer_id"
	p := query.Seconds(q.Per)
	rows, err := s.conn.Query(ctx, stmt, append([]any{p, p}, wargs...)...)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	out, err := query.ReadUsage(rows)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return out, nil
}
