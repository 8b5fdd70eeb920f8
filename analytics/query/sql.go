package query

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/keep"
)

// What the SQL stores share: they differ in the statements they write and
// in how their drivers hand back metric columns; the filter conditions,
// the answers to breakdowns and top-N, and the assembly of results from
// rows are the same for both and live here.

// Rows is a result set, as database/sql and clickhouse-go both return it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// ScanMetrics scans the current row of a store's metrics statement: the
// first column into key, the metrics (with the gateway's latency when
// gateway) into the Metrics returned. It leaves derived fields to the
// caller.
type ScanMetrics func(rows Rows, key any, gateway bool) (Metrics, error)

// Collect returns scan's value for every row of rows, and closes rows.
func Collect[T any](rows Rows, scan func(Rows) (T, error)) ([]T, error) {
	return CollectInto(rows, nil, scan)
}

// CollectInto is Collect appending to out.
func CollectInto[T any](rows Rows, out []T, scan func(Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// RecordColumns are a record's columns in the requests table of either
// store, in the order the stores scan them into a logrecord.Record.
const RecordColumns = "request_id, trace_id, started_at_ms, node_id, workspace, service_id, route_id, route_path, " +
	"consumer_id, credential_id, method, protocol, host, path, client_ip, user_agent, status, upstream_status, responder, " +
	"upstream_tries, upstream_addr, latency_total_ms, latency_gateway_ms, latency_upstream_ms, request_bytes, response_bytes, " +
	"auth_outcome, rate_limit_outcome, error_class, billable, billing_units"

// ReadSeries returns the series of a normalized q from rows keyed by their
// bucket's start in Unix seconds (see fill), and closes rows.
func ReadSeries(rows Rows, q SeriesQuery, scan ScanMetrics) (Series, error) {
	points, err := Collect(rows, func(rows Rows) (Point, error) {
		var k int64
		m, err := scan(rows, &k, q.GatewayLatency)
		return Point{Start: time.Unix(k, 0), Metrics: m}, err
	})
	if err != nil {
		return Series{}, err
	}
	got := make(map[int64]Metrics, len(points))
	for _, p := range points {
		got[p.Start.Unix()] = p.Metrics
	}
	return fill(q, got), nil
}

// ReadRows returns the rows of a grouped statement keyed by a string, and
// closes rows.
func ReadRows(rows Rows, gateway bool, scan ScanMetrics) ([]Row, error) {
	return Collect(rows, func(rows Rows) (Row, error) {
		var r Row
		m, err := scan(rows, &r.Key, gateway)
		r.Metrics = m
		r.Finish()
		return r, err
	})
}

// usageRows keeps the slices of usage answers handed back by
// ReleaseUsage for the next answers: a 30-day daily answer holds tens of
// thousands of rows, and growing a new slice for each one took a fifth of
// the answer's time. Up to 4 slices of up to a million rows (80 MB).
var usageRows = keep.NewSlices[UsageRow](4, 1<<20)

// ReleaseUsage hands back a usage answer (a Store's Usage) that its caller
// has done with, for a later answer to reuse. Nothing may read rows after.
func ReleaseUsage(rows []UsageRow) { usageRows.Put(rows) }

// ReadUsage returns the rows of a usage statement, whose columns are the
// period's start in Unix seconds, then UsageRow's fields in their order,
// and closes rows. The slice may be one that ReleaseUsage handed back.
func ReadUsage(rows Rows) ([]UsageRow, error) {
	return CollectInto(rows, usageRows.Get(), func(rows Rows) (UsageRow, error) {
		var (
			k int64
			u UsageRow
		)
		err := rows.Scan(&k, &u.Workspace, &u.ConsumerID, &u.Requests, &u.BillableRequests, &u.BillingUnits)
		u.Start = time.Unix(k, 0).UTC()
		return u, err
	})
}

// SumUsage sorts rows by period, workspace and consumer, as a usage
// answer is ordered, and adds up the rows of the same key into one: a
// store that reads a summing table's rows as they are, before a merge has
// added them up, finishes the sum here.
func SumUsage(rows []UsageRow) []UsageRow {
	sortUsage(rows)
	out := rows[:0]
	for _, r := range rows {
		if n := len(out); n > 0 && compareUsage(&out[n-1], &r) == 0 {
			out[n-1].Requests += r.Requests
			out[n-1].BillableRequests += r.BillableRequests
			out[n-1].BillingUnits += r.BillingUnits
			continue
		}
		out = append(out, r)
	}
	return out
}

func compareUsage(a, b *UsageRow) int {
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	if c := strings.Compare(a.Workspace, b.Workspace); c != 0 {
		return c
	}
	return strings.Compare(a.ConsumerID, b.ConsumerID)
}

// mergeBufs keeps sortUsage's merge buffers from one answer to the next.
var mergeBufs = keep.NewSlices[UsageRow](4, 1<<20)

// sortUsage orders rows by compareUsage. A store reads a table part by
// part, each part in its sorting key's order, which for a table
// partitioned by day is the answer's order: rows arrive as a few sorted
// runs. sortUsage merges adjacent runs, pass after pass, in O(n log runs);
// rows with many runs are sorted instead.
func sortUsage(rows []UsageRow) {
	var runs []int
	for i := range rows {
		if i == 0 || compareUsage(&rows[i-1], &rows[i]) > 0 {
			runs = append(runs, i)
		}
	}
	if len(runs) <= 1 {
		return
	}
	if len(runs) > len(rows)/8 {
		slices.SortFunc(rows, func(a, b UsageRow) int { return compareUsage(&a, &b) })
		return
	}
	buf := mergeBufs.Get()
	if cap(buf) < len(rows) {
		buf = make([]UsageRow, len(rows))
	}
	src, dst := rows, buf[:len(rows)]
	for len(runs) > 1 {
		next := runs[:0]
		for i := 0; i < len(runs); i += 2 {
			lo, mid, hi := runs[i], len(src), len(src)
			if i+1 < len(runs) {
				mid = runs[i+1]
			}
			if i+2 < len(runs) {
				hi = runs[i+2]
			}
			mergeUsage(dst[lo:hi], src[lo:mid], src[mid:hi])
			next = append(next, lo)
		}
		runs = next
		src, dst = dst, src
	}
	if &src[0] != &rows[0] {
		copy(rows, src)
	}
	mergeBufs.Put(buf)
}

// mergeUsage merges the sorted a and b into dst, whose length is theirs.
func mergeUsage(dst, a, b []UsageRow) {
	i, j := 0, 0
	for k := range dst {
		if j == len(b) || (i < len(a) && compareUsage(&a[i], &b[j]) <= 0) {
			dst[k] = a[i]
			i++
		} else {
			dst[k] = b[j]
			j++
		}
	}
}

// Where returns the conditions that select f's records, joined by AND,
// and their arguments: span, the store's conditions on the range with
// spanArgs, then the workspace unless f reads all of them, then every set
// filter. class is the store's expression for a record's status class.
// Values are bind arguments, never SQL text.
func Where(span string, spanArgs []any, f Filter, class string) (string, []any) {
	var b strings.Builder
	b.WriteString(span)
	args := spanArgs
	add := func(cond string, v any) {
		b.WriteString(" AND ")
		b.WriteString(cond)
		b.WriteString(" = ?")
		args = append(args, v)
	}
	if !f.AllWorkspaces {
		add("workspace", f.Workspace)
	}
	for _, c := range []struct{ column, v string }{
		{"service_id", f.ServiceID}, {"route_id", f.RouteID}, {"consumer_id", f.ConsumerID},
		{"node_id", f.NodeID}, {"method", f.Method}, {"error_class", f.ErrorClass},
	} {
		if c.v != "" {
			add(c.column, c.v)
		}
	}
	if f.Status != 0 {
		add("status", f.Status)
	}
	if f.StatusClass != 0 {
		add(class, f.StatusClass)
	}
	if f.ErrorsOnly {
		b.WriteString(" AND " + class + " >= 4")
	}
	return b.String(), args
}

// GroupQuery is a normalized breakdown or top-N as a store runs it: the
// metrics of Filter's records over [From, To) per value of By, by OrderBy
// (highest first) then key, at most Limit rows.
type GroupQuery struct {
	Filter
	From, To       time.Time
	By             Dimension
	OrderBy        Metric
	Limit          int
	GatewayLatency bool
}

// Groups is a store's grouped statement; Breakdown and Top answer their
// queries with it.
type Groups func(ctx context.Context, q GroupQuery) ([]Row, error)

// Breakdown validates q and answers it with g.
func (g Groups) Breakdown(ctx context.Context, q BreakdownQuery) (Breakdown, error) {
	q, err := q.Normalize()
	if err != nil {
		return Breakdown{}, err
	}
	// One row more than returned says whether there were more.
	rows, err := g(ctx, GroupQuery{Filter: q.Filter, From: q.From, To: q.To, By: q.By,
		OrderBy: MetricRequests, Limit: MaxBreakdownRows + 1, GatewayLatency: q.GatewayLatency})
	if err != nil {
		return Breakdown{}, err
	}
	if len(rows) > MaxBreakdownRows {
		return Breakdown{Rows: rows[:MaxBreakdownRows], Truncated: true}, nil
	}
	return Breakdown{Rows: rows}, nil
}

// Top validates q and answers it with g.
func (g Groups) Top(ctx context.Context, q TopQuery) ([]Row, error) {
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	return g(ctx, GroupQuery{Filter: q.Filter, From: q.From, To: q.To, By: q.By, OrderBy: q.OrderBy, Limit: q.Limit})
}
