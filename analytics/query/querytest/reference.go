package querytest

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/internal/logrecord"
)

// The reference answers queries by walking the records in Go: the
// obvious, slow definition every store must agree with.

// match says whether r is selected by f over [from, to).
func match(r *logrecord.Record, f query.Filter, from, to time.Time) bool {
	switch {
	case r.StartedAt < from.UnixMilli() || r.StartedAt >= to.UnixMilli():
	case !f.AllWorkspaces && r.Workspace != f.Workspace:
	case f.ServiceID != "" && r.ServiceID != f.ServiceID:
	case f.RouteID != "" && r.RouteID != f.RouteID:
	case f.ConsumerID != "" && r.ConsumerID != f.ConsumerID:
	case f.NodeID != "" && r.NodeID != f.NodeID:
	case f.Method != "" && r.Method != f.Method:
	case f.Status != 0 && r.Status != f.Status:
	case f.StatusClass != 0 && r.Status/100 != f.StatusClass:
	case f.ErrorClass != "" && r.ErrorClass != f.ErrorClass:
	case f.ErrorsOnly && r.Status < 400:
	default:
		return true
	}
	return false
}

// group is the records of a bucket or key, and their latencies sorted.
type group struct {
	m                        query.Metrics
	total, upstream, gateway []float64
	key                      string
}

func (g *group) add(r *logrecord.Record) {
	g.m.Requests++
	switch {
	case r.Status >= 500:
		g.m.Errors5xx++
	case r.Status >= 400:
		g.m.Errors4xx++
	}
	g.m.BytesIn += r.RequestBytes
	g.m.BytesOut += r.ResponseBytes
	g.total = append(g.total, r.LatencyTotalMs)
	g.upstream = append(g.upstream, r.LatencyUpstreamMs)
	g.gateway = append(g.gateway, r.LatencyGatewayMs)
}

// NearestRank returns the exact percentile p (0..1) of sorted values: the
// value at rank ceil(p*n).
func NearestRank(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	k := (len(sorted)*int(math.Round(p*100)) + 99) / 100
	return sorted[max(k, 1)-1]
}

func exact(sorted []float64) query.Latency {
	return query.Latency{P50: NearestRank(sorted, 0.5), P95: NearestRank(sorted, 0.95), P99: NearestRank(sorted, 0.99)}
}

func (g *group) finish(gateway bool) {
	slices.Sort(g.total)
	slices.Sort(g.upstream)
	slices.Sort(g.gateway)
	g.m.Latency, g.m.Upstream = exact(g.total), exact(g.upstream)
	if gateway {
		g.m.Gateway = exact(g.gateway)
	}
	g.m.Finish()
}

func keyOf(r *logrecord.Record, by query.Dimension) string {
	switch by {
	case query.ByWorkspace:
		return r.Workspace
	case query.ByService:
		return r.ServiceID
	case query.ByRoute:
		return r.RouteID
	case query.ByConsumer:
		return r.ConsumerID
	case query.ByStatus:
		return strconv.Itoa(r.Status)
	case query.ByStatusClass:
		return strconv.Itoa(r.Status / 100)
	case query.ByMethod:
		return r.Method
	case query.ByNode:
		return r.NodeID
	case query.ByErrorClass:
		return r.ErrorClass
	}
	panic("querytest: unknown dimension " + string(by))
}

// refSeries answers a normalized series query; groups are by bucket start.
func refSeries(recs []logrecord.Record, q query.SeriesQuery) []*group {
	var out []*group
	for t := q.From; t.Before(q.To); t = t.Add(q.Bucket) {
		g := &group{}
		for i := range recs {
			if match(&recs[i], q.Filter, t, t.Add(q.Bucket)) {
				g.add(&recs[i])
			}
		}
		g.finish(q.GatewayLatency)
		out = append(out, g)
	}
	return out
}

// refGroups answers a breakdown or top-N over [from, to), ordered by
// metric and key.
func refGroups(recs []logrecord.Record, f query.Filter, from, to time.Time, by query.Dimension, order query.Metric, gateway bool) []*group {
	byKey := map[string]*group{}
	for i := range recs {
		r := &recs[i]
		if !match(r, f, from, to) {
			continue
		}
		k := keyOf(r, by)
		g := byKey[k]
		if g == nil {
			g = &group{key: k}
			byKey[k] = g
		}
		g.add(r)
	}
	var out []*group
	for _, g := range byKey {
		g.finish(gateway)
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *group) int {
		if c := cmp.Compare(metricValue(b.m, order), metricValue(a.m, order)); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	return out
}

func metricValue(m query.Metrics, order query.Metric) float64 {
	switch order {
	case query.MetricErrors:
		return float64(m.Errors4xx + m.Errors5xx)
	case query.MetricErrors5xx:
		return float64(m.Errors5xx)
	case query.MetricBytesOut:
		return float64(m.BytesOut)
	case query.MetricLatencyP95:
		return m.Latency.P95
	}
	return float64(m.Requests)
}

// refRecent answers a normalized recent query.
func refRecent(recs []logrecord.Record, q query.RecentQuery) []logrecord.Record {
	var out []logrecord.Record
	for i := range recs {
		if match(&recs[i], q.Filter, q.From, q.To) {
			out = append(out, recs[i])
		}
	}
	slices.SortFunc(out, func(a, b logrecord.Record) int {
		if c := cmp.Compare(b.StartedAt, a.StartedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.RequestID, a.RequestID)
	})
	return out[:min(len(out), q.Limit)]
}

// refUsage answers a normalized usage query.
func refUsage(recs []logrecord.Record, q query.UsageQuery) []query.UsageRow {
	type key struct {
		start               int64
		workspace, consumer string
	}
	rows := map[key]*query.UsageRow{}
	for i := range recs {
		r := &recs[i]
		if !match(r, q.Filter, q.From, q.To) {
			continue
		}
		start := time.UnixMilli(r.StartedAt).UTC().Truncate(q.Per)
		k := key{start.Unix(), r.Workspace, r.ConsumerID}
		u := rows[k]
		if u == nil {
			u = &query.UsageRow{Start: start, Workspace: r.Workspace, ConsumerID: r.ConsumerID}
			rows[k] = u
		}
		u.Requests++
		if r.Billable {
			u.BillableRequests++
			u.BillingUnits += r.BillingUnits
		}
	}
	var out []query.UsageRow
	for _, u := range rows {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b query.UsageRow) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Workspace, b.Workspace), cmp.Compare(a.ConsumerID, b.ConsumerID))
	})
	return out
}
