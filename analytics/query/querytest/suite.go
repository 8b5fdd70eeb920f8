package querytest

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/internal/logrecord"
)

// Loader puts records into the store under test the way production does
// (the collector's INSERT, the embedded store's Load), failing t if it
// cannot.
type Loader func(t *testing.T, recs []logrecord.Record)

// NewStore returns an empty store under test and its Loader. It is called
// once per Run; cleanups go through t.
type NewStore func(t *testing.T) (query.Store, Loader)

// Suite is the conformance suite with its options.
type Suite struct {
	// ExactPercentiles requires percentiles to equal the nearest-rank
	// values; otherwise (t-digests, latency buckets) they must lie within
	// a few ranks of them, give or take 1 % (Within).
	ExactPercentiles bool
}

// Run runs the conformance suite with estimated percentiles allowed.
func Run(t *testing.T, newStore NewStore) { Suite{}.Run(t, newStore) }

// Run seeds a new store with Records, in two loads as two collector
// batches would, and checks every query against the hand-written numbers
// and the reference evaluation in Go.
func (s Suite) Run(t *testing.T, newStore NewStore) {
	store, load := newStore(t)
	recs := Records()
	load(t, recs[:len(recs)/2])
	load(t, recs[len(recs)/2:])
	c := &checker{Suite: s, store: store, recs: recs}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"HandSeries", c.handSeries},
		{"HandBreakdownAndTop", c.handBreakdownAndTop},
		{"HandRecent", c.handRecent},
		{"HandUsage", c.handUsage},
		{"GapFilling", c.gapFilling},
		{"Series", c.series},
		{"Breakdown", c.breakdown},
		{"BreakdownTotalsEqualSeriesTotals", c.totals},
		{"Top", c.top},
		{"Recent", c.recent},
		{"Usage", c.usage},
		{"Tenancy", c.tenancy},
		{"Validation", c.validation},
		{"Injection", c.injection},
	} {
		t.Run(tc.name, tc.run)
	}
}

type checker struct {
	Suite
	store query.Store
	recs  []logrecord.Record
}

func acme(f query.Filter) query.Filter {
	f.Workspace = Acme
	return f
}

// checkLatency checks a percentile set against sorted exact values.
func (c *checker) checkLatency(t *testing.T, label string, got query.Latency, sorted []float64) {
	t.Helper()
	for _, p := range []struct {
		name string
		p    float64
		v    float64
	}{{"p50", 0.5, got.P50}, {"p95", 0.95, got.P95}, {"p99", 0.99, got.P99}} {
		want := NearestRank(sorted, p.p)
		ok := p.v == want
		if !ok && !c.ExactPercentiles {
			ok = Within(sorted, p.p, p.v)
		}
		if !ok {
			t.Errorf("%s %s = %g, want %g (nearest rank of %d values)", label, p.name, p.v, want, len(sorted))
		}
	}
}

// Within says whether v is an acceptable estimate of percentile p of
// sorted: within 1 + 5% of n ranks of the nearest rank (t-digests
// interpolate between values and merge approximately), give or take 1 %
// of the value (ClickHouse's rollups count latencies in buckets 2 % wide
// and give a bucket's middle), with Float32's precision (18.16's
// quantiles are Float32).
func Within(sorted []float64, p, v float64) bool {
	n := len(sorted)
	if n == 0 {
		return v == 0
	}
	k := (n*int(math.Round(p*100)) + 99) / 100
	d := 1 + n/20
	lo, hi := sorted[max(0, k-1-d)], sorted[min(n-1, k-1+d)]
	eps := 1e-4 * max(1, math.Abs(hi))
	return v >= lo*(1-bucketError)-eps && v <= hi*(1+bucketError)+eps
}

// bucketError is how far a percentile read from ClickHouse's latency
// buckets may be from a recorded latency, relative to it: half a bucket.
const bucketError = 0.01

// checkMetrics compares metrics with the reference's group.
func (c *checker) checkMetrics(t *testing.T, label string, got query.Metrics, want *group, gateway bool) {
	t.Helper()
	w := want.m
	if got.Requests != w.Requests || got.Errors4xx != w.Errors4xx || got.Errors5xx != w.Errors5xx ||
		got.BytesIn != w.BytesIn || got.BytesOut != w.BytesOut {
		t.Errorf("%s: requests %d, 4xx %d, 5xx %d, bytes %d/%d; want %d, %d, %d, %d/%d", label,
			got.Requests, got.Errors4xx, got.Errors5xx, got.BytesIn, got.BytesOut,
			w.Requests, w.Errors4xx, w.Errors5xx, w.BytesIn, w.BytesOut)
	}
	if math.Abs(got.ErrorRate-w.ErrorRate) > 1e-12 {
		t.Errorf("%s: error rate %g, want %g", label, got.ErrorRate, w.ErrorRate)
	}
	if w.Requests == 0 {
		if got.Latency != (query.Latency{}) || got.Upstream != (query.Latency{}) || got.Gateway != (query.Latency{}) {
			t.Errorf("%s: latencies %+v without requests, want zeros", label, got)
		}
		return
	}
	c.checkLatency(t, label+" latency", got.Latency, want.total)
	c.checkLatency(t, label+" upstream latency", got.Upstream, want.upstream)
	if gateway {
		c.checkLatency(t, label+" gateway latency", got.Gateway, want.gateway)
	} else if got.Gateway != (query.Latency{}) {
		t.Errorf("%s: gateway latency %+v not asked for, want zeros", label, got.Gateway)
	}
}

// checkSeries runs q and compares it point by point with the reference.
func (c *checker) checkSeries(t *testing.T, q query.SeriesQuery) query.Series {
	t.Helper()
	got, err := c.store.Series(t.Context(), q)
	if err != nil {
		t.Fatalf("Series(%+v): %v", q, err)
	}
	nq, _ := q.Normalize()
	if !got.From.Equal(nq.From) || !got.To.Equal(nq.To) || got.Bucket != nq.Bucket {
		t.Errorf("series covers [%s, %s) by %s, want [%s, %s) by %s", got.From, got.To, got.Bucket, nq.From, nq.To, nq.Bucket)
	}
	want := refSeries(c.recs, nq)
	if len(got.Points) != len(want) {
		t.Fatalf("%d points, want %d (one per bucket)", len(got.Points), len(want))
	}
	for i, p := range got.Points {
		start := nq.From.Add(time.Duration(i) * nq.Bucket)
		if !p.Start.Equal(start) || p.Start.Location() != time.UTC {
			t.Errorf("point %d starts at %s, want %s UTC", i, p.Start, start)
		}
		c.checkMetrics(t, fmt.Sprintf("point %s", p.Start.Format("01-02T15:04")), p.Metrics, want[i], nq.GatewayLatency)
	}
	return got
}

func (c *checker) checkRows(t *testing.T, label string, got []query.Row, want []*group, gateway bool) {
	t.Helper()
	gotKeys, wantKeys := make([]string, len(got)), make([]string, len(want))
	for i := range got {
		gotKeys[i] = got[i].Key
	}
	for i := range want {
		wantKeys[i] = want[i].key
	}
	if !reflect.DeepEqual(gotKeys, wantKeys) {
		t.Fatalf("%s: keys %q, want %q", label, gotKeys, wantKeys)
	}
	for i := range got {
		c.checkMetrics(t, fmt.Sprintf("%s %q", label, got[i].Key), got[i].Metrics, want[i], gateway)
	}
}

func (c *checker) handSeries(t *testing.T) {
	hand := acme(query.Filter{RouteID: "r-hand"})
	s, err := c.store.Series(t.Context(), query.SeriesQuery{Filter: hand, From: T0.Add(10 * time.Hour), To: T0.Add(10*time.Hour + 5*time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Bucket != time.Minute || len(s.Points) != 5 {
		t.Fatalf("5 minutes: bucket %s, %d points; want 1m and 5", s.Bucket, len(s.Points))
	}
	type counts struct {
		req, e4, e5, in, out int64
		rate                 float64
	}
	want := []counts{{2, 0, 0, 300, 3000, 0}, {}, {2, 1, 1, 700, 7000, 1}, {}, {}}
	for i, p := range s.Points {
		got := counts{p.Requests, p.Errors4xx, p.Errors5xx, p.BytesIn, p.BytesOut, p.ErrorRate}
		if got != want[i] {
			t.Errorf("minute %d: %+v, want %+v", i, got, want[i])
		}
	}
	c.checkLatency(t, "10:00", s.Points[0].Latency, []float64{10, 20})
	c.checkLatency(t, "10:02 upstream", s.Points[2].Upstream, []float64{24, 32})

	// By hour, with filters that combine: GET and 5xx is h4 alone.
	s, err = c.store.Series(t.Context(), query.SeriesQuery{Filter: acme(query.Filter{RouteID: "r-hand", Method: "GET", StatusClass: 5}),
		From: T0.Add(10 * time.Hour), To: T0.Add(12 * time.Hour), Bucket: time.Hour, GatewayLatency: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Points) != 2 || s.Points[0].Requests != 1 || s.Points[0].Errors5xx != 1 || s.Points[1].Requests != 0 {
		t.Fatalf("GET 5xx by hour: %+v; want h4 alone in the first hour", s.Points)
	}
	if g := s.Points[0].Gateway; g != (query.Latency{P50: 8, P95: 8, P99: 8}) && !c.approx(g, 8) {
		t.Errorf("h4's gateway latency %+v, want 8", g)
	}
}

func (c *checker) approx(l query.Latency, v float64) bool {
	return !c.ExactPercentiles && Within([]float64{v}, 0.5, l.P50) && Within([]float64{v}, 0.95, l.P95) && Within([]float64{v}, 0.99, l.P99)
}

func (c *checker) handBreakdownAndTop(t *testing.T) {
	ctx := t.Context()
	hand := acme(query.Filter{RouteID: "r-hand"})
	from, to := T0.Add(10*time.Hour), T0.Add(12*time.Hour)
	b, err := c.store.Breakdown(ctx, query.BreakdownQuery{Filter: hand, From: from, To: to, By: query.ByMethod})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range b.Rows {
		got = append(got, fmt.Sprintf("%s=%d", r.Key, r.Requests))
	}
	if want := "GET=3 DELETE=1 POST=1"; strings.Join(got, " ") != want || b.Truncated {
		t.Errorf("by method: %s (truncated %v), want %s", strings.Join(got, " "), b.Truncated, want)
	}
	for _, tc := range []struct {
		q    query.TopQuery
		want string
	}{
		{query.TopQuery{By: query.ByStatus, OrderBy: query.MetricLatencyP95}, "500 503 404 201 200"},
		{query.TopQuery{By: query.ByConsumer, Limit: 2}, "alice bob"},
		{query.TopQuery{By: query.ByConsumer, OrderBy: query.MetricErrors, Limit: 2}, `bob ""`},
		{query.TopQuery{By: query.ByNode, OrderBy: query.MetricBytesOut}, "n1 n2"},
		{query.TopQuery{By: query.ByStatusClass, OrderBy: query.MetricErrors5xx}, `5 2 4`},
	} {
		q := tc.q
		q.Filter, q.From, q.To = hand, from, to
		rows, err := c.store.Top(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, r := range rows {
			k := r.Key
			if k == "" {
				k = `""`
			}
			keys = append(keys, k)
		}
		if strings.Join(keys, " ") != tc.want {
			t.Errorf("top %s by %s: %s, want %s", q.By, q.OrderBy, strings.Join(keys, " "), tc.want)
		}
	}
}

func (c *checker) handRecent(t *testing.T) {
	got, err := c.store.Recent(t.Context(), query.RecentQuery{Filter: acme(query.Filter{RouteID: "r-hand"}),
		From: T0, To: T0.Add(query.Day), Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	hand := HandRecords()
	want := []logrecord.Record{hand[4], hand[3], hand[2]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("recent r-hand, 3:\n%+v\nwant (newest first, every field)\n%+v", got, want)
	}
}

func (c *checker) handUsage(t *testing.T) {
	f := acme(query.Filter{ServiceID: "svc-h"})
	at := func(h int) time.Time { return T0.Add(time.Duration(h) * time.Hour) }
	for _, tc := range []struct {
		name string
		q    query.UsageQuery
		want []query.UsageRow
	}{
		{"per hour", query.UsageQuery{Filter: f, From: at(10), To: at(12), Per: time.Hour}, []query.UsageRow{
			{Start: at(10), Workspace: Acme, ConsumerID: "alice", Requests: 2, BillableRequests: 2, BillingUnits: 5},
			{Start: at(10), Workspace: Acme, ConsumerID: "bob", Requests: 2, BillableRequests: 1, BillingUnits: 1},
			{Start: at(11), Workspace: Acme, ConsumerID: "", Requests: 1},
		}},
		{"per day, one consumer", query.UsageQuery{Filter: query.Filter{Workspace: Acme, ServiceID: "svc-h", ConsumerID: "bob"},
			From: at(10), To: at(11)}, []query.UsageRow{
			{Start: T0, Workspace: Acme, ConsumerID: "bob", Requests: 2, BillableRequests: 1, BillingUnits: 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.store.Usage(t.Context(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("usage\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func (c *checker) gapFilling(t *testing.T) {
	// Before any traffic: every bucket, all zeros.
	s := c.checkSeries(t, query.SeriesQuery{Filter: acme(query.Filter{}), From: T0.Add(-2 * time.Hour), To: T0})
	if len(s.Points) != 120 {
		t.Errorf("2 hours without traffic: %d points, want 120", len(s.Points))
	}
	// The fourth hour has no traffic between hours that have.
	s = c.checkSeries(t, query.SeriesQuery{Filter: acme(query.Filter{}), From: T0, To: T0.Add(12 * time.Hour), Bucket: time.Hour})
	if len(s.Points) != 12 || s.Points[3].Requests != 0 || s.Points[2].Requests == 0 || s.Points[4].Requests == 0 {
		t.Errorf("hours 2..4: %d, %d, %d requests; want traffic, none, traffic", s.Points[2].Requests, s.Points[3].Requests, s.Points[4].Requests)
	}
	// A range that is not whole buckets covers the buckets it touches.
	s = c.checkSeries(t, query.SeriesQuery{Filter: acme(query.Filter{}), From: T0.Add(7*time.Minute + 13*time.Second),
		To: T0.Add(4*time.Hour + 50*time.Minute), Bucket: 15 * time.Minute})
	if !s.From.Equal(T0) || !s.To.Equal(T0.Add(5*time.Hour)) || len(s.Points) != 20 {
		t.Errorf("[00:07:13, 04:50) by 15m covers [%s, %s) in %d points, want [00:00, 05:00) in 20", s.From, s.To, len(s.Points))
	}
}

func (c *checker) series(t *testing.T) {
	h := func(n float64) time.Time { return T0.Add(time.Duration(n * float64(time.Hour))) }
	for _, tc := range []struct {
		name string
		q    query.SeriesQuery
	}{
		{"two hours, automatic minutes", query.SeriesQuery{Filter: acme(query.Filter{}), From: h(0), To: h(2)}},
		{"twelve hours by hour", query.SeriesQuery{Filter: acme(query.Filter{}), From: h(0), To: h(12), Bucket: time.Hour}},
		{"by 5 minutes", query.SeriesQuery{Filter: acme(query.Filter{}), From: h(1), To: h(3), Bucket: 5 * time.Minute}},
		{"by 6 hours", query.SeriesQuery{Filter: acme(query.Filter{}), From: h(-24), To: h(48), Bucket: 6 * time.Hour}},
		{"by day", query.SeriesQuery{Filter: acme(query.Filter{}), From: h(-24), To: h(48), Bucket: query.Day}},
		{"service and consumer", query.SeriesQuery{Filter: acme(query.Filter{ServiceID: "svc-a", ConsumerID: "alice"}), From: h(0), To: h(12), Bucket: time.Hour}},
		{"route and status class", query.SeriesQuery{Filter: acme(query.Filter{RouteID: "r-b1", StatusClass: 4}), From: h(0), To: h(6), Bucket: 15 * time.Minute}},
		{"a route by hour", query.SeriesQuery{Filter: acme(query.Filter{RouteID: "r-b1"}), From: h(0), To: h(12), Bucket: time.Hour}},
		{"a service by day", query.SeriesQuery{Filter: acme(query.Filter{ServiceID: "svc-a"}), From: h(-24), To: h(48), Bucket: query.Day}},
		{"a route by 6 hours", query.SeriesQuery{Filter: acme(query.Filter{RouteID: "r-a1", ErrorsOnly: true}), From: h(0), To: h(24), Bucket: 6 * time.Hour}},
		{"a route by day", query.SeriesQuery{Filter: acme(query.Filter{RouteID: "r-b1"}), From: h(-24), To: h(48), Bucket: query.Day}},
		{"a consumer by day", query.SeriesQuery{Filter: acme(query.Filter{ConsumerID: "alice"}), From: h(-24), To: h(48), Bucket: query.Day}},
		{"status and method (raw)", query.SeriesQuery{Filter: acme(query.Filter{Status: 404, Method: "GET"}), From: h(0), To: h(12), Bucket: time.Hour}},
		{"node and status class (raw)", query.SeriesQuery{Filter: acme(query.Filter{NodeID: "n2", StatusClass: 5}), From: h(0), To: h(2), Bucket: time.Minute}},
		{"errors only", query.SeriesQuery{Filter: acme(query.Filter{ServiceID: "svc-a", ErrorsOnly: true}), From: h(0), To: h(6), Bucket: time.Hour}},
		{"error class", query.SeriesQuery{Filter: acme(query.Filter{ErrorClass: "upstream_error"}), From: h(0), To: h(12), Bucket: time.Hour}},
		{"status code by day", query.SeriesQuery{Filter: acme(query.Filter{Status: 404}), From: h(-24), To: h(48), Bucket: query.Day}},
		{"a consumer by hour", query.SeriesQuery{Filter: acme(query.Filter{ConsumerID: "bob"}), From: h(0), To: h(12), Bucket: time.Hour}},
		{"gateway latency", query.SeriesQuery{Filter: acme(query.Filter{}), From: h(0), To: h(12), Bucket: time.Hour, GatewayLatency: true}},
		{"all workspaces", query.SeriesQuery{Filter: query.Filter{AllWorkspaces: true}, From: h(0), To: h(12), Bucket: time.Hour}},
		{"all workspaces by minute", query.SeriesQuery{Filter: query.Filter{AllWorkspaces: true}, From: h(1), To: h(3), Bucket: time.Minute}},
		{"all workspaces by 6 hours, errors only", query.SeriesQuery{Filter: query.Filter{AllWorkspaces: true, ErrorsOnly: true}, From: h(-24), To: h(48), Bucket: 6 * time.Hour}},
		{"all workspaces, gateway latency", query.SeriesQuery{Filter: query.Filter{AllWorkspaces: true}, From: h(0), To: h(12), Bucket: time.Hour, GatewayLatency: true}},
	} {
		t.Run(tc.name, func(t *testing.T) { c.checkSeries(t, tc.q) })
	}
}

// ranges that pick each table: whole days, whole hours, whole minutes,
// seconds, and long ranges that a store may split into whole weeks, days,
// hours and minutes and the seconds at their edges.
var ranges = []struct {
	name     string
	from, to time.Time
}{
	{"days", T0, T0.Add(query.Day)},
	{"hours", T0, T0.Add(12 * time.Hour)},
	{"minutes", T0.Add(30 * time.Minute), T0.Add(5*time.Hour + 30*time.Minute)},
	{"seconds", T0.Add(10 * time.Second), T0.Add(2*time.Hour + 5*time.Second)},
	{"a day and seconds", T0.Add(-20*time.Minute + 7*time.Second), T0.Add(query.Day + 5*time.Second)},
	{"hours and seconds", T0.Add(time.Hour + 30*time.Minute + 7*time.Second), T0.Add(10*time.Hour + 45*time.Minute + 5*time.Second)},
	// T0 is a Monday: the week of 7 days since the Unix epoch (from
	// Thursday) that holds it, and seconds on either side.
	{"a week and seconds", T0.Add(-4*query.Day - 20*time.Minute + 7*time.Second), T0.Add(3*query.Day + 5*time.Second)},
}

func (c *checker) breakdown(t *testing.T) {
	for _, rg := range ranges {
		for _, by := range query.Dimensions {
			for _, f := range []query.Filter{
				acme(query.Filter{}), acme(query.Filter{ServiceID: "svc-a", StatusClass: 2}), acme(query.Filter{RouteID: "r-b1"}),
				acme(query.Filter{ConsumerID: "alice"}), acme(query.Filter{ServiceID: "svc-a", ErrorClass: "upstream_error"}),
				{AllWorkspaces: true},
			} {
				name := fmt.Sprintf("%s/%s/%s%s%s%s%s", rg.name, by, f.Workspace, f.ServiceID, f.RouteID, f.ConsumerID, f.ErrorClass)
				t.Run(name, func(t *testing.T) {
					got, err := c.store.Breakdown(t.Context(), query.BreakdownQuery{Filter: f, From: rg.from, To: rg.to, By: by})
					if err != nil {
						t.Fatal(err)
					}
					c.checkRows(t, string(by), got.Rows, refGroups(c.recs, f, rg.from, rg.to, by, query.MetricRequests, false), false)
				})
			}
		}
	}
	t.Run("gateway latency", func(t *testing.T) {
		f := acme(query.Filter{})
		// Whole hours, and a range with seconds and minutes at its edges.
		for _, r := range [][2]time.Time{
			{T0, T0.Add(12 * time.Hour)},
			{T0.Add(30 * time.Second), T0.Add(11*time.Hour + 45*time.Minute + 10*time.Second)},
		} {
			got, err := c.store.Breakdown(t.Context(), query.BreakdownQuery{Filter: f, From: r[0], To: r[1],
				By: query.ByRoute, GatewayLatency: true})
			if err != nil {
				t.Fatal(err)
			}
			c.checkRows(t, "route", got.Rows, refGroups(c.recs, f, r[0], r[1], query.ByRoute, query.MetricRequests, true), true)
		}
	})
}

func (c *checker) totals(t *testing.T) {
	for _, rg := range ranges {
		t.Run(rg.name, func(t *testing.T) {
			f := acme(query.Filter{})
			// Minutes, or hours for a range too long for minutes.
			bucket := time.Minute
			if rg.to.Sub(rg.from) > 2*query.Day {
				bucket = time.Hour
			}
			s, err := c.store.Series(t.Context(), query.SeriesQuery{Filter: f, From: rg.from, To: rg.to, Bucket: bucket})
			if err != nil {
				t.Fatal(err)
			}
			var ms []query.Metrics
			for _, p := range s.Points {
				// A series covers whole buckets; count what is in the range.
				if !p.Start.Before(rg.from.Truncate(bucket)) && p.Start.Before(rg.to) {
					ms = append(ms, p.Metrics)
				}
			}
			seriesTotal := query.Totals(ms...)
			for _, by := range query.Dimensions {
				b, err := c.store.Breakdown(t.Context(), query.BreakdownQuery{Filter: f, From: rg.from.Truncate(bucket), To: rg.to.Add(bucket - time.Second).Truncate(bucket), By: by})
				if err != nil {
					t.Fatal(err)
				}
				ms = ms[:0]
				for _, r := range b.Rows {
					ms = append(ms, r.Metrics)
				}
				if got := query.Totals(ms...); got != seriesTotal {
					t.Errorf("breakdown by %s adds up to %+v, the series to %+v", by, got, seriesTotal)
				}
			}
			if seriesTotal.Requests == 0 {
				t.Error("no requests in the range: the check checks nothing")
			}
		})
	}
}

func (c *checker) top(t *testing.T) {
	for _, rg := range ranges {
		for _, by := range []query.Dimension{query.ByRoute, query.ByConsumer, query.ByStatus, query.ByNode} {
			for _, m := range []query.Metric{query.MetricRequests, query.MetricErrors, query.MetricErrors5xx, query.MetricBytesOut} {
				const limit = 2
				t.Run(fmt.Sprintf("%s/%s/%s/%d", rg.name, by, m, limit), func(t *testing.T) {
					f := acme(query.Filter{})
					got, err := c.store.Top(t.Context(), query.TopQuery{Filter: f, From: rg.from, To: rg.to, By: by, OrderBy: m, Limit: limit})
					if err != nil {
						t.Fatal(err)
					}
					want := refGroups(c.recs, f, rg.from, rg.to, by, m, false)
					c.checkRows(t, string(by), got, want[:min(limit, len(want))], false)
				})
			}
		}
	}
	t.Run("default limit", func(t *testing.T) {
		got, err := c.store.Top(t.Context(), query.TopQuery{Filter: query.Filter{AllWorkspaces: true}, From: T0, To: T0.Add(query.Day), By: query.ByStatus})
		if err != nil {
			t.Fatal(err)
		}
		if want := refGroups(c.recs, query.Filter{AllWorkspaces: true}, T0, T0.Add(query.Day), query.ByStatus, query.MetricRequests, false); len(got) != min(len(want), query.DefaultTopLimit) {
			t.Errorf("%d rows, want %d", len(got), min(len(want), query.DefaultTopLimit))
		}
	})
}

func (c *checker) recent(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    query.RecentQuery
	}{
		{"latest of acme", query.RecentQuery{Filter: acme(query.Filter{}), From: T0, To: T0.Add(query.Day)}},
		{"a consumer's failures", query.RecentQuery{Filter: acme(query.Filter{ConsumerID: "bob", StatusClass: 5}), From: T0, To: T0.Add(query.Day), Limit: 7}},
		{"within seconds", query.RecentQuery{Filter: acme(query.Filter{}), From: T0.Add(50 * time.Second), To: T0.Add(150 * time.Second)}},
		{"node, method, status", query.RecentQuery{Filter: acme(query.Filter{NodeID: "n1", Method: "POST", Status: 200}), From: T0, To: T0.Add(query.Day), Limit: 1000}},
		{"failing requests", query.RecentQuery{Filter: acme(query.Filter{ErrorsOnly: true}), From: T0, To: T0.Add(query.Day), Limit: 20}},
		{"every workspace", query.RecentQuery{Filter: query.Filter{AllWorkspaces: true}, From: T0, To: T0.Add(time.Hour), Limit: 50}},
		// A store may read the last hour or day of a long range first:
		// acme has 72 records in the hour before T0+10h and 648 in the
		// day before it.
		{"long range, a last hour's worth", query.RecentQuery{Filter: acme(query.Filter{}), From: T0.Add(-2 * query.Day), To: T0.Add(10 * time.Hour), Limit: 50}},
		{"long range, a last day's worth", query.RecentQuery{Filter: acme(query.Filter{}), From: T0.Add(-2 * query.Day), To: T0.Add(10 * time.Hour), Limit: 500}},
		{"long range, more than there is", query.RecentQuery{Filter: acme(query.Filter{}), From: T0.Add(-2 * query.Day), To: T0.Add(10 * time.Hour), Limit: 1000}},
		{"long range, exactly the last hour's", query.RecentQuery{Filter: acme(query.Filter{}), From: T0.Add(-2 * query.Day), To: T0.Add(10 * time.Hour), Limit: 72}},
		// Nothing in the last day of these ranges: a store may count
		// the latest hours that hold the limit's worth in a rollup
		// that keeps the filter, and read from there.
		{"quiet for days, a consumer", query.RecentQuery{Filter: acme(query.Filter{ConsumerID: "bob"}), From: T0.Add(-2 * query.Day), To: T0.Add(3 * query.Day), Limit: 30}},
		{"quiet for days, a service's failures", query.RecentQuery{Filter: acme(query.Filter{ServiceID: "svc-b", ErrorsOnly: true}), From: T0.Add(-2 * query.Day), To: T0.Add(3 * query.Day), Limit: 10}},
		{"quiet for days, a status code", query.RecentQuery{Filter: acme(query.Filter{Status: 200}), From: T0.Add(-2 * query.Day), To: T0.Add(3 * query.Day), Limit: 100}},
		{"quiet for days, a method", query.RecentQuery{Filter: acme(query.Filter{Method: "POST"}), From: T0.Add(-2 * query.Day), To: T0.Add(3 * query.Day), Limit: 40}},
		{"quiet for days, every workspace", query.RecentQuery{Filter: query.Filter{AllWorkspaces: true}, From: T0.Add(-2 * query.Day), To: T0.Add(3 * query.Day), Limit: 200}},
		{"quiet for days, more than there is", query.RecentQuery{Filter: acme(query.Filter{ConsumerID: "bob"}), From: T0.Add(-2 * query.Day), To: T0.Add(3 * query.Day), Limit: 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.store.Recent(t.Context(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			nq, _ := tc.q.Normalize()
			want := refRecent(c.recs, nq)
			if len(want) == 0 {
				t.Fatal("the reference finds nothing: the case checks nothing")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%d records, want %d, newest first with every field", len(got), len(want))
				for i := range min(len(got), len(want)) {
					if !reflect.DeepEqual(got[i], want[i]) {
						t.Fatalf("first difference at %d:\n%+v\nwant\n%+v", i, got[i], want[i])
					}
				}
			}
		})
	}
}

func (c *checker) usage(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    query.UsageQuery
	}{
		{"acme per day", query.UsageQuery{Filter: acme(query.Filter{}), From: T0.Add(-query.Day), To: T0.Add(2 * query.Day)}},
		{"acme per hour", query.UsageQuery{Filter: acme(query.Filter{}), From: T0, To: T0.Add(12 * time.Hour), Per: time.Hour}},
		{"a consumer of a service", query.UsageQuery{Filter: acme(query.Filter{ServiceID: "svc-a", ConsumerID: "carol"}), From: T0, To: T0.Add(query.Day), Per: time.Hour}},
		{"every workspace", query.UsageQuery{Filter: query.Filter{AllWorkspaces: true}, From: T0, To: T0.Add(query.Day)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.store.Usage(t.Context(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			nq, _ := tc.q.Normalize()
			if want := refUsage(c.recs, nq); !reflect.DeepEqual(got, want) {
				t.Errorf("usage\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// tenancy: a query for acme never sees another workspace's records,
// whatever the filters, even filters naming the other's ids.
func (c *checker) tenancy(t *testing.T) {
	ctx := t.Context()
	from, to := T0.Add(-time.Hour), T0.Add(query.Day)
	for _, f := range []query.Filter{
		{}, {ServiceID: "svc-a"}, {RouteID: "r-a1"}, {ConsumerID: "alice"}, {ConsumerID: "mallory"},
		{NodeID: "n1"}, {Method: "GET"}, {Status: 500}, {StatusClass: 5},
		{ServiceID: "svc-a", RouteID: "r-a1", ConsumerID: "alice", NodeID: "n1", Method: "GET", StatusClass: 5},
	} {
		f.Workspace = Acme
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			b, err := c.store.Breakdown(ctx, query.BreakdownQuery{Filter: f, From: from, To: to, By: query.ByWorkspace})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range b.Rows {
				if r.Key != Acme {
					t.Errorf("workspace %q in acme's breakdown", r.Key)
				}
			}
			c.checkRows(t, "workspace", b.Rows, refGroups(c.recs, f, from, to, query.ByWorkspace, query.MetricRequests, false), false)
			recs, err := c.store.Recent(ctx, query.RecentQuery{Filter: f, From: from, To: to, Limit: query.MaxRecentLimit})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if r.Workspace != Acme {
					t.Fatalf("record %s of %s in acme's recent requests", r.RequestID, r.Workspace)
				}
			}
			if f.RouteID == "" && f.NodeID == "" && f.Method == "" && f.Status == 0 && f.StatusClass == 0 {
				usage, err := c.store.Usage(ctx, query.UsageQuery{Filter: f, From: from, To: to})
				if err != nil {
					t.Fatal(err)
				}
				for _, u := range usage {
					if u.Workspace != Acme {
						t.Fatalf("usage of %s in acme's", u.Workspace)
					}
				}
			}
		})
	}
	t.Run("acme's consumer in globex", func(t *testing.T) {
		s, err := c.store.Series(ctx, query.SeriesQuery{Filter: query.Filter{Workspace: Globex, ConsumerID: "carol"}, From: T0, To: T0.Add(12 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if tot := query.Totals(pointMetrics(s)...); tot.Requests != 0 {
			t.Errorf("globex sees %d requests of acme's consumer", tot.Requests)
		}
	})
}

func pointMetrics(s query.Series) []query.Metrics {
	out := make([]query.Metrics, len(s.Points))
	for i, p := range s.Points {
		out[i] = p.Metrics
	}
	return out
}

func (c *checker) validation(t *testing.T) {
	ctx := t.Context()
	ok := acme(query.Filter{})
	from, to := T0, T0.Add(time.Hour)
	for _, tc := range []struct {
		name   string
		run    func() error
		fields []string
	}{
		{"missing workspace", func() error {
			_, err := c.store.Series(ctx, query.SeriesQuery{From: from, To: to})
			return err
		}, []string{"workspace"}},
		{"workspace and all workspaces", func() error {
			_, err := c.store.Recent(ctx, query.RecentQuery{Filter: query.Filter{Workspace: Acme, AllWorkspaces: true}, From: from, To: to})
			return err
		}, []string{"workspace"}},
		{"inverted range", func() error {
			_, err := c.store.Series(ctx, query.SeriesQuery{Filter: ok, From: to, To: from})
			return err
		}, []string{"to"}},
		{"empty range", func() error {
			_, err := c.store.Breakdown(ctx, query.BreakdownQuery{Filter: ok, From: from, To: from, By: query.ByRoute})
			return err
		}, []string{"to"}},
		{"no range", func() error {
			_, err := c.store.Top(ctx, query.TopQuery{Filter: ok, By: query.ByRoute})
			return err
		}, []string{"from", "to"}},
		{"range over the maximum", func() error {
			_, err := c.store.Series(ctx, query.SeriesQuery{Filter: ok, From: to.Add(-query.MaxRange - time.Second), To: to})
			return err
		}, []string{"range"}},
		{"unknown bucket", func() error {
			_, err := c.store.Series(ctx, query.SeriesQuery{Filter: ok, From: from, To: to, Bucket: 2 * time.Minute})
			return err
		}, []string{"bucket"}},
		{"too many points", func() error {
			_, err := c.store.Series(ctx, query.SeriesQuery{Filter: ok, From: from, To: from.Add(30 * query.Day), Bucket: time.Minute})
			return err
		}, []string{"bucket"}},
		{"unknown dimension", func() error {
			_, err := c.store.Breakdown(ctx, query.BreakdownQuery{Filter: ok, From: from, To: to, By: "service_id; DROP TABLE requests"})
			return err
		}, []string{"group_by"}},
		{"missing dimension", func() error {
			_, err := c.store.Top(ctx, query.TopQuery{Filter: ok, From: from, To: to})
			return err
		}, []string{"group_by"}},
		{"unknown metric", func() error {
			_, err := c.store.Top(ctx, query.TopQuery{Filter: ok, From: from, To: to, By: query.ByRoute, OrderBy: "requests DESC --"})
			return err
		}, []string{"order_by"}},
		{"top limit too high", func() error {
			_, err := c.store.Top(ctx, query.TopQuery{Filter: ok, From: from, To: to, By: query.ByRoute, Limit: query.MaxTopLimit + 1})
			return err
		}, []string{"limit"}},
		{"negative limit", func() error {
			_, err := c.store.Recent(ctx, query.RecentQuery{Filter: ok, From: from, To: to, Limit: -1})
			return err
		}, []string{"limit"}},
		{"recent limit too high", func() error {
			_, err := c.store.Recent(ctx, query.RecentQuery{Filter: ok, From: from, To: to, Limit: query.MaxRecentLimit + 1})
			return err
		}, []string{"limit"}},
		{"bad status, class and method", func() error {
			_, err := c.store.Series(ctx, query.SeriesQuery{Filter: acme(query.Filter{Status: 42, StatusClass: 12, Method: "get"}), From: from, To: to})
			return err
		}, []string{"method", "status", "status_class"}},
		{"invalid UTF-8 and overlong ids", func() error {
			_, err := c.store.Recent(ctx, query.RecentQuery{Filter: acme(query.Filter{ConsumerID: "\xff\xfe", RouteID: strings.Repeat("r", query.MaxFilterLength+1)}), From: from, To: to})
			return err
		}, []string{"route_id", "consumer_id"}},
		{"usage by route", func() error {
			_, err := c.store.Usage(ctx, query.UsageQuery{Filter: acme(query.Filter{RouteID: "r-a1"}), From: from, To: to})
			return err
		}, []string{"route_id"}},
		{"usage per 6 hours", func() error {
			_, err := c.store.Usage(ctx, query.UsageQuery{Filter: ok, From: from, To: to, Per: 6 * time.Hour})
			return err
		}, []string{"per"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			var inv *query.InvalidError
			if !errors.Is(err, query.ErrInvalid) || !errors.As(err, &inv) {
				t.Fatalf("error %v, want an *InvalidError", err)
			}
			var got []string
			for _, f := range inv.Fields {
				got = append(got, f.Field)
			}
			if !reflect.DeepEqual(got, tc.fields) {
				t.Errorf("error %q names %q, want %q", err, got, tc.fields)
			}
		})
	}
}

// Injections are strings that would change a statement assembled from
// them.
var Injections = []string{
	`'`, `''`, `\`, `\'`, `\\'`, `"`, "`", `'; DROP TABLE requests; --`, `' OR '1'='1`, `') OR 1=1 --`,
	`acme' OR workspace != '`, `acme\' OR 1=1 --`, "acme\x00", "ünïcødé ☃ 𝄞", "a\nb\r\tc", `%`, `_`, `*`,
	`{database}`, `?`, `$1`, `:name`, "' UNION ALL SELECT * FROM system.tables --",
	strings.Repeat("'", query.MaxFilterLength+1),
}

// injection: every string a caller can send, in every string field, gives
// a validation error or an empty result, and the data stays as it was.
func (c *checker) injection(t *testing.T) {
	ctx := t.Context()
	from, to := T0, T0.Add(2*time.Hour)
	fields := []struct {
		name  string
		set   func(*query.Filter, string)
		usage bool
	}{
		{"workspace", func(f *query.Filter, v string) { f.Workspace = v }, true},
		{"service_id", func(f *query.Filter, v string) { f.ServiceID = v }, true},
		{"route_id", func(f *query.Filter, v string) { f.RouteID = v }, false},
		{"consumer_id", func(f *query.Filter, v string) { f.ConsumerID = v }, true},
		{"node_id", func(f *query.Filter, v string) { f.NodeID = v }, false},
		{"method", func(f *query.Filter, v string) { f.Method = v }, false},
		{"error_class", func(f *query.Filter, v string) { f.ErrorClass = v }, false},
	}
	for _, fd := range fields {
		t.Run(fd.name, func(t *testing.T) {
			for _, v := range Injections {
				f := acme(query.Filter{})
				fd.set(&f, v)
				empty := func(what string, n int64, err error) {
					t.Helper()
					if err != nil && !errors.Is(err, query.ErrInvalid) {
						t.Errorf("%s with %s %q: %v, want a validation error or nothing", what, fd.name, v, err)
					}
					if n != 0 {
						t.Errorf("%s with %s %q: %d results, want none", what, fd.name, v, n)
					}
				}
				s, err := c.store.Series(ctx, query.SeriesQuery{Filter: f, From: from, To: to, Bucket: time.Hour})
				empty("series", query.Totals(pointMetrics(s)...).Requests, err)
				s, err = c.store.Series(ctx, query.SeriesQuery{Filter: f, From: from, To: to, Bucket: time.Hour, GatewayLatency: true})
				empty("series with gateway latency", query.Totals(pointMetrics(s)...).Requests, err)
				b, err := c.store.Breakdown(ctx, query.BreakdownQuery{Filter: f, From: from, To: to, By: query.ByService})
				empty("breakdown", int64(len(b.Rows)), err)
				b, err = c.store.Breakdown(ctx, query.BreakdownQuery{Filter: f, From: from.Add(time.Minute), To: to, By: query.ByConsumer})
				empty("breakdown by minute", int64(len(b.Rows)), err)
				top, err := c.store.Top(ctx, query.TopQuery{Filter: f, From: from.Add(time.Second), To: to, By: query.ByMethod})
				empty("top", int64(len(top)), err)
				recs, err := c.store.Recent(ctx, query.RecentQuery{Filter: f, From: from, To: to})
				empty("recent", int64(len(recs)), err)
				if fd.usage {
					u, err := c.store.Usage(ctx, query.UsageQuery{Filter: f, From: from, To: to})
					empty("usage", int64(len(u)), err)
				}
			}
		})
	}
	t.Run("data intact", func(t *testing.T) {
		c.checkSeries(t, query.SeriesQuery{Filter: query.Filter{AllWorkspaces: true}, From: T0.Add(-query.Day), To: T0.Add(2 * query.Day), Bucket: query.Day})
		c.checkSeries(t, query.SeriesQuery{Filter: query.Filter{AllWorkspaces: true}, From: T0, To: T0.Add(12 * time.Hour), Bucket: time.Hour, GatewayLatency: true})
		// Ids made of quotes and backslashes match exactly, like any id.
		recs, err := c.store.Recent(ctx, query.RecentQuery{Filter: query.Filter{Workspace: Odd, ServiceID: OddService, ConsumerID: OddConsumer}, From: T0, To: T0.Add(time.Hour)})
		if err != nil || len(recs) != 3 {
			t.Errorf("workspace %q, service %q, consumer %q: %d records (%v), want 3", Odd, OddService, OddConsumer, len(recs), err)
		}
	})
}
