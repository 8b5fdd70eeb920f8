package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/internal/logrecord"
)

// Store is query.Store over the embedded store's database. It is safe for
// concurrent use.
type Store struct {
	db *sql.DB
}

var _ query.Store = (*Store)(nil)

// New returns a Store reading db, an analytics/embedded database
// (embedded.Store.DB()). It does not own db.
func New(db *sql.DB) *Store { return &Store{db: db} }

// keyColumn maps a dimension to its expression in requests. Status keys
// are text, as in ClickHouse, so that keys sort the same in both stores.
var keyColumn = map[query.Dimension]string{
	query.ByWorkspace:   "workspace",
	query.ByService:     "service_id",
	query.ByRoute:       "route_id",
	query.ByConsumer:    "consumer_id",
	query.ByStatus:      "CAST(status AS TEXT)",
	query.ByStatusClass: "CAST(status / 100 AS TEXT)",
	query.ByMethod:      "method",
	query.ByNode:        "node_id",
	query.ByErrorClass:  "error_class",
}

// orderExpr maps a metric to the aliases of the metrics query.
var orderExpr = map[query.Metric]string{
	query.MetricRequests:   "m_requests",
	query.MetricErrors:     "m_4xx + m_5xx",
	query.MetricErrors5xx:  "m_5xx",
	query.MetricBytesOut:   "m_out",
	query.MetricLatencyP95: "t95",
}

// where returns the conditions on requests for f over [from, to) and
// their arguments.
func where(f query.Filter, from, to time.Time) (string, []any) {
	return query.Where("started_at_ms >= ? AND started_at_ms < ?", []any{from.UnixMilli(), to.UnixMilli()}, f, "status / 100")
}

// rank returns the condition "r is at or past the nearest rank of
// percentile pct among n": rank ceil(pct/100 * n), in integers.
func rank(r string, pct int) string {
	return fmt.Sprintf("%s >= (n * %d + 99) / 100", r, pct)
}

// percentiles returns the p50, p95 and p99 columns of latency lv ranked by
// rv, aliased with prefix.
func percentiles(lv, rv, prefix string) string {
	var cols []string
	for _, p := range []int{50, 95, 99} {
		cols = append(cols, fmt.Sprintf("min(CASE WHEN %s THEN %s END) AS %s%d", rank(rv, p), lv, prefix, p))
	}
	return strings.Join(cols, ", ")
}

// metricsQuery returns a statement that groups the records of cond by key
// and computes every metric; the caller appends ORDER BY and LIMIT. Its
// first column is k, then the metrics in scanMetrics' order.
func metricsQuery(key, cond string, gateway bool) string {
	rankCols := "row_number() OVER (PARTITION BY k ORDER BY lt) AS rt, row_number() OVER (PARTITION BY k ORDER BY lu) AS ru"
	pcts := percentiles("lt", "rt", "t") + ", " + percentiles("lu", "ru", "u")
	if gateway {
		rankCols += ", row_number() OVER (PARTITION BY k ORDER BY lg) AS rg"
		pcts += ", " + percentiles("lg", "rg", "g")
	}
	return "SELECT k, count(*) AS m_requests, " +
		"sum(CASE WHEN status BETWEEN 400 AND 499 THEN 1 ELSE 0 END) AS m_4xx, " +
		"sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END) AS m_5xx, " +
		"sum(request_bytes) AS m_in, sum(response_bytes) AS m_out, " + pcts +
		" FROM (SELECT *, count(*) OVER (PARTITION BY k) AS n, " + rankCols +
		" FROM (SELECT " + key + " AS k, status, request_bytes, response_bytes, latency_total_ms AS lt, " +
		"latency_upstream_ms AS lu, latency_gateway_ms AS lg FROM requests WHERE " + cond + ")) GROUP BY k"
}

// scanMetrics receives metricsQuery's columns.
func scanMetrics(rows query.Rows, key any, gateway bool) (query.Metrics, error) {
	var m query.Metrics
	dest := []any{key, &m.Requests, &m.Errors4xx, &m.Errors5xx, &m.BytesIn, &m.BytesOut,
		&m.Latency.P50, &m.Latency.P95, &m.Latency.P99, &m.Upstream.P50, &m.Upstream.P95, &m.Upstream.P99}
	if gateway {
		dest = append(dest, &m.Gateway.P50, &m.Gateway.P95, &m.Gateway.P99)
	}
	if err := rows.Scan(dest...); err != nil {
		return query.Metrics{}, err
	}
	return m, nil
}

// Series implements query.Store.
func (s *Store) Series(ctx context.Context, q query.SeriesQuery) (query.Series, error) {
	q, err := q.Normalize()
	if err != nil {
		return query.Series{}, err
	}
	cond, wargs := where(q.Filter, q.From, q.To)
	b := query.Seconds(q.Bucket)
	// The bucket's start in Unix seconds; the two arguments lead the
	// statement's arguments because the key comes first in its text.
	stmt := metricsQuery("(started_at_ms / ?) * ?", cond, q.GatewayLatency)
	rows, err := s.db.QueryContext(ctx, stmt, append([]any{b * 1000, b}, wargs...)...)
	if err != nil {
		return query.Series{}, fmt.Errorf("series: %w", err)
	}
	series, err := query.ReadSeries(rows, q, scanMetrics)
	if err != nil {
		return query.Series{}, fmt.Errorf("series: %w", err)
	}
	return series, nil
}

func (s *Store) groups(ctx context.Context, q query.GroupQuery) ([]query.Row, error) {
	cond, args := where(q.Filter, q.From, q.To)
	stmt := metricsQuery(keyColumn[q.By], cond, q.GatewayLatency) + " ORDER BY " + orderExpr[q.OrderBy] + " DESC, k ASC LIMIT ?"
	rows, err := s.db.QueryContext(ctx, stmt, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("%s by %s: %w", q.OrderBy, q.By, err)
	}
	out, err := query.ReadRows(rows, q.GatewayLatency, scanMetrics)
	if err != nil {
		return nil, fmt.Errorf("%s by %s: %w", q.OrderBy, q.By, err)
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
	cond, args := where(q.Filter, q.From, q.To)
	rows, err := s.db.QueryContext(ctx, "SELECT "+query.RecordColumns+" FROM requests WHERE "+cond+
		" ORDER BY started_at_ms DESC, request_id DESC LIMIT ?", append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("recent requests: %w", err)
	}
	out, err := query.Collect(rows, scanRecord)
	if err != nil {
		return nil, fmt.Errorf("recent requests: %w", err)
	}
	return out, nil
}

// scanRecord receives query.RecordColumns.
func scanRecord(rows query.Rows) (logrecord.Record, error) {
	var (
		r        logrecord.Record
		billable int
	)
	err := rows.Scan(&r.RequestID, &r.TraceID, &r.StartedAt, &r.NodeID, &r.Workspace, &r.ServiceID, &r.RouteID,
		&r.RoutePath, &r.ConsumerID, &r.CredentialID, &r.Method, &r.Protocol, &r.Host, &r.Path, &r.ClientIP,
		&r.UserAgent, &r.Status, &r.UpstreamStatus, &r.Responder, &r.UpstreamTries, &r.UpstreamAddr,
		&r.LatencyTotalMs, &r.LatencyGatewayMs, &r.LatencyUpstreamMs, &r.RequestBytes, &r.ResponseBytes,
		&r.AuthOutcome, &r.RateLimitOutcome, &r.ErrorClass, &billable, &r.BillingUnits)
	r.Billable = billable != 0
	return r, err
}

// Usage implements query.Store, with ClickHouse's consumer_usage_by_hour
// semantics: billing units count for billable records only.
func (s *Store) Usage(ctx context.Context, q query.UsageQuery) ([]query.UsageRow, error) {
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	cond, wargs := where(q.Filter, q.From, q.To)
	p := query.Seconds(q.Per)
	rows, err := s.db.QueryContext(ctx, "SELECT (started_at_ms / ?) * ? AS k, workspace, consumer_id, count(*), "+
		"sum(CASE WHEN billable = 1 THEN 1 ELSE 0 END), sum(CASE WHEN billable = 1 THEN billing_units ELSE 0 END) "+
		"FROM requests WHERE "+cond+" GROUP BY k, workspace, consumer_id ORDER BY k, workspace, consumer_id",
		append([]any{p * 1000, p}, wargs...)...)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	out, err := query.ReadUsage(rows)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return out, nil
}
