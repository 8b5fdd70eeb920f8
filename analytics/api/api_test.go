package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/analytics/query/querytest"
	"github.com/tollgate/tollgate/internal/logrecord"
)

// span is the seeded records' last hours as from and to parameters: the
// hand-checked records and the end of the bulk traffic (short, because
// the pure-Go SQLite is slow under the race detector).
var (
	spanFrom, spanTo = t0.Add(9 * time.Hour), t0.Add(12 * time.Hour)
	span             = fmt.Sprintf("from=%d&to=%d", spanFrom.Unix(), spanTo.Unix())
)

func acme(f query.Filter) query.Filter { f.Workspace = querytest.Acme; return f }

func metricsOf(m query.Metrics, gateway bool) metricsOut {
	out := metricsOut{Requests: m.Requests, Errors4xx: m.Errors4xx, Errors5xx: m.Errors5xx, ErrorRate: m.ErrorRate,
		Latency:  latencyOut{m.Latency.P50, m.Latency.P95, m.Latency.P99},
		Upstream: latencyOut{m.Upstream.P50, m.Upstream.P95, m.Upstream.P99},
		BytesIn:  m.BytesIn, BytesOut: m.BytesOut}
	if gateway {
		out.Gateway = &latencyOut{m.Gateway.P50, m.Gateway.P95, m.Gateway.P99}
	}
	return out
}

func TestNewRequiresStoreAndDirectory(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"nothing", Config{}, "Store and Directory required"},
		{"no directory", Config{Store: emptyStore{}}, "Directory required"},
		{"no store", Config{Directory: testDirectory()}, "Store required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// Every endpoint answers what the store answers to the same query, with
// names and ids resolved as the parameters say.
func TestEndpointsAnswerWhatTheStoreAnswers(t *testing.T) {
	f := newFixture(t, seededStore(t))
	ctx := t.Context()
	from, to := spanFrom, spanTo

	t.Run("series", func(t *testing.T) {
		for _, tc := range []struct {
			name, params string
			q            query.SeriesQuery
		}{
			{"hourly", "&bucket=1h", query.SeriesQuery{Filter: acme(query.Filter{}), Bucket: time.Hour}},
			{"automatic bucket", "", query.SeriesQuery{Filter: acme(query.Filter{})}},
			{"gateway latency", "&bucket=15m&gateway_latency=true", query.SeriesQuery{Filter: acme(query.Filter{}), Bucket: 15 * time.Minute, GatewayLatency: true}},
			{"service by name", "&bucket=1h&service=orders", query.SeriesQuery{Filter: acme(query.Filter{ServiceID: "svc-a"}), Bucket: time.Hour}},
			{"route by name, consumer by username", "&bucket=1h&route=orders-get&consumer=bob%40acme",
				query.SeriesQuery{Filter: acme(query.Filter{RouteID: "r-a2", ConsumerID: "bob"}), Bucket: time.Hour}},
			{"ids of deleted entities", "&bucket=1h&service=svc-h&consumer=carol",
				query.SeriesQuery{Filter: acme(query.Filter{ServiceID: "svc-h", ConsumerID: "carol"}), Bucket: time.Hour}},
			{"method, status, node", "&bucket=1h&method=get&status=404&node=n2",
				query.SeriesQuery{Filter: acme(query.Filter{Method: "GET", Status: 404, NodeID: "n2"}), Bucket: time.Hour}},
			{"class, error class, errors", "&bucket=6h&status_class=5xx&error_class=timeout&errors=true",
				query.SeriesQuery{Filter: acme(query.Filter{StatusClass: 5, ErrorClass: "timeout", ErrorsOnly: true}), Bucket: 6 * time.Hour}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var got seriesOut
				f.get(t, adminToken, "/v1/series?workspace=acme&"+span+tc.params).ok(t, &got)
				tc.q.From, tc.q.To = from, to
				want, err := f.store.Series(ctx, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				if !got.From.Equal(want.From) || !got.To.Equal(want.To) || got.Bucket != query.FormatBucket(want.Bucket) {
					t.Errorf("range [%s, %s) by %s, want [%s, %s) by %s", got.From, got.To, got.Bucket, want.From, want.To, want.Bucket)
				}
				if len(got.Points) != len(want.Points) {
					t.Fatalf("%d points, want %d", len(got.Points), len(want.Points))
				}
				var ms []query.Metrics
				for i, p := range want.Points {
					ms = append(ms, p.Metrics)
					if g := got.Points[i]; !g.Start.Equal(p.Start) || !reflect.DeepEqual(g.metricsOut, metricsOf(p.Metrics, tc.q.GatewayLatency)) {
						t.Errorf("point %d: %s %+v, want %s %+v", i, g.Start, g.metricsOut, p.Start, metricsOf(p.Metrics, tc.q.GatewayLatency))
					}
				}
				total := query.Totals(ms...)
				if got.Totals.Requests != total.Requests || got.Totals.Errors5xx != total.Errors5xx || got.Totals.BytesOut != total.BytesOut ||
					got.Totals.ErrorRate != total.ErrorRate {
					t.Errorf("totals %+v, want %+v", got.Totals, total)
				}
				if total.Requests == 0 && tc.name != "ids of deleted entities" {
					t.Errorf("no requests: the case tests nothing")
				}
			})
		}
	})

	t.Run("breakdown", func(t *testing.T) {
		for _, by := range query.Dimensions {
			t.Run(string(by), func(t *testing.T) {
				gateway := by == query.ByRoute
				var got breakdownOut
				f.get(t, adminToken, fmt.Sprintf("/v1/breakdown?workspace=acme&group_by=%s&gateway_latency=%v&%s", by, gateway, span)).ok(t, &got)
				want, err := f.store.Breakdown(ctx, query.BreakdownQuery{Filter: acme(query.Filter{}), From: from, To: to, By: by, GatewayLatency: gateway})
				if err != nil {
					t.Fatal(err)
				}
				checkRows(t, got.Rows, want.Rows, gateway)
				if got.GroupBy != string(by) || got.Truncated != want.Truncated {
					t.Errorf("group_by %q truncated %v", got.GroupBy, got.Truncated)
				}
			})
		}
	})

	t.Run("top", func(t *testing.T) {
		for _, m := range query.AllMetrics {
			t.Run(string(m), func(t *testing.T) {
				var got topOut
				f.get(t, adminToken, "/v1/top?workspace=acme&group_by=route&limit=3&order_by="+string(m)+"&"+span).ok(t, &got)
				want, err := f.store.Top(ctx, query.TopQuery{Filter: acme(query.Filter{}), From: from, To: to, By: query.ByRoute, OrderBy: m, Limit: 3})
				if err != nil {
					t.Fatal(err)
				}
				checkRows(t, got.Rows, want, false)
				if got.OrderBy != string(m) || got.GroupBy != "route" {
					t.Errorf("order_by %q group_by %q", got.OrderBy, got.GroupBy)
				}
			})
		}
		var got topOut
		f.get(t, adminToken, "/v1/top?workspace=acme&group_by=consumer&"+span).ok(t, &got)
		if got.OrderBy != "requests" || len(got.Rows) != 4 {
			t.Errorf("default top: order_by %q, %d rows", got.OrderBy, len(got.Rows))
		}
	})

	t.Run("recent", func(t *testing.T) {
		var got recentOut
		f.get(t, adminToken, "/v1/recent?workspace=acme&limit=7&consumer=alice&"+span).ok(t, &got)
		want, err := f.store.Recent(ctx, query.RecentQuery{Filter: acme(query.Filter{ConsumerID: "alice"}), From: from, To: to, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Records) != len(want) || len(want) != 7 {
			t.Fatalf("%d records, want %d", len(got.Records), len(want))
		}
		for i, r := range want {
			g := got.Records[i]
			at := time.UnixMilli(r.StartedAt).UTC().Format("2006-01-02T15:04:05.000Z")
			if g.RequestID != r.RequestID || g.StartedAtMs != r.StartedAt || g.StartedAt != at || g.Status != r.Status ||
				g.BillingUnits != r.BillingUnits || g.Billable != r.Billable {
				t.Errorf("record %d: %+v, want %+v", i, g, r)
			}
		}
	})

	t.Run("usage", func(t *testing.T) {
		for _, per := range []time.Duration{time.Hour, query.Day} {
			var got usageOut
			f.get(t, adminToken, "/v1/usage?workspace=acme&per="+query.FormatBucket(per)+"&"+span).ok(t, &got)
			want, err := f.store.Usage(ctx, query.UsageQuery{Filter: acme(query.Filter{}), From: from, To: to, Per: per})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Rows) != len(want) || len(want) == 0 || got.Per != query.FormatBucket(per) {
				t.Fatalf("per %s: %d rows, want %d", got.Per, len(got.Rows), len(want))
			}
			for i, u := range want {
				g := got.Rows[i]
				if !g.Start.Equal(u.Start) || g.Workspace != u.Workspace || g.ConsumerID != u.ConsumerID || g.Requests != u.Requests ||
					g.BillableRequests != u.BillableRequests || g.BillingUnits != u.BillingUnits {
					t.Errorf("row %d: %+v, want %+v", i, g, u)
				}
			}
		}
	})

	// Usage answers reuse their row slices once written: answers written at
	// once must each stay whole.
	t.Run("usage answers at once", func(t *testing.T) {
		target := func(per time.Duration) string {
			return "/v1/usage?workspace=acme&per=" + query.FormatBucket(per) + "&" + span
		}
		want := map[time.Duration][]byte{}
		for _, per := range []time.Duration{time.Hour, query.Day} {
			want[per] = f.get(t, adminToken, target(per)).body
		}
		var wg sync.WaitGroup
		for i := range 16 {
			per := []time.Duration{time.Hour, query.Day}[i%2]
			wg.Go(func() {
				for range 5 {
					req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.srv.URL+target(per), nil)
					req.Header.Set("Authorization", "Bearer "+adminToken)
					res, err := f.srv.Client().Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					got, err := io.ReadAll(res.Body)
					res.Body.Close()
					if err != nil || !bytes.Equal(got, want[per]) {
						t.Errorf("per %s: an answer written beside others differs from the one written alone (%v)", query.FormatBucket(per), err)
						return
					}
				}
			})
		}
		wg.Wait()
	})

	t.Run("range defaults to the last hour", func(t *testing.T) {
		var got seriesOut
		// A relative range ends at the end of the minute that holds now
		// (testNow+1s), or of the hour for a day or more.
		f.get(t, adminToken, "/v1/series").ok(t, &got)
		if !got.From.Equal(testNow.Add(time.Minute-time.Hour)) || !got.To.Equal(testNow.Add(time.Minute)) || got.Bucket != "1m" || len(got.Points) != 60 {
			t.Errorf("default series [%s, %s) by %s with %d points", got.From, got.To, got.Bucket, len(got.Points))
		}
		f.get(t, adminToken, "/v1/series?range=7d").ok(t, &got)
		if !got.From.Equal(testNow.Add(time.Hour-7*query.Day)) || !got.To.Equal(testNow.Add(time.Hour)) || got.Bucket != "1h" {
			t.Errorf("range=7d: from %s by %s", got.From, got.Bucket)
		}
	})
}

func checkRows(t *testing.T, got []rowOut, want []query.Row, gateway bool) {
	t.Helper()
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Key != w.Key || !reflect.DeepEqual(got[i].metricsOut, metricsOf(w.Metrics, gateway)) {
			t.Errorf("row %d: %q %+v, want %q %+v", i, got[i].Key, got[i].metricsOut, w.Key, metricsOf(w.Metrics, gateway))
		}
	}
}

// Rows and records keyed by services, routes and consumers carry their
// names; the ids of deleted ones say so.
func TestNamesAndDeletedEntities(t *testing.T) {
	f := newFixture(t, seededStore(t))
	type named struct {
		name    string
		deleted bool
	}
	for _, tc := range []struct {
		groupBy string
		want    map[string]named
	}{
		{"service", map[string]named{"svc-a": {"orders", false}, "svc-b": {"billing", false}, "svc-h": {"", true}}},
		{"route", map[string]named{"r-a1": {"orders-list", false}, "r-a2": {"orders-get", false}, "r-b1": {"billing-all", false}, "r-hand": {"", true}}},
		{"consumer", map[string]named{"alice": {"alice@acme", false}, "bob": {"bob@acme", false}, "carol": {"", true}, "": {"", false}}},
		{"node", map[string]named{"n1": {"", false}, "n2": {"", false}}},
	} {
		t.Run(tc.groupBy, func(t *testing.T) {
			for _, path := range []string{"/v1/breakdown", "/v1/top"} {
				var got breakdownOut
				f.get(t, acmeToken, path+"?group_by="+tc.groupBy+"&"+span).ok(t, &got)
				have := map[string]named{}
				for _, r := range got.Rows {
					have[r.Key] = named{r.Name, r.Deleted}
				}
				if !reflect.DeepEqual(have, tc.want) {
					t.Errorf("%s: names %v, want %v", path, have, tc.want)
				}
			}
		})
	}
	t.Run("recent", func(t *testing.T) {
		var got recentOut
		f.get(t, acmeToken, fmt.Sprintf("/v1/recent?limit=1000&from=%d&to=%d", t0.Add(10*time.Hour).Unix(), t0.Add(12*time.Hour).Unix())).ok(t, &got)
		seen := 0
		for _, r := range got.Records {
			want := map[string][3]string{ // service, route, consumer names
				"h1": {"", "", "alice@acme"}, "h3": {"", "", "bob@acme"}, "h5": {"", "", ""},
			}
			if w, ok := want[r.RequestID]; ok {
				seen++
				if g := [3]string{r.ServiceName, r.RouteName, r.ConsumerName}; g != w {
					t.Errorf("%s: names %q, want %q", r.RequestID, g, w)
				}
			}
			if r.ServiceID == "svc-a" && r.ServiceName != "orders" || r.RouteID == "r-b1" && r.RouteName != "billing-all" {
				t.Errorf("%s: %s is %q, %s is %q", r.RequestID, r.ServiceID, r.ServiceName, r.RouteID, r.RouteName)
			}
		}
		if seen != 3 {
			t.Errorf("saw %d of the hand records", seen)
		}
	})
	t.Run("usage", func(t *testing.T) {
		var got usageOut
		f.get(t, acmeToken, "/v1/usage?"+span).ok(t, &got)
		names := map[string]string{}
		for _, r := range got.Rows {
			names[r.ConsumerID] = r.ConsumerName
		}
		if want := map[string]string{"alice": "alice@acme", "bob": "bob@acme", "carol": "", "": ""}; !reflect.DeepEqual(names, want) {
			t.Errorf("consumer names %v, want %v", names, want)
		}
	})
}

// A token reads its workspace (and a consumer token its consumer) however
// the request is put.
func TestTenancy(t *testing.T) {
	f := newFixture(t, seededStore(t))
	all := "&range=2d"
	seriesTotal := func(t *testing.T, token, params string) int64 {
		t.Helper()
		var s seriesOut
		f.get(t, token, "/v1/series?bucket=1d"+all+params).ok(t, &s)
		return s.Totals.Requests
	}
	workspaces := func(t *testing.T, token, params string) []string {
		t.Helper()
		var b breakdownOut
		f.get(t, token, "/v1/breakdown?group_by=workspace"+all+params).ok(t, &b)
		var out []string
		for _, r := range b.Rows {
			out = append(out, r.Key)
		}
		return out
	}
	acmeTotal := seriesTotal(t, adminToken, "&workspace=acme")
	globexTotal := seriesTotal(t, adminToken, "&workspace=globex")
	if acmeTotal == 0 || globexTotal == 0 {
		t.Fatalf("acme %d, globex %d requests", acmeTotal, globexTotal)
	}

	t.Run("admin sees every workspace and can narrow", func(t *testing.T) {
		if got := workspaces(t, adminToken, ""); !reflect.DeepEqual(got, []string{querytest.Acme, querytest.Globex, querytest.Odd}) {
			t.Errorf("workspaces %q", got)
		}
		if got := workspaces(t, adminToken, "&workspace=globex"); !reflect.DeepEqual(got, []string{querytest.Globex}) {
			t.Errorf("workspace=globex: %q", got)
		}
		if got := seriesTotal(t, adminToken, ""); got != acmeTotal+globexTotal+3 {
			t.Errorf("all workspaces: %d requests, want %d", got, acmeTotal+globexTotal+3)
		}
	})

	t.Run("workspace token", func(t *testing.T) {
		for _, tc := range []struct{ name, params string }{
			{"plain", ""},
			{"own workspace", "&workspace=acme"},
			{"another's service by name", "&service=globex-orders"},
			{"another's consumer", "&consumer=mallory"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := workspaces(t, acmeToken, tc.params)
				if len(got) > 1 || len(got) == 1 && got[0] != querytest.Acme {
					t.Errorf("workspaces %q", got)
				}
			})
		}
		if got := seriesTotal(t, acmeToken, ""); got != acmeTotal {
			t.Errorf("%d requests, want acme's %d", got, acmeTotal)
		}
		if got := seriesTotal(t, globexToken, ""); got != globexTotal {
			t.Errorf("globex token: %d requests, want %d", got, globexTotal)
		}
		if got := seriesTotal(t, acmeToken, "&service=globex-orders"); got != 0 {
			t.Errorf("another workspace's service name: %d requests", got)
		}
		for _, target := range []string{
			"/v1/series?workspace=globex", "/v1/breakdown?group_by=service&workspace=globex", "/v1/top?group_by=route&workspace=globex",
			"/v1/recent?workspace=globex", "/v1/usage?workspace=globex", "/v1/entities?kind=services&workspace=globex",
			"/v1/series?workspace=Acme", "/v1/series?workspace=it%27s",
		} {
			e := f.get(t, acmeToken, target).error(t, http.StatusForbidden)
			if e.Message != `this token reads workspace "acme" only` {
				t.Errorf("%s: message %q", target, e.Message)
			}
		}
		// A repeated workspace is refused, whichever comes first.
		f.get(t, acmeToken, "/v1/series?workspace=acme&workspace=globex").error(t, http.StatusBadRequest)

		var rec recentOut
		f.get(t, acmeToken, "/v1/recent?limit=1000"+all).ok(t, &rec)
		var u usageOut
		f.get(t, acmeToken, "/v1/usage?per=1h"+all).ok(t, &u)
		if len(rec.Records) == 0 || len(u.Rows) == 0 {
			t.Fatalf("%d records, %d usage rows", len(rec.Records), len(u.Rows))
		}
		for _, r := range rec.Records {
			if r.Workspace != querytest.Acme {
				t.Errorf("record %s of %s", r.RequestID, r.Workspace)
			}
		}
		for _, r := range u.Rows {
			if r.Workspace != querytest.Acme || r.ConsumerID == "mallory" {
				t.Errorf("usage of %s/%s", r.Workspace, r.ConsumerID)
			}
		}
		for _, kind := range []string{"services", "routes", "consumers"} {
			var e entitiesOut
			f.get(t, acmeToken, "/v1/entities?kind="+kind).ok(t, &e)
			if len(e.Data) == 0 {
				t.Errorf("%s: none", kind)
			}
			for _, n := range e.Data {
				if n.Workspace != querytest.Acme {
					t.Errorf("%s: %+v", kind, n)
				}
			}
		}
	})

	t.Run("consumer token", func(t *testing.T) {
		aliceTotal := seriesTotal(t, adminToken, "&workspace=acme&consumer=alice")
		for _, params := range []string{"", "&consumer=alice", "&consumer=alice%40acme", "&workspace=acme"} {
			if got := seriesTotal(t, aliceToken, params); got != aliceTotal {
				t.Errorf("%q: %d requests, want alice's %d", params, got, aliceTotal)
			}
		}
		var b breakdownOut
		f.get(t, aliceToken, "/v1/breakdown?group_by=consumer"+all).ok(t, &b)
		if len(b.Rows) != 1 || b.Rows[0].Key != "alice" || b.Rows[0].Name != "alice@acme" {
			t.Errorf("by consumer: %+v", b.Rows)
		}
		for _, target := range []string{
			"/v1/series?consumer=bob", "/v1/series?consumer=bob%40acme", "/v1/recent?consumer=carol",
			"/v1/usage?consumer=mallory", "/v1/top?group_by=route&consumer=alice%40globex",
		} {
			e := f.get(t, aliceToken, target).error(t, http.StatusForbidden)
			if e.Message != `this token reads consumer "alice@acme" only` {
				t.Errorf("%s: message %q", target, e.Message)
			}
		}
		f.get(t, aliceToken, "/v1/series?workspace=globex").error(t, http.StatusForbidden)
		var rec recentOut
		f.get(t, aliceToken, "/v1/recent?limit=1000"+all).ok(t, &rec)
		var u usageOut
		f.get(t, aliceToken, "/v1/usage"+strings.Replace(all, "&", "?", 1)).ok(t, &u)
		if len(rec.Records) == 0 || len(u.Rows) == 0 {
			t.Fatalf("%d records, %d usage rows", len(rec.Records), len(u.Rows))
		}
		for _, r := range rec.Records {
			if r.Workspace != querytest.Acme || r.ConsumerID != "alice" {
				t.Errorf("record %s of %s/%s", r.RequestID, r.Workspace, r.ConsumerID)
			}
		}
		for _, r := range u.Rows {
			if r.Workspace != querytest.Acme || r.ConsumerID != "alice" {
				t.Errorf("usage of %s/%s", r.Workspace, r.ConsumerID)
			}
		}
		for kind, want := range map[string][]Named{
			"consumers": {{ID: "alice", Name: "alice@acme", Workspace: querytest.Acme}},
			"services":  nil, "routes": nil,
		} {
			var e entitiesOut
			f.get(t, aliceToken, "/v1/entities?kind="+kind).ok(t, &e)
			if len(e.Data) != len(want) || len(want) > 0 && e.Data[0] != want[0] {
				t.Errorf("%s: %+v, want %+v", kind, e.Data, want)
			}
		}
	})
}

func TestWhoami(t *testing.T) {
	f := newFixture(t, emptyStore{})
	for _, tc := range []struct {
		token, want string
	}{
		{adminToken, `{"scope":"admin"}`},
		{acmeToken, `{"scope":"workspace","workspace":"acme","token":{"id":"tok-acme","name":"acme board"}}`},
		{aliceToken, `{"scope":"consumer","workspace":"acme","consumer":{"id":"alice","name":"alice@acme"},"token":{"id":"tok-alice","name":"alice's usage"}}`},
	} {
		if got := f.get(t, tc.token, "/v1/whoami"); got.status != http.StatusOK || strings.TrimSpace(string(got.body)) != tc.want {
			t.Errorf("%s: %d %s, want %s", tc.token, got.status, got.body, tc.want)
		}
	}
}

func TestEntitiesForAdmin(t *testing.T) {
	f := newFixture(t, emptyStore{})
	for _, tc := range []struct {
		params string
		want   []string
	}{
		{"kind=services", []string{"acme/billing", "globex/globex-orders", "acme/orders"}},
		{"kind=services&workspace=globex", []string{"globex/globex-orders"}},
		{"kind=consumers&workspace=acme", []string{"acme/alice@acme", "acme/bob@acme"}},
		{"kind=routes&workspace=nowhere", nil},
	} {
		var e entitiesOut
		f.get(t, adminToken, "/v1/entities?"+tc.params).ok(t, &e)
		var got []string
		for _, n := range e.Data {
			got = append(got, n.Workspace+"/"+n.Name)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.params, got, tc.want)
		}
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, emptyStore{})
	for _, tc := range []struct {
		name, header, target string
		want                 int
	}{
		{"no token", "", "/v1/series", http.StatusUnauthorized},
		{"unknown token", "Bearer nope", "/v1/series", http.StatusUnauthorized},
		{"expired token", "Bearer " + expiredToken, "/v1/whoami", http.StatusUnauthorized},
		{"token expiring later", "Bearer " + laterToken, "/v1/whoami", http.StatusOK},
		{"admin token", "Bearer " + adminToken, "/v1/whoami", http.StatusOK},
		{"scheme in lower case", "bearer " + acmeToken, "/v1/whoami", http.StatusOK},
		{"basic scheme", "Basic " + acmeToken, "/v1/whoami", http.StatusUnauthorized},
		{"no scheme", acmeToken, "/v1/whoami", http.StatusUnauthorized},
		{"empty bearer", "Bearer ", "/v1/whoami", http.StatusUnauthorized},
		{"admin token with a suffix", "Bearer " + adminToken + "x", "/v1/whoami", http.StatusUnauthorized},
		{"token in the query", "", "/v1/whoami?token=" + adminToken, http.StatusUnauthorized},
		{"access_token in the query", "", "/v1/usage?access_token=" + acmeToken, http.StatusUnauthorized},
		{"every endpoint needs one", "", "/v1/entities?kind=services", http.StatusUnauthorized},
		{"openapi needs none", "", "/openapi.json", http.StatusOK},
		{"healthz needs none", "", "/healthz", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.target, nil)
			req.RemoteAddr = "192.0.2.7:40000"
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			f.api.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want == http.StatusUnauthorized {
				if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="tollgate-analytics"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
				if got := strings.TrimSpace(rec.Body.String()); got != `{"message":"Unauthorized"}` {
					t.Errorf("body %s", got)
				}
			}
		})
	}
}

// Without an admin token, loopback is admin and the rest need a token.
func TestNoAdminTokenServesLoopbackAsAdmin(t *testing.T) {
	f := newFixture(t, emptyStore{}, func(c *Config) { c.AdminToken = "" })
	for _, tc := range []struct {
		name, remote, token string
		want                int
		scope               string
	}{
		{"IPv4 loopback", "127.0.0.1:5000", "", http.StatusOK, "admin"},
		{"IPv6 loopback", "[::1]:5000", "", http.StatusOK, "admin"},
		{"IPv4-mapped loopback", "[::ffff:127.0.0.1]:5000", "", http.StatusOK, "admin"},
		{"elsewhere", "192.0.2.7:5000", "", http.StatusUnauthorized, ""},
		{"elsewhere with a token", "192.0.2.7:5000", acmeToken, http.StatusOK, "workspace"},
		{"loopback with a token is that token", "127.0.0.1:5000", acmeToken, http.StatusOK, "workspace"},
		{"loopback with an unknown token", "127.0.0.1:5000", "nope", http.StatusUnauthorized, ""},
		{"the old admin token is nothing", "192.0.2.7:5000", adminToken, http.StatusUnauthorized, ""},
		{"no address", "", "", http.StatusUnauthorized, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/v1/whoami", nil)
			req.RemoteAddr = tc.remote
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			f.api.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate")
			}
			if tc.scope != "" && !strings.Contains(rec.Body.String(), `"scope":"`+tc.scope+`"`) {
				t.Errorf("body %s, want scope %s", rec.Body, tc.scope)
			}
		})
	}
}

func TestBadParameters(t *testing.T) {
	f := newFixture(t, emptyStore{})
	for _, tc := range []struct {
		name, target string
		fields       []string
	}{
		{"unknown parameter", "/v1/series?bukket=1m", []string{"bukket"}},
		{"parameter of another endpoint", "/v1/series?group_by=route", []string{"group_by"}},
		{"usage takes no route", "/v1/usage?route=r-a1&status=500", []string{"route", "status"}},
		{"whoami takes nothing", "/v1/whoami?workspace=acme", []string{"workspace"}},
		{"repeated parameter", "/v1/series?bucket=1m&bucket=5m", []string{"bucket"}},
		{"empty value", "/v1/series?service=", []string{"service"}},
		{"no value", "/v1/series?errors", []string{"errors"}},
		{"no name", "/v1/series?=1", []string{"(unnamed)"}},
		{"bad escape", "/v1/series?service=%zz", []string{"service"}},
		{"bad escape in a name", "/v1/series?%zz=1", []string{"%zz"}},
		{"inverted range", fmt.Sprintf("/v1/series?from=%d&to=%d", t0.Unix(), t0.Add(-time.Hour).Unix()), []string{"to"}},
		{"empty range", fmt.Sprintf("/v1/recent?from=%d&to=%d", t0.Unix(), t0.Unix()), []string{"to"}},
		{"range over 400 days", "/v1/series?range=401d", []string{"range"}},
		{"huge range", "/v1/series?range=99999999999d", []string{"range"}},
		{"from and to over 400 days", "/v1/breakdown?group_by=route&from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", []string{"range"}},
		{"range and from", "/v1/series?range=1h&from=2026-03-02T00:00:00Z", []string{"range"}},
		{"range and to", "/v1/top?group_by=route&range=1h&to=2026-03-02T00:00:00Z", []string{"range"}},
		{"bad range", "/v1/series?range=yesterday", []string{"range"}},
		{"negative range", "/v1/series?range=-1h", []string{"range"}},
		{"bad from", "/v1/series?from=yesterday", []string{"from"}},
		{"from before 1970", "/v1/series?from=1969-12-31T00:00:00Z&to=1970-01-01T10:00:00Z", []string{"from"}},
		{"unknown bucket", "/v1/series?bucket=30s", []string{"bucket"}},
		{"bucket not a duration", "/v1/series?bucket=minute", []string{"bucket"}},
		{"bucket too fine", "/v1/series?bucket=1m&range=30d", []string{"bucket"}},
		{"zero bucket", "/v1/series?bucket=0m", []string{"bucket"}},
		{"zero limit", "/v1/top?group_by=route&limit=0", []string{"limit"}},
		{"limit over the maximum", "/v1/top?group_by=route&limit=101", []string{"limit"}},
		{"recent limit over the maximum", "/v1/recent?limit=1001", []string{"limit"}},
		{"limit not a number", "/v1/recent?limit=ten", []string{"limit"}},
		{"missing group_by", "/v1/breakdown", []string{"group_by"}},
		{"unknown group_by", "/v1/breakdown?group_by=service_id", []string{"group_by"}},
		{"unknown order_by", "/v1/top?group_by=route&order_by=latency", []string{"order_by"}},
		{"bad status", "/v1/series?status=42", []string{"status"}},
		{"status not a number", "/v1/series?status=5xx", []string{"status"}},
		{"bad status class", "/v1/series?status_class=6x", []string{"status_class"}},
		{"bad method", "/v1/series?method=G3T", []string{"method"}},
		{"bad errors", "/v1/series?errors=yes", []string{"errors"}},
		{"bad gateway_latency", "/v1/breakdown?group_by=route&gateway_latency=1", []string{"gateway_latency"}},
		{"bad per", "/v1/usage?per=6h", []string{"per"}},
		{"too many periods", "/v1/usage?per=1h&range=90d", []string{"per"}},
		{"bad kind", "/v1/entities?kind=plugins", []string{"kind"}},
		{"missing kind", "/v1/entities", []string{"kind"}},
		{"overlong id", "/v1/series?node=" + strings.Repeat("n", query.MaxFilterLength+1), []string{"node"}},
		{"not UTF-8", "/v1/series?consumer=%ff%fe", []string{"consumer"}},
		{"NUL", "/v1/recent?error_class=a%00b", []string{"error_class"}},
		{"every problem at once", "/v1/top?bucket=1m&group_by=x&order_by=y&limit=0&status=1&from=x&range=2h",
			[]string{"bucket", "from", "group_by", "limit", "order_by", "status"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := f.get(t, adminToken, tc.target).error(t, http.StatusBadRequest)
			var got []string
			for k := range e.Fields {
				got = append(got, k)
			}
			slices.Sort(got)
			if !reflect.DeepEqual(got, tc.fields) {
				t.Errorf("fields %v, want %v: %s", got, tc.fields, e.Message)
			}
			if e.Name != "invalid query" {
				t.Errorf("name %q", e.Name)
			}
			want := "schema violation ("
			if len(tc.fields) > 1 {
				want = fmt.Sprintf("%d schema violations (", len(tc.fields))
			}
			if !strings.HasPrefix(e.Message, want) {
				t.Errorf("message %q, want it to start %q", e.Message, want)
			}
			for k, v := range e.Fields {
				if v == "" || !strings.Contains(e.Message, k+": "+v) {
					t.Errorf("message %q does not say %s: %s", e.Message, k, v)
				}
			}
		})
	}
	t.Run("unknown parameter message", func(t *testing.T) {
		e := f.get(t, adminToken, "/v1/usage?limit=3").error(t, http.StatusBadRequest)
		if e.Fields["limit"] != "is not a parameter of /v1/usage" {
			t.Errorf("fields %v", e.Fields)
		}
	})
}

// Strings that would change an SQL statement built from them, through
// every parameter of every endpoint, give a 400 (or 403) or nothing, and
// never a 5xx.
func TestInjectionsGiveErrorsOrNothing(t *testing.T) {
	f := newFixture(t, seededStore(t))
	count := func(t *testing.T, r response, v any, n func() int) int {
		t.Helper()
		r.ok(t, v)
		return n()
	}
	for _, e := range f.api.endpoints {
		if !e.auth {
			continue
		}
		for _, p := range e.params {
			t.Run(e.path+"/"+p.name, func(t *testing.T) {
				// A workspace token's workspace parameter is 403 whatever it
				// says; an admin's is read.
				token := acmeToken
				if p.name == "workspace" {
					token = adminToken
				}
				for _, v := range querytest.Injections {
					target := e.path + "?" + p.name + "=" + url.QueryEscape(v)
					if p.name != "group_by" && (e.path == "/v1/breakdown" || e.path == "/v1/top") {
						target += "&group_by=service"
					}
					if p.name != "kind" && e.path == "/v1/entities" {
						target += "&kind=services"
					}
					if p.name != "range" && p.name != "from" && p.name != "to" && e.path != "/v1/entities" {
						target += "&" + span
					}
					r := f.get(t, token, target)
					if r.status == http.StatusBadRequest || r.status == http.StatusForbidden {
						continue
					}
					var n int
					switch e.path {
					case "/v1/series":
						var s seriesOut
						n = count(t, r, &s, func() int { return int(s.Totals.Requests) })
					case "/v1/breakdown", "/v1/top":
						var b breakdownOut
						n = count(t, r, &b, func() int { return len(b.Rows) })
					case "/v1/recent":
						var rec recentOut
						n = count(t, r, &rec, func() int { return len(rec.Records) })
					case "/v1/usage":
						var u usageOut
						n = count(t, r, &u, func() int { return len(u.Rows) })
					case "/v1/entities":
						var en entitiesOut
						n = count(t, r, &en, func() int { return len(en.Data) })
					default:
						t.Fatalf("%s: no check", e.path)
					}
					if n != 0 {
						t.Errorf("%s as %s: %d results, want none or a 400: %.300s", target, token, n, r.body)
					}
				}
			})
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t, emptyStore{}, func(c *Config) { c.Dashboard = fstest.MapFS{"index.html": {Data: []byte("<html>")}} })
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		for _, path := range []string{"/v1/series", "/v1/whoami", "/openapi.json", "/healthz"} {
			r := f.do(t, method, adminToken, path)
			e := r.error(t, http.StatusMethodNotAllowed)
			if got := r.header.Get("Allow"); got != "GET, HEAD" {
				t.Errorf("%s %s: Allow %q", method, path, got)
			}
			if e.Message != "Method not allowed" {
				t.Errorf("%s %s: %q", method, path, e.Message)
			}
		}
	}
	r := f.do(t, http.MethodHead, adminToken, "/v1/series")
	if r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("Content-Length") == "0" {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %s", r.status, len(r.body), r.header.Get("Content-Length"))
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t, emptyStore{})
	for _, path := range []string{"/", "/v1", "/v1/", "/v1/series/", "/v1/nope", "/V1/series", "/index.html"} {
		if e := f.get(t, adminToken, path).error(t, http.StatusNotFound); e.Message != "Not found" {
			t.Errorf("%s: %q", path, e.Message)
		}
	}
}

func TestDashboard(t *testing.T) {
	dash := fstest.MapFS{
		"index.html":      {Data: []byte("<!doctype html><title>tollgate</title>")},
		"app.js":          {Data: []byte("console.log(1)")},
		"assets/site.css": {Data: []byte("body{}")},
	}
	f := newFixture(t, emptyStore{}, func(c *Config) { c.Dashboard = dash })
	for _, tc := range []struct {
		path   string
		status int
		body   string
		ctype  string
	}{
		{"/", http.StatusOK, "<!doctype html><title>tollgate</title>", "text/html; charset=utf-8"},
		{"/index.html", http.StatusOK, "<!doctype html><title>tollgate</title>", "text/html; charset=utf-8"},
		{"/app.js", http.StatusOK, "console.log(1)", "text/javascript; charset=utf-8"},
		{"/assets/site.css", http.StatusOK, "body{}", "text/css; charset=utf-8"},
		{"/assets/../app.js", http.StatusOK, "console.log(1)", "text/javascript; charset=utf-8"},
		{"/assets", http.StatusNotFound, "", ""},
		{"/missing.js", http.StatusNotFound, "", ""},
		{"/v1/nope", http.StatusNotFound, "", ""},
		{"/healthz", http.StatusOK, `{"status":"ok"}` + "\n", "application/json; charset=utf-8"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			rec := httptest.NewRecorder()
			f.api.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status == http.StatusOK && (rec.Body.String() != tc.body || rec.Header().Get("Content-Type") != tc.ctype) {
				t.Errorf("%q (%s), want %q (%s)", rec.Body, rec.Header().Get("Content-Type"), tc.body, tc.ctype)
			}
		})
	}
	if r := f.get(t, "", "/v1/whoami"); r.status != http.StatusUnauthorized {
		t.Errorf("API paths take precedence: /v1/whoami %d", r.status)
	}
}

// emptyStore answers every valid query with nothing, after the query
// layer's own validation.
type emptyStore struct{}

func (emptyStore) Series(_ context.Context, q query.SeriesQuery) (query.Series, error) {
	n, err := q.Normalize()
	if err != nil {
		return query.Series{}, err
	}
	return query.Series{From: n.From, To: n.To, Bucket: n.Bucket}, nil
}

func (emptyStore) Breakdown(_ context.Context, q query.BreakdownQuery) (query.Breakdown, error) {
	_, err := q.Normalize()
	return query.Breakdown{}, err
}

func (emptyStore) Top(_ context.Context, q query.TopQuery) ([]query.Row, error) {
	_, err := q.Normalize()
	return nil, err
}

func (emptyStore) Recent(_ context.Context, q query.RecentQuery) ([]logrecord.Record, error) {
	_, err := q.Normalize()
	return nil, err
}

func (emptyStore) Usage(_ context.Context, q query.UsageQuery) ([]query.UsageRow, error) {
	_, err := q.Normalize()
	return nil, err
}

// failingStore fails every query with err.
type failingStore struct{ err error }

func (s failingStore) Series(context.Context, query.SeriesQuery) (query.Series, error) {
	return query.Series{}, s.err
}
func (s failingStore) Breakdown(context.Context, query.BreakdownQuery) (query.Breakdown, error) {
	return query.Breakdown{}, s.err
}
func (s failingStore) Top(context.Context, query.TopQuery) ([]query.Row, error) { return nil, s.err }
func (s failingStore) Recent(context.Context, query.RecentQuery) ([]logrecord.Record, error) {
	return nil, s.err
}
func (s failingStore) Usage(context.Context, query.UsageQuery) ([]query.UsageRow, error) {
	return nil, s.err
}

// logCapture keeps the records logged.
type logCapture struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	return nil
}
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCapture) WithGroup(string) slog.Handler      { return l }

func (l *logCapture) levels() []slog.Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Level
	for _, r := range l.recs {
		out = append(out, r.Level)
	}
	return out
}

func TestStoreFailuresAre503(t *testing.T) {
	logs := &logCapture{}
	f := newFixture(t, failingStore{errors.New(`series: SQL logic error near "SELECT secret"`)},
		func(c *Config) { c.Logger = slog.New(logs) })
	for _, target := range []string{"/v1/series", "/v1/breakdown?group_by=route", "/v1/top?group_by=route", "/v1/recent", "/v1/usage"} {
		r := f.get(t, adminToken, target)
		e := r.error(t, http.StatusServiceUnavailable)
		if e.Message != "analytics store unavailable" || strings.Contains(string(r.body), "SELECT") {
			t.Errorf("%s: %s", target, r.body)
		}
	}
	if got := logs.levels(); len(got) != 5 || got[0] != slog.LevelError {
		t.Errorf("logged %v, want 5 errors", got)
	}

	t.Run("the client going away is no error", func(t *testing.T) {
		logs := &logCapture{}
		f := newFixture(t, failingStore{fmt.Errorf("series: %w", context.Canceled)}, func(c *Config) { c.Logger = slog.New(logs) })
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/series", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		f.api.ServeHTTP(httptest.NewRecorder(), req)
		for _, l := range logs.levels() {
			if l >= slog.LevelWarn {
				t.Errorf("logged at %s", l)
			}
		}
	})

	t.Run("invalid queries from the store are 400s", func(t *testing.T) {
		f := newFixture(t, failingStore{&query.InvalidError{Fields: []query.FieldError{{Field: "route_id", Problem: "nope"}}}})
		e := f.get(t, adminToken, "/v1/recent").error(t, http.StatusBadRequest)
		if e.Fields["route"] != "nope" {
			t.Errorf("fields %v, want route", e.Fields)
		}
	})
}
