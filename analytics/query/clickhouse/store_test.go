package clickhouse

import (
	"cmp"
	"context"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go"
	clickhousego "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/analytics/query/querytest"
	"github.com/tollgate/tollgate/collector"
	"github.com/tollgate/tollgate/internal/clickhousetest"
	"github.com/tollgate/tollgate/internal/logrecord"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

var clickhouse clickhousetest.Shared

func TestMain(m *testing.M) { os.Exit(clickhouse.Main(m, true)) }

func TestConformance(t *testing.T) {
	querytest.Run(t, func(t *testing.T) (query.Store, querytest.Loader) {
		s, load, _ := newStore(t)
		return s, load
	})
}

// newStore migrates a new database and returns a store over it, what
// loads records into it through the collector's insert path, one INSERT
// per call, and a connection to the database.
func newStore(t *testing.T) (*Store, querytest.Loader, driver.Conn) {
	srv := clickhouse.Server(t)
	db := srv.Database(t)
	conn := srv.Conn(t, db)
	if _, err := clickhousemigrate.Up(t.Context(), conn, db, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s, err := New(conn, db, RollupSettings())
	if err != nil {
		t.Fatal(err)
	}
	loader := collector.NewLoader(conn, db, ch.Options{Address: srv.Addr(), Database: db, User: "default"})
	t.Cleanup(func() { loader.Close() })
	var offset int64
	return s, func(t *testing.T, recs []logrecord.Record) {
		t.Helper()
		var rows collector.Rows
		for i := range recs {
			rows.Add(&recs[i], "tollgate.requests", 0, offset)
			offset++
		}
		if err := loader.Insert(t.Context(), "querytest", &rows); err != nil {
			t.Fatal(err)
		}
	}, conn
}

// A day's usage is read from the daily table's rows as they are and added
// up by the store: rows of one consumer and day in parts not yet merged
// count once each.
func TestUsagePerDayAddsUnmergedRows(t *testing.T) {
	s, load, conn := newStore(t)
	table := s.from(UsageDay)
	if err := conn.Exec(t.Context(), "SYSTEM STOP MERGES "+table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "SYSTEM START MERGES "+table) })
	hand := querytest.HandRecords()
	for i := range hand {
		load(t, hand[i:i+1])
	}
	var parts uint64
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = ? AND active",
		string(UsageDay)).Scan(&parts); err != nil {
		t.Fatal(err)
	}
	if parts != uint64(len(hand)) {
		t.Fatalf("%d active parts of %s, want one per INSERT (%d)", parts, UsageDay, len(hand))
	}
	got, err := s.Usage(t.Context(), query.UsageQuery{Filter: query.Filter{Workspace: querytest.Acme},
		From: querytest.T0, To: querytest.T0.Add(query.Day), Per: query.Day})
	if err != nil {
		t.Fatal(err)
	}
	want := []query.UsageRow{
		{Start: querytest.T0, Workspace: querytest.Acme, ConsumerID: "", Requests: 1},
		{Start: querytest.T0, Workspace: querytest.Acme, ConsumerID: "alice", Requests: 2, BillableRequests: 2, BillingUnits: 5},
		{Start: querytest.T0, Workspace: querytest.Acme, ConsumerID: "bob", Requests: 2, BillableRequests: 1, BillingUnits: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("usage per day\n%+v\nwant\n%+v", got, want)
	}
}

// Recent requests count a record loaded twice once: the raw table keeps
// both copies until its parts merge, and the latest rows being copies
// must not cut the answer short or repeat a record.
func TestRecentCountsCopiesOnce(t *testing.T) {
	s, load, conn := newStore(t)
	table := s.from(Raw)
	if err := conn.Exec(t.Context(), "SYSTEM STOP MERGES "+table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "SYSTEM START MERGES "+table) })
	var recs []logrecord.Record
	for _, r := range querytest.Records() {
		if r.Workspace == querytest.Acme {
			recs = append(recs, r)
		}
	}
	slices.SortFunc(recs, func(a, b logrecord.Record) int {
		return cmp.Or(cmp.Compare(b.StartedAt, a.StartedAt), strings.Compare(b.RequestID, a.RequestID))
	})
	load(t, recs)
	const limit = 6
	load(t, recs[:limit]) // the latest six again, as a replay loads them
	q := query.RecentQuery{Filter: query.Filter{Workspace: querytest.Acme},
		From: querytest.T0.Add(-10 * query.Day), To: querytest.T0.Add(10 * query.Day), Limit: limit}
	got, err := s.Recent(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	var ids, want []string
	for i := range got {
		ids = append(ids, got[i].RequestID)
	}
	for i := range recs[:limit] {
		want = append(want, recs[i].RequestID)
	}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("recent requests %v, want %v", ids, want)
	}
}

// Recent requests of a filter quiet at the end of a long range start their
// read at the latest hours that hold the limit's worth of the filter's
// requests, as counted by an hour rollup; a filter no rollup keeps reads
// the last day; a range holding fewer than the limit is read whole.
func TestRecentStartCountsTheLatestHours(t *testing.T) {
	s, load, _ := newStore(t)
	recs := querytest.Records()
	load(t, recs)
	from, to := querytest.T0.Add(-2*query.Day), querytest.T0.Add(3*query.Day)
	// want is the start of the latest hour at which the filter's records
	// from there on reach limit, counted from the records themselves.
	want := func(keep func(logrecord.Record) bool, limit int) time.Time {
		perHour := map[time.Time]int{}
		for _, r := range recs {
			if keep(r) {
				perHour[time.UnixMilli(r.StartedAt).UTC().Truncate(time.Hour)]++
			}
		}
		hours := slices.SortedFunc(maps.Keys(perHour), func(a, b time.Time) int { return b.Compare(a) })
		n := 0
		for _, h := range hours {
			if n += perHour[h]; n >= limit {
				return h
			}
		}
		return from
	}
	acme := func(r logrecord.Record) bool { return r.Workspace == querytest.Acme }
	for _, tc := range []struct {
		name  string
		f     query.Filter
		limit int
		want  time.Time
	}{
		{"a consumer", query.Filter{Workspace: querytest.Acme, ConsumerID: "bob"}, 30,
			want(func(r logrecord.Record) bool { return acme(r) && r.ConsumerID == "bob" }, 30)},
		{"a service's server errors", query.Filter{Workspace: querytest.Acme, ServiceID: "svc-b", StatusClass: 5}, 5,
			want(func(r logrecord.Record) bool { return acme(r) && r.ServiceID == "svc-b" && r.Status/100 == 5 }, 5)},
		{"an error class", query.Filter{Workspace: querytest.Acme, ErrorClass: "timeout"}, 3,
			want(func(r logrecord.Record) bool { return acme(r) && r.ErrorClass == "timeout" }, 3)},
		{"every workspace", query.Filter{AllWorkspaces: true}, 500, want(func(logrecord.Record) bool { return true }, 500)},
		{"a method, in no rollup: the last day", query.Filter{Workspace: querytest.Acme, Method: "POST"}, 10, to.Add(-query.Day)},
		{"more than there is: the whole range", query.Filter{Workspace: querytest.Acme, ConsumerID: "bob"}, 1000, from},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := query.RecentQuery{Filter: tc.f, From: from, To: to, Limit: tc.limit}.Normalize()
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.Equal(from) && tc.limit < 1000 {
				t.Fatal("the filter's records never reach the limit: the case checks nothing")
			}
			got, err := s.recentStart(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("recent requests of %+v start at %v; want %v", tc.f, got, tc.want)
			}
		})
	}
}

// The planner's keys of each rollup are the columns the migrations give
// it, and it knows every traffic rollup: a key it wrongly believed a table
// kept would send a query to a table without that column, and one it
// wrongly believed missing would read a larger table than needed.
func TestRollupKeysMatchTheirColumns(t *testing.T) {
	_, _, conn := newStore(t)
	columns := map[keys][]string{
		keyWorkspace: {"workspace"},
		keyService:   {"service_id"},
		keyRoute:     {"route_id"},
		keyConsumer:  {"consumer_id"},
		keyStatus:    {"status", "error_class"},
	}
	for _, r := range clickhousemigrate.Rollups {
		if r.Usage {
			continue
		}
		if !slices.ContainsFunc(rollups, func(p rollupKeys) bool { return string(p.table) == r.Table }) {
			t.Errorf("the planner does not know %s", r.Table)
		}
	}
	for _, r := range rollups {
		rows, err := conn.Query(t.Context(), "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = ?", string(r.table))
		if err != nil {
			t.Fatal(err)
		}
		have, err := query.Collect(rows, func(rows query.Rows) (string, error) {
			var name string
			return name, rows.Scan(&name)
		})
		if err != nil {
			t.Fatal(err)
		}
		for k, cols := range columns {
			for _, c := range cols {
				if got, want := slices.Contains(have, c), r.keys&k != 0; got != want {
					t.Errorf("%s: column %s present %v, but the planner's keys say %v", r.table, c, got, want)
				}
			}
		}
	}
}

// Statements over the rollups use ClickHouse's cache of uncompressed
// blocks, so that a dashboard repeating one reads the blocks it
// decompressed the first time; reads of the raw table alone, which would
// fill the cache with the blocks of every column, do not.
func TestRollupStatementsUseTheUncompressedCache(t *testing.T) {
	s, load, conn := newStore(t)
	load(t, querytest.Records())
	hits := func() uint64 {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(t.Context(), "SELECT toUInt64(sum(value)) FROM system.events WHERE event = 'UncompressedCacheHits'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	f := query.Filter{Workspace: querytest.Acme}
	from, to := querytest.T0.Add(-query.Day), querytest.T0.Add(query.Day)
	// A store given other settings sends those instead.
	off, err := New(conn, s.db, clickhousego.Settings{"use_uncompressed_cache": 0})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		cached bool
		run    func() error
	}{
		{"series by the hour", true, func() error {
			_, err := s.Series(t.Context(), query.SeriesQuery{Filter: f, From: from, To: to, Bucket: time.Hour})
			return err
		}},
		{"series by the day, with the cache turned off", false, func() error {
			_, err := off.Series(t.Context(), query.SeriesQuery{Filter: f, From: from, To: to, Bucket: query.Day})
			return err
		}},
		{"top routes", true, func() error {
			_, err := s.Top(t.Context(), query.TopQuery{Filter: f, From: from, To: to, By: query.ByRoute, OrderBy: query.MetricRequests})
			return err
		}},
		// Within an hour: recent requests of a longer range may count
		// the hours to read in a rollup first (recentStart).
		{"recent requests over an hour", false, func() error {
			_, err := s.Recent(t.Context(), query.RecentQuery{Filter: f, From: querytest.T0.Add(9 * time.Hour), To: querytest.T0.Add(10 * time.Hour)})
			return err
		}},
		{"series of one method (raw)", false, func() error {
			g := f
			g.Method = "GET"
			_, err := s.Series(t.Context(), query.SeriesQuery{Filter: g, From: from, To: to, Bucket: time.Hour})
			return err
		}},
	} {
		if err := c.run(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		before := hits()
		if err := c.run(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if after := hits(); (after > before) != c.cached {
			t.Errorf("%s again: %d hits of the uncompressed cache before, %d after; want more: %v", c.name, before, after, c.cached)
		}
	}
}
