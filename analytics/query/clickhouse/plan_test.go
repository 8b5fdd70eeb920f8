package clickhouse

import (
	"testing"
	"time"

	"github.com/tollgate/tollgate/analytics/query"
)

func TestPlanPicksTheSmallestExactTable(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	w := query.Filter{Workspace: "w"}
	series := func(q query.SeriesQuery) Table {
		q.Filter.Workspace, q.From = "w", t0
		if q.To.IsZero() {
			q.To = t0.Add(24 * time.Hour)
		}
		n, err := q.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		return PlanSeries(n)
	}
	for _, tc := range []struct {
		name string
		got  Table
		want Table
	}{
		{"series by minute", series(query.SeriesQuery{Bucket: time.Minute}), Minute},
		{"series by 15 minutes", series(query.SeriesQuery{}), Minute},
		{"series by hour", series(query.SeriesQuery{Bucket: time.Hour}), Hour},
		{"series by day", series(query.SeriesQuery{Bucket: query.Day, To: t0.Add(30 * query.Day)}), Hour},
		{"series by status", series(query.SeriesQuery{Filter: query.Filter{Status: 404}, Bucket: time.Hour}), Raw},
		{"series by method", series(query.SeriesQuery{Filter: query.Filter{Method: "GET"}}), Raw},
		{"series by node", series(query.SeriesQuery{Filter: query.Filter{NodeID: "n"}}), Raw},
		{"series by status class", series(query.SeriesQuery{Filter: query.Filter{StatusClass: 5}}), Minute},
		{"series with gateway latency", series(query.SeriesQuery{GatewayLatency: true, Bucket: time.Hour}), Raw},
		{"groups over hours", PlanGroups(w, t0, t0.Add(time.Hour), query.ByRoute, false), Hour},
		{"groups over minutes", PlanGroups(w, t0, t0.Add(time.Minute), query.ByConsumer, false), Minute},
		{"groups over seconds", PlanGroups(w, t0, t0.Add(time.Second), query.ByService, false), Raw},
		{"groups by status", PlanGroups(w, t0, t0.Add(time.Hour), query.ByStatus, false), Raw},
		{"groups by status class", PlanGroups(w, t0, t0.Add(time.Hour), query.ByStatusClass, false), Hour},
		{"groups by method", PlanGroups(w, t0, t0.Add(time.Hour), query.ByMethod, false), Raw},
		{"groups by node", PlanGroups(w, t0, t0.Add(time.Hour), query.ByNode, false), Raw},
		{"groups with gateway latency", PlanGroups(w, t0, t0.Add(time.Hour), query.ByRoute, true), Raw},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}

// Every dimension and metric has its SQL, so no query can reach a nil
// map entry.
func TestEveryDimensionAndMetricIsMapped(t *testing.T) {
	for _, d := range query.Dimensions {
		if keyColumn[d].raw == "" {
			t.Errorf("dimension %s has no raw column", d)
		}
	}
	for _, m := range query.AllMetrics {
		if orderExpr[m] == "" {
			t.Errorf("metric %s has no expression", m)
		}
	}
}
