package clickhouse

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/analytics/query/querytest"
)

func TestPlanSeriesPicksTheSmallestExactTable(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	series := func(q query.SeriesQuery) Table {
		if !q.AllWorkspaces {
			q.Workspace = "w"
		}
		q.From = t0
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
		{"by minute", series(query.SeriesQuery{Bucket: time.Minute}), MinuteWorkspace},
		{"by 15 minutes", series(query.SeriesQuery{}), MinuteWorkspace},
		{"a service by minute", series(query.SeriesQuery{Filter: query.Filter{ServiceID: "s"}, Bucket: time.Minute}), MinuteService},
		{"a route by minute", series(query.SeriesQuery{Filter: query.Filter{RouteID: "r"}, Bucket: time.Minute}), MinuteRoute},
		{"by hour", series(query.SeriesQuery{Bucket: time.Hour}), HourWorkspace},
		{"by 6 hours", series(query.SeriesQuery{Bucket: 6 * time.Hour, To: t0.Add(30 * query.Day)}), HourWorkspace},
		{"by day", series(query.SeriesQuery{Bucket: query.Day, To: t0.Add(30 * query.Day)}), DayService},
		{"all workspaces by hour", series(query.SeriesQuery{Filter: query.Filter{AllWorkspaces: true}, Bucket: time.Hour}), HourAll},
		{"all workspaces by 6 hours", series(query.SeriesQuery{Filter: query.Filter{AllWorkspaces: true}, Bucket: 6 * time.Hour, To: t0.Add(30 * query.Day)}), HourAll},
		{"all workspaces by minute", series(query.SeriesQuery{Filter: query.Filter{AllWorkspaces: true}, Bucket: time.Minute}), MinuteWorkspace},
		{"all workspaces, a service by hour", series(query.SeriesQuery{Filter: query.Filter{AllWorkspaces: true, ServiceID: "s"}, Bucket: time.Hour}), HourService},
		{"a service by hour", series(query.SeriesQuery{Filter: query.Filter{ServiceID: "s"}, Bucket: time.Hour}), HourService},
		{"a route by hour", series(query.SeriesQuery{Filter: query.Filter{RouteID: "r"}, Bucket: time.Hour}), HourRoute},
		{"a route by day", series(query.SeriesQuery{Filter: query.Filter{RouteID: "r"}, Bucket: query.Day, To: t0.Add(30 * query.Day)}), DayRoute},
		{"a consumer by hour", series(query.SeriesQuery{Filter: query.Filter{ConsumerID: "c"}, Bucket: time.Hour}), HourConsumer},
		{"a consumer by day", series(query.SeriesQuery{Filter: query.Filter{ConsumerID: "c"}, Bucket: query.Day, To: t0.Add(30 * query.Day)}), DayConsumer},
		{"a consumer of a service by hour", series(query.SeriesQuery{Filter: query.Filter{ConsumerID: "c", ServiceID: "s"}, Bucket: time.Hour}), Hour},
		{"a consumer by minute", series(query.SeriesQuery{Filter: query.Filter{ConsumerID: "c"}, Bucket: time.Minute}), Minute},
		{"status class by hour", series(query.SeriesQuery{Filter: query.Filter{StatusClass: 5, ErrorsOnly: true}, Bucket: time.Hour}), HourWorkspace},
		{"by status", series(query.SeriesQuery{Filter: query.Filter{Status: 404}, Bucket: time.Hour}), HourStatus},
		{"by status and service", series(query.SeriesQuery{Filter: query.Filter{Status: 404, ServiceID: "s"}, Bucket: query.Day, To: t0.Add(30 * query.Day)}), DayStatus},
		{"by status by minute", series(query.SeriesQuery{Filter: query.Filter{Status: 404}, Bucket: time.Minute}), Raw},
		{"by status and consumer", series(query.SeriesQuery{Filter: query.Filter{Status: 404, ConsumerID: "c"}, Bucket: time.Hour}), Raw},
		{"by method", series(query.SeriesQuery{Filter: query.Filter{Method: "GET"}}), Raw},
		{"by node", series(query.SeriesQuery{Filter: query.Filter{NodeID: "n"}}), Raw},
		{"by error class", series(query.SeriesQuery{Filter: query.Filter{ErrorClass: "timeout"}, Bucket: query.Day}), DayStatus},
		{"by status class", series(query.SeriesQuery{Filter: query.Filter{StatusClass: 5}}), MinuteWorkspace},
		{"with gateway latency", series(query.SeriesQuery{GatewayLatency: true, Bucket: time.Hour}), HourWorkspace},
	} {
		if tc.got != tc.want {
			t.Errorf("series %s: %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}

// plan renders a plan as "table [from, to)" parts, times as offsets from
// t0 in Go's duration syntax.
func plan(t0 time.Time, parts []Part) string {
	var out []string
	for _, p := range parts {
		out = append(out, fmt.Sprintf("%s [%s, %s)", p.Table, p.From.Sub(t0), p.To.Sub(t0)))
	}
	return strings.Join(out, " + ")
}

func TestPlanGroupsPicksTheSmallestExactTables(t *testing.T) {
	t0 := querytest.T0 // a Monday: weeks start on the Thursday before
	w := query.Filter{Workspace: "w"}
	all := query.Filter{AllWorkspaces: true}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const h, m, s, day = time.Hour, time.Minute, time.Second, query.Day
	for _, tc := range []struct {
		name     string
		f        query.Filter
		from, to time.Duration
		by       query.Dimension
		want     string
	}{
		{name: "days by service", from: 0, to: 30 * day, by: query.ByService, want: "requests_by_day_service [0s, 720h0m0s)"},
		{name: "days by status class", from: 0, to: day, by: query.ByStatusClass, want: "requests_by_day_service [0s, 24h0m0s)"},
		{name: "days by route", from: 0, to: day, by: query.ByRoute, want: "requests_by_day_route [0s, 24h0m0s)"},
		{name: "days by workspace for a route", f: query.Filter{RouteID: "r"}, from: 0, to: day, by: query.ByWorkspace, want: "requests_by_day_route [0s, 24h0m0s)"},
		{name: "days by consumer", from: 0, to: day, by: query.ByConsumer, want: "requests_by_day_consumer [0s, 24h0m0s)"},
		{name: "hours by consumer", from: 0, to: h, by: query.ByConsumer, want: "requests_by_hour_consumer [0s, 1h0m0s)"},
		{name: "hours by consumer for a route", f: query.Filter{RouteID: "r"}, from: 0, to: h, by: query.ByConsumer, want: "requests_by_hour [0s, 1h0m0s)"},
		{name: "hours by service", from: 0, to: h, by: query.ByService, want: "requests_by_hour_service [0s, 1h0m0s)"},
		{name: "hours by workspace", from: 0, to: h, by: query.ByWorkspace, want: "requests_by_hour_workspace [0s, 1h0m0s)"},
		{name: "hours by route", from: 0, to: h, by: query.ByRoute, want: "requests_by_hour_route [0s, 1h0m0s)"},
		{name: "hours by service for a consumer", f: query.Filter{ConsumerID: "c"}, from: 0, to: h, by: query.ByService, want: "requests_by_hour [0s, 1h0m0s)"},
		{name: "hours by status class", from: 0, to: h, by: query.ByStatusClass, want: "requests_by_hour_workspace [0s, 1h0m0s)"},
		{name: "minutes", from: 0, to: m, by: query.ByConsumer, want: "requests_by_minute [0s, 1m0s)"},
		{name: "the last hour by service", from: 7 * m, to: h + 7*m, by: query.ByService, want: "requests_by_minute_service [7m0s, 1h7m0s)"},
		{name: "the last hour by route", from: 7 * m, to: h + 7*m, by: query.ByRoute, want: "requests_by_minute_route [7m0s, 1h7m0s)"},
		{name: "seconds", from: 0, to: s, by: query.ByService, want: "requests [0s, 1s)"},
		{name: "hours and seconds, short", from: 10 * s, to: 5*h + 5*s, by: query.ByService, want: "requests [10s, 5h0m5s)"},
		{name: "by status", from: 0, to: h, by: query.ByStatus, want: "requests_by_hour_status [0s, 1h0m0s)"},
		{name: "by status for a service", f: query.Filter{ServiceID: "s"}, from: 0, to: day, by: query.ByStatus, want: "requests_by_day_status [0s, 24h0m0s)"},
		{name: "by status for a route", f: query.Filter{RouteID: "r"}, from: 0, to: h, by: query.ByStatus, want: "requests [0s, 1h0m0s)"},
		{name: "by consumer for an error class", f: query.Filter{ErrorClass: "timeout"}, from: 0, to: h, by: query.ByConsumer, want: "requests [0s, 1h0m0s)"},
		{name: "by method", from: 0, to: h, by: query.ByMethod, want: "requests [0s, 1h0m0s)"},
		{name: "by node", from: 0, to: h, by: query.ByNode, want: "requests [0s, 1h0m0s)"},
		{name: "by error class", from: 0, to: 30 * day, by: query.ByErrorClass, want: "requests_by_day_status [0s, 720h0m0s)"},
		{
			name: "30 days ending at a second, by service", from: -30*day + 13*h + 7*m + 5*s, to: 13*h + 7*m + 5*s, by: query.ByService,
			want: "requests [-706h52m55s, -706h52m0s) + requests_by_minute_service [-706h52m0s, -706h0m0s) + " +
				"requests_by_hour_service [-706h0m0s, -696h0m0s) + requests_by_day_service [-696h0m0s, 0s) + " +
				"requests_by_hour_service [0s, 13h0m0s) + requests_by_minute_service [13h0m0s, 13h7m0s) + requests [13h7m0s, 13h7m5s)",
		},
		{
			name: "30 days ending at a minute, by route", from: -30*day + 13*h + 7*m, to: 13*h + 7*m, by: query.ByRoute,
			// t0 is a Monday; weeks start on Thursdays (-600h and -96h).
			want: "requests_by_minute_route [-706h53m0s, -706h0m0s) + requests_by_hour_route [-706h0m0s, -696h0m0s) + " +
				"requests_by_day_route [-696h0m0s, -600h0m0s) + requests_by_week_route [-600h0m0s, -96h0m0s) + " +
				"requests_by_day_route [-96h0m0s, 0s) + requests_by_hour_route [0s, 13h0m0s) + requests_by_minute_route [13h0m0s, 13h7m0s)",
		},
		{
			// The conformance suite's "a week and seconds": its records
			// are read from the week rollup.
			name: "the suite's week and seconds, by route", from: -4*day - 20*m + 7*s, to: 3*day + 5*s, by: query.ByRoute,
			want: "requests [-96h19m53s, -96h19m0s) + requests_by_minute_route [-96h19m0s, -96h0m0s) + " +
				"requests_by_week_route [-96h0m0s, 72h0m0s) + requests [72h0m0s, 72h0m5s)",
		},
		{
			name: "whole weeks by route", from: 3 * day, to: 17 * day, by: query.ByRoute,
			want: "requests_by_week_route [72h0m0s, 408h0m0s)",
		},
		{
			name: "whole weeks for a route", f: query.Filter{RouteID: "r"}, from: 3 * day, to: 17 * day, by: query.ByConsumer,
			want: "requests_by_hour [72h0m0s, 408h0m0s)",
		},
		{
			name: "days and a week by route, errors only", f: query.Filter{ErrorsOnly: true}, from: 0, to: 12 * day, by: query.ByRoute,
			want: "requests_by_day_route [0s, 72h0m0s) + requests_by_week_route [72h0m0s, 240h0m0s) + requests_by_day_route [240h0m0s, 288h0m0s)",
		},
		{
			// Weeks of the route rollup would merge a state per route
			// where the service rollup's days merge one.
			name: "whole weeks by service", from: 3 * day, to: 17 * day, by: query.ByService,
			want: "requests_by_day_service [72h0m0s, 408h0m0s)",
		},
		{
			name: "30 days ending at a second, by consumer", from: -30*day + 5*s, to: 5 * s, by: query.ByConsumer,
			want: "requests [-719h59m55s, -719h59m0s) + requests_by_minute [-719h59m0s, -719h0m0s) + " +
				"requests_by_hour_consumer [-719h0m0s, -696h0m0s) + requests_by_day_consumer [-696h0m0s, 0s) + requests [0s, 5s)",
		},
		{
			// No minute rollup keeps status codes: the raw table reads
			// up to the hours.
			name: "30 days ending at a second, by status", from: -30*day + 13*h + 7*m + 5*s, to: 13*h + 7*m + 5*s, by: query.ByStatus,
			want: "requests [-706h52m55s, -706h0m0s) + requests_by_hour_status [-706h0m0s, -696h0m0s) + " +
				"requests_by_day_status [-696h0m0s, 0s) + requests_by_hour_status [0s, 13h0m0s) + requests [13h0m0s, 13h7m5s)",
		},
		{
			name: "30 whole hours without a whole day, by route", from: 5 * h, to: 35 * h, by: query.ByRoute,
			want: "requests_by_hour_route [5h0m0s, 35h0m0s)",
		},
		{
			name: "50 whole hours by route", from: 5 * h, to: 55 * h, by: query.ByRoute,
			want: "requests_by_hour_route [5h0m0s, 24h0m0s) + requests_by_day_route [24h0m0s, 48h0m0s) + requests_by_hour_route [48h0m0s, 55h0m0s)",
		},
		{
			name: "30 whole days by consumer", from: 0, to: 30 * day, by: query.ByConsumer,
			want: "requests_by_day_consumer [0s, 720h0m0s)",
		},
		{
			name: "hours ending at a second", from: 30 * m, to: 10*h + 30*s, by: query.ByWorkspace,
			want: "requests_by_minute_workspace [30m0s, 1h0m0s) + requests_by_hour_workspace [1h0m0s, 10h0m0s) + requests [10h0m0s, 10h0m30s)",
		},
		{name: "all workspaces, hours by status class", f: all, from: 0, to: h, by: query.ByStatusClass, want: "requests_by_hour_all [0s, 1h0m0s)"},
		{name: "all workspaces, hours by workspace", f: all, from: 0, to: h, by: query.ByWorkspace, want: "requests_by_hour_workspace [0s, 1h0m0s)"},
		{name: "all workspaces, minutes by workspace", f: all, from: 0, to: m, by: query.ByWorkspace, want: "requests_by_minute_workspace [0s, 1m0s)"},
		{
			name: "all workspaces, 30 days ending at a minute, by status class", f: all, from: -30*day + 13*h + 7*m, to: 13*h + 7*m, by: query.ByStatusClass,
			want: "requests_by_minute_workspace [-706h53m0s, -706h0m0s) + requests_by_hour_all [-706h0m0s, -696h0m0s) + " +
				"requests_by_day_service [-696h0m0s, 0s) + requests_by_hour_all [0s, 13h0m0s) + requests_by_minute_workspace [13h0m0s, 13h7m0s)",
		},
		{
			name: "seconds within the first minute", from: 10 * s, to: 7*h + 20*s, by: query.ByService,
			want: "requests [10s, 1m0s) + requests_by_minute_service [1m0s, 1h0m0s) + requests_by_hour_service [1h0m0s, 7h0m0s) + requests [7h0m0s, 7h0m20s)",
		},
	} {
		f := tc.f
		if !f.AllWorkspaces {
			f.Workspace = w.Workspace
		}
		parts := PlanGroups(f, at(tc.from), at(tc.to), tc.by)
		if got := plan(t0, parts); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
		// The parts cover the range once, in order.
		for i, p := range parts {
			if !p.From.Before(p.To) {
				t.Errorf("%s: empty part %d", tc.name, i)
			}
			if i > 0 && !p.From.Equal(parts[i-1].To) {
				t.Errorf("%s: part %d does not start where %d ends", tc.name, i, i-1)
			}
		}
		if len(parts) == 0 || !parts[0].From.Equal(at(tc.from)) || !parts[len(parts)-1].To.Equal(at(tc.to)) {
			t.Errorf("%s: parts do not cover the range", tc.name)
		}
	}
}

// Every dimension and metric has its SQL, every table its time column, and
// every dimension a rollup groups by has its column there, so no query can
// reach a nil map entry.
func TestEveryDimensionAndMetricIsMapped(t *testing.T) {
	for _, d := range query.Dimensions {
		if keyColumn[d].raw == "" {
			t.Errorf("dimension %s has no raw column", d)
		}
		if !rawOnly(query.Filter{}, d) && keyColumn[d].rollup == "" {
			t.Errorf("dimension %s goes to the rollups, which have no column for it", d)
		}
	}
	for _, m := range query.AllMetrics {
		if orderExpr[m] == "" {
			t.Errorf("metric %s has no expression", m)
		}
	}
	for _, r := range rollups {
		if timeColumn[r.table] == "" || !slices.Contains(steps, periodOf[r.table]) {
			t.Errorf("rollup %s has no time column or a period the planner does not read (%v)", r.table, periodOf[r.table])
		}
	}
	for _, tb := range []Table{Raw, Usage, UsageDay} {
		if timeColumn[tb] == "" {
			t.Errorf("table %s has no time column", tb)
		}
	}
}

func TestPlanUsageReadsDaysForDailyUsage(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 5, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		per     time.Duration
		service string
		want    Table
	}{
		{0, "", UsageDay},
		{query.Day, "", UsageDay},
		{time.Hour, "", Usage},
		{query.Day, "s", Usage},
	} {
		q, err := query.UsageQuery{Filter: query.Filter{Workspace: "w", ServiceID: tc.service}, From: t0, To: t0.Add(30 * query.Day), Per: tc.per}.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		if got := PlanUsage(q); got != tc.want {
			t.Errorf("usage per %v, service %q: %s, want %s", tc.per, tc.service, got, tc.want)
		}
	}
}

func TestLeadersFirstOnlyWhereItSavesWork(t *testing.T) {
	rollup := []Part{{Table: DayConsumer}}
	split := []Part{{Table: Raw}, {Table: HourConsumer}, {Table: DayConsumer}}
	raw := []Part{{Table: Raw}}
	top := func(m query.Metric) query.GroupQuery {
		return query.GroupQuery{By: query.ByConsumer, OrderBy: m, Limit: query.DefaultTopLimit}
	}
	breakdown := query.GroupQuery{By: query.ByConsumer, OrderBy: query.MetricRequests, Limit: query.MaxBreakdownRows + 1}
	for _, tc := range []struct {
		name  string
		parts []Part
		q     query.GroupQuery
		want  bool
	}{
		{"top by requests from a rollup", rollup, top(query.MetricRequests), true},
		{"top by errors over a split range", split, top(query.MetricErrors), true},
		{"top by bytes, the most rows", rollup, query.GroupQuery{By: query.ByRoute, OrderBy: query.MetricBytesOut, Limit: query.MaxTopLimit}, true},
		{"top by p95 needs every latency state", rollup, top(query.MetricLatencyP95), false},
		{"a breakdown returns most keys", rollup, breakdown, false},
		{"the raw table would be read twice", raw, top(query.MetricRequests), false},
	} {
		if got := leadersFirst(tc.parts, tc.q); got != tc.want {
			t.Errorf("%s: leadersFirst = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSplitRangeReadsEachTableOnce: a split range is one SELECT per
// table, its parts' ranges joined by OR, with an argument for every
// placeholder.
func TestSplitRangeReadsEachTableOnce(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	s := &Store{db: "db"}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		keys     []any
		selects  int
		ors      int
	}{
		// Seconds, minutes and hours on both sides, days on both sides
		// of the weeks: five tables.
		{"30 days ending at a second", t0.Add(-30*query.Day + 5*time.Second), t0.Add(13*time.Hour + 7*time.Minute + 5*time.Second), nil, 5, 4},
		{"30 days ending at an hour, some keys", t0.Add(-30*query.Day + 13*time.Hour), t0.Add(13 * time.Hour), []any{"a", "b"}, 3, 2},
		{"whole weeks", t0.Add(3 * query.Day), t0.Add(17 * query.Day), nil, 1, 0},
	} {
		q := query.GroupQuery{Filter: query.Filter{Workspace: "w"}, From: tc.from, To: tc.to, By: query.ByRoute,
			OrderBy: query.MetricRequests, Limit: 10}
		parts := PlanGroups(q.Filter, q.From, q.To, q.By)
		stmt, args := s.groupStatement(parts, q, tc.keys, false)
		if n := strings.Count(stmt, "SELECT "); n != tc.selects+min(tc.selects-1, 1) {
			t.Errorf("%s: %d SELECTs for %d tables in %s", tc.name, n, tc.selects, stmt)
		}
		if n := strings.Count(stmt, ") OR ("); n != tc.ors {
			t.Errorf("%s: %d ORs; want %d in %s", tc.name, n, tc.ors, stmt)
		}
		if n := strings.Count(stmt, "?"); n != len(args) {
			t.Errorf("%s: %d placeholders, %d arguments", tc.name, n, len(args))
		}
	}
}
