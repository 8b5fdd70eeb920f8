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
// their arguments; the workspace applies unless f reads all of them.
func where(f query.Filter, from, to time.Time) (string, []any) {
	conds := []string{"started_at_ms >= ?", "started_at_ms < ?"}
	args := []any{from.UnixMilli(), to.UnixMilli()}
	add := func(cond string, v any) {
		conds = append(conds, cond)
		args = append(args, v)
	}
	if !f.AllWorkspaces {
		add("workspace = ?", f.Workspace)
	}
	for _, c := range []struct{ cond, v string }{
		{"service_id = ?", f.ServiceID}, {"route_id = ?", f.RouteID}, {"consumer_id = ?", f.ConsumerID},
		{"node_id = ?", f.NodeID}, {"method = ?", f.Method},
	} {
		if c.v != "" {
			add(c.cond, c.v)
		}
	}
	if f.Status != 0 {
		add("status = ?", f.Status)
	}
	if f.StatusClass != 0 {
		add("status / 100 = ?", f.StatusClass)
	}
	return strings.Join(conds, " AND "), args
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
// first column is k, then the metrics in metricsScan's order.
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

// metricsScan receives metricsQuery's metric columns.
type metricsScan struct {
	m       query.Metrics
	l, u, g query.Latency
}

func (s *metricsScan) dest(gateway bool) []any {
	d := []any{&s.m.Requests, &s.m.Errors4xx, &s.m.Errors5xx, &s.m.BytesIn, &s.m.BytesOut,
		&s.l.P50, &s.l.P95, &s.l.P99, &s.u.P50, &s.u.P95, &s.u.P99}
	if gateway {
		d = append(d, &s.g.P50, &s.g.P95, &s.g.P99)
	}
	return d
}

func (s *metricsScan) metrics() query.Metrics {
	m := s.m
	m.Latency, m.Upstream, m.Gateway = s.l, s.u, s.g
	m.Finish()
	return m
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
	defer rows.Close()
	got := map[int64]query.Metrics{}
	for rows.Next() {
		var (
			k int64
			m metricsScan
		)
		if err := rows.Scan(append([]any{&k}, m.dest(q.GatewayLatency)...)...); err != nil {
			return query.Series{}, fmt.Errorf("series: %w", err)
		}
		got[k] = m.metrics()
	}
	if err := rows.Err(); err != nil {
		return query.Series{}, fmt.Errorf("series: %w", err)
	}
	return query.Fill(q, got), nil
}

func (s *Store) groups(ctx context.Context, f query.Filter, from, to time.Time, by query.Dimension,
	order query.Metric, limit int, gateway bool) ([]query.Row, error) {
	cond, args := where(f, from, to)
	stmt := metricsQuery(keyColumn[by], cond, gateway) + " ORDER BY " + orderExpr[order] + " DESC, k ASC LIMIT ?"
	rows, err := s.db.QueryContext(ctx, stmt, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("%s by %s: %w", order, by, err)
	}
	defer rows.Close()
	var out []query.Row
	for rows.Next() {
		var (
			k string
			m metricsScan
		)
		if err := rows.Scan(append([]any{&k}, m.dest(gateway)...)...); err != nil {
			return nil, fmt.Errorf("%s by %s: %w", order, by, err)
		}
		out = append(out, query.Row{Key: k, Metrics: m.metrics()})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s by %s: %w", order, by, err)
	}
	return out, nil
}

// Breakdown implements query.Store.
func (s *Store) Breakdown(ctx context.Context, q query.BreakdownQuery) (query.Breakdown, error) {
	q, err := q.Normalize()
	if err != nil {
		return query.Breakdown{}, err
	}
	rows, err := s.groups(ctx, q.Filter, q.From, q.To, q.By, query.MetricRequests, query.MaxBreakdownRows+1, q.GatewayLatency)
	if err != nil {
		return query.Breakdown{}, err
	}
	b := query.Breakdown{Rows: rows}
	if len(rows) > query.MaxBreakdownRows {
		b.Rows, b.Truncated = rows[:query.MaxBreakdownRows], true
	}
	return b, nil
}

// Top implements query.Store.
func (s *Store) Top(ctx context.Context, q query.TopQuery) ([]query.Row, error) {
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	return s.groups(ctx, q.Filter, q.From, q.To, q.By, q.OrderBy, q.Limit, false)
}

// recentColumns are read in the order Recent scans them.
const recentColumns = "request_id, trace_id, started_at_ms, node_id, workspace, service_id, route_id, route_path, " +
	"consumer_id, credential_id, method, protocol, host, path, client_ip, user_agent, status, upstream_status, responder, " +
	"upstream_tries, upstream_addr, latency_total_ms, latency_gateway_ms, latency_upstream_ms, request_bytes, response_bytes, " +
	"auth_outcome, rate_limit_outcome, error_class, billable, billing_units"

// Recent implements query.Store.
func (s *Store) Recent(ctx context.Context, q query.RecentQuery) ([]logrecord.Record, error) {
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	cond, args := where(q.Filter, q.From, q.To)
	rows, err := s.db.QueryContext(ctx, "SELECT "+recentColumns+" FROM requests WHERE "+cond+
		" ORDER BY started_at_ms DESC, request_id DESC LIMIT ?", append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("recent requests: %w", err)
	}
	defer rows.Close()
	var out []logrecord.Record
	for rows.Next() {
		var (
			r        logrecord.Record
			billable int
		)
		err := rows.Scan(&r.RequestID, &r.TraceID, &r.StartedAt, &r.NodeID, &r.Workspace, &r.ServiceID, &r.RouteID,
			&r.RoutePath, &r.ConsumerID, &r.CredentialID, &r.Method, &r.Protocol, &r.Host, &r.Path, &r.ClientIP,
			&r.UserAgent, &r.Status, &r.UpstreamStatus, &r.Responder, &r.UpstreamTries, &r.UpstreamAddr,
			&r.LatencyTotalMs, &r.LatencyGatewayMs, &r.LatencyUpstreamMs, &r.RequestBytes, &r.ResponseBytes,
			&r.AuthOutcome, &r.RateLimitOutcome, &r.ErrorClass, &billable, &r.BillingUnits)
		if err != nil {
			return nil, fmt.Errorf("recent requests: %w", err)
		}
		r.Billable = billable != 0
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent requests: %w", err)
	}
	return out, nil
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
	defer rows.Close()
	var out []query.UsageRow
	for rows.Next() {
		var (
			k int64
			u query.UsageRow
		)
		if err := rows.Scan(&k, &u.Workspace, &u.ConsumerID, &u.Requests, &u.BillableRequests, &u.BillingUnits); err != nil {
			return nil, fmt.Errorf("usage: %w", err)
		}
		u.Start = time.Unix(k, 0).UTC()
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return out, nil
}
