package clickhousemigrate

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tollgate/tollgate/internal/migration"
)

// testRow is the part of a requests row the rollups read.
type testRow struct {
	id        string
	at        time.Time
	service   string
	consumer  string
	status    uint16
	errClass  string
	latency   float64
	reqBytes  int64
	billable  bool
	units     int64
	partition int32
	offset    int64
}

func insertRows(t *testing.T, conn driver.Conn, db string, rows []testRow) {
	t.Helper()
	b, err := conn.PrepareBatch(t.Context(), "INSERT INTO "+db+".requests "+
		"(request_id, started_at, started_at_ms, workspace, service_id, route_id, consumer_id, status, error_class, "+
		"latency_total_ms, latency_upstream_ms, latency_gateway_ms, request_bytes, response_bytes, billable, billing_units, kafka_topic, kafka_partition, kafka_offset)")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		var billable uint8
		if r.billable {
			billable = 1
		}
		err := b.Append(r.id, r.at, r.at.UnixMilli(), "default", r.service, "route", r.consumer, r.status, r.errClass,
			r.latency, r.latency/2, r.latency/4, r.reqBytes, r.reqBytes*2, billable, r.units, "topic", r.partition, r.offset)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatalf("insert: %v", err)
	}
}

func migrated(t *testing.T) (driver.Conn, string) {
	t.Helper()
	conn, db := testDB(t)
	if _, err := Up(t.Context(), conn, db, nil); err != nil {
		t.Fatalf("Up: %v", err)
	}
	return conn, db
}

// hundredRows are 100 requests over 50 minutes of one service: 4
// consumers, latencies 0 to 99 ms, 10 answered 503 and 10 answered 404.
func hundredRows(base time.Time) []testRow {
	var rows []testRow
	for i := 0; i < 100; i++ {
		r := testRow{
			id:        fmt.Sprintf("r%03d", i),
			at:        base.Add(time.Duration(i) * 30 * time.Second), // 50 minutes
			service:   "svc",
			consumer:  fmt.Sprintf("c%d", i%4),
			status:    200,
			latency:   float64(i),
			reqBytes:  10,
			billable:  i%2 == 0,
			units:     3,
			partition: int32(i % 2),
			offset:    int64(i / 2),
		}
		switch {
		case i%10 == 0:
			r.status, r.errClass = 503, "upstream_unavailable"
		case i%10 == 1:
			r.status, r.errClass = 404, "no_route"
		}
		rows = append(rows, r)
	}
	return rows
}

func TestRollupsFillFromInserts(t *testing.T) {
	conn, db := migrated(t)
	ctx := t.Context()
	rows := hundredRows(time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC))
	// Two inserts, as two collector batches would make.
	insertRows(t, conn, db, rows[:60])
	insertRows(t, conn, db, rows[60:])

	checkTraffic(t, conn, db)

	t.Run("minutes", func(t *testing.T) {
		var minutes uint64
		if err := conn.QueryRow(ctx, "SELECT uniqExact(minute) FROM "+db+".requests_by_minute").Scan(&minutes); err != nil {
			t.Fatal(err)
		}
		if minutes != 50 {
			t.Fatalf("%d minutes; want 50", minutes)
		}
	})

	for _, table := range UsageTables {
		t.Run("consumer usage in "+table, func(t *testing.T) {
			got := lines(t, conn, "SELECT concat(consumer_id, ':', toString(sum(requests)), '/', toString(sum(billable_requests)), '/', "+
				"toString(sum(billing_units_total))) FROM "+db+"."+table+" GROUP BY consumer_id ORDER BY consumer_id")
			// c0 and c2 get the even (billable) requests, 3 units each.
			want := []string{"c0:25/25/75", "c1:25/0/0", "c2:25/25/75", "c3:25/0/0"}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("usage = %v; want %v", got, want)
			}
		})
	}

	for _, table := range []string{TableRequestsByHourStatus, TableRequestsByDayStatus} {
		t.Run("status codes in "+table, func(t *testing.T) {
			got := lines(t, conn, "SELECT concat(toString(status_class), '/', toString(status), '/', error_class, ':', "+
				"toString(sumMerge(requests)), '/', toString(sumMerge(errors))) FROM "+db+"."+table+
				" GROUP BY status_class, status, error_class ORDER BY status")
			want := []string{"2/200/:80/0", "4/404/no_route:10/10", "5/503/upstream_unavailable:10/10"}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("by status = %v; want %v", got, want)
			}
		})
	}

	t.Run("loaded offsets", func(t *testing.T) {
		got := lines(t, conn, "SELECT concat(toString(kafka_partition), ':', toString(max(max_offset))) FROM "+db+
			".loaded_offsets WHERE topic = 'topic' GROUP BY kafka_partition ORDER BY kafka_partition")
		if want := []string{"0:49", "1:49"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("loaded offsets = %v; want %v", got, want)
		}
	})
}

// checkTraffic checks every traffic rollup against hundredRows.
func checkTraffic(t *testing.T, conn driver.Conn, db string) {
	t.Helper()
	type totals struct {
		Requests, Errors, ServerErrors uint64
		RequestBytes                   int64
		Consumers                      uint64
	}
	want := totals{Requests: 100, Errors: 20, ServerErrors: 10, RequestBytes: 1000, Consumers: 4}
	for _, r := range Rollups {
		if r.Usage {
			continue
		}
		t.Run(r.Table, func(t *testing.T) {
			var got totals
			err := conn.QueryRow(t.Context(), "SELECT sumMerge(requests), sumMerge(errors), sumMerge(server_errors), "+
				"sumMerge(request_bytes_total), uniqMerge(consumers) FROM "+db+"."+r.Table).
				Scan(&got.Requests, &got.Errors, &got.ServerErrors, &got.RequestBytes, &got.Consumers)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("totals = %+v; want %+v", got, want)
			}
			// Latencies are 0 to 99 ms, one each, the gateway's a
			// quarter of them: the nearest ranks are 49, 89, 94 and 98,
			// read within a rank and 1 %.
			var total, gateway []float64
			err = conn.QueryRow(t.Context(), "SELECT "+LatencyMerge("latency_total")+", "+LatencyMerge("latency_gateway")+
				" FROM "+db+"."+r.Table).Scan(&total, &gateway)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []float64{49, 89, 94, 98} {
				if len(total) != 4 || math.Abs(total[i]-want) > 1.5 || len(gateway) != 4 || math.Abs(gateway[i]-want/4) > 1.5/4 {
					t.Fatalf("latency quantiles = %v, the gateway's %v; want about 49, 89, 94 and 98, and a quarter", total, gateway)
				}
			}
		})
	}
}

// beforeLatencyBuckets returns a database migrated up to 004 holding the
// first 60 of hundredRows, the migrations, 004's index among them, and
// the rows.
func beforeLatencyBuckets(t *testing.T) (driver.Conn, string, []Migration, int, []testRow) {
	return before(t, "004_latency_buckets.sql")
}

// before returns a database migrated up to the migration file holding
// the first 60 of hundredRows, the migrations, file's index among them,
// and the rows.
func before(t *testing.T, file string) (driver.Conn, string, []Migration, int, []testRow) {
	t.Helper()
	conn, db := testDB(t)
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	at := slices.IndexFunc(migs, func(m Migration) bool { return m.File == file })
	if at < 0 {
		t.Fatalf("no %s", file)
	}
	if _, err := up(t.Context(), conn, db, nil, migs[:at]); err != nil {
		t.Fatalf("up to %s: %v", migs[at-1], err)
	}
	rows := hundredRows(time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC))
	insertRows(t, conn, db, rows[:60])
	return conn, db, migs, at, rows
}

// TestUpgradeRebuildsLatencyBuckets: a database holding requests under
// migrations 001 to 003, whose rollups kept t-digests, is upgraded by
// 004: every traffic rollup is rebuilt from the stored requests, counts
// each once, and goes on filling from later inserts; and 004 run again,
// as after a failure, leaves the same rollups.
func TestUpgradeRebuildsLatencyBuckets(t *testing.T) {
	conn, db, migs, at, rows := beforeLatencyBuckets(t)
	ctx := t.Context()
	if _, err := up(ctx, conn, db, testLogger(t), migs); err != nil {
		t.Fatalf("up: %v", err)
	}
	insertRows(t, conn, db, rows[60:])
	for _, r := range Rollups {
		if r.Usage {
			continue
		}
		var typ string
		err := conn.QueryRow(ctx, "SELECT type FROM system.columns WHERE database = ? AND table = ? AND name = 'latency_total'", db, r.Table).Scan(&typ)
		if err != nil || !strings.Contains(typ, "quantilesTiming") {
			t.Errorf("%s.latency_total is %q (%v); want quantilesTiming states", r.Table, typ, err)
		}
	}
	checkTraffic(t, conn, db)
	runAgain(t, conn, db, migs, at)
}

// TestUpgradeCutShortIsRunAgain: 004 stopped after it renamed a rebuilt
// table into place but before it created that table's view, as a crash
// would leave it (nothing recorded), is run again whole by the next Up:
// the renamed table is filled again from the stored requests, and every
// rollup counts each request once and fills from later inserts.
func TestUpgradeCutShortIsRunAgain(t *testing.T) {
	conn, db, migs, at, rows := beforeLatencyBuckets(t)
	ctx := t.Context()
	runUntil(t, conn, db, migs[at], func(s string) bool { return strings.HasPrefix(s, "CREATE MATERIALIZED VIEW ") })
	if _, err := up(ctx, conn, db, testLogger(t), migs); err != nil {
		t.Fatalf("up: %v", err)
	}
	insertRows(t, conn, db, rows[60:])
	checkTraffic(t, conn, db)
}

// TestUpgradeAddsRouteWeeks: 005 fills the week route rollup from the
// day rollup's rows of the requests stored before it, rebuilds the
// consumer rollups with 32-row granules, and every rollup counts each
// request once and fills from later inserts, also after 005 is run again.
func TestUpgradeAddsRouteWeeks(t *testing.T) {
	conn, db, migs, at, rows := before(t, "005_route_weeks_and_consumer_granules.sql")
	ctx := t.Context()
	if _, err := up(ctx, conn, db, testLogger(t), migs); err != nil {
		t.Fatalf("up: %v", err)
	}
	var weekRows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+"."+TableRequestsByWeekRoute).Scan(&weekRows); err != nil || weekRows == 0 {
		t.Fatalf("%s has %d rows (%v) after the upgrade; want the stored requests' weeks", TableRequestsByWeekRoute, weekRows, err)
	}
	insertRows(t, conn, db, rows[60:])
	checkGranules(t, conn, db, 32, TableRequestsByHourConsumer, TableRequestsByDayConsumer)
	checkTraffic(t, conn, db)
	runAgain(t, conn, db, migs, at)
}

// TestUpgradeFillsNewAndRebuiltRollups: each of 006 to 010, applied to a
// database holding requests, leaves its new or rebuilt rollups counting
// the stored requests (006 fills the workspace minute rollup and the
// every-workspace hour rollup from the rollups; 007 rebuilds the day
// rollups from the stored requests and the week rollup from the new day
// rollup, and 008 the workspace hour rollup, with 32-row granules; 009
// fills the service and route minute rollups from the minute rollup; 010
// rebuilds the minute rollup sorted by time first, with 256-row granules),
// and every rollup counts each request once and fills from later inserts,
// also after the migration is run again.
func TestUpgradeFillsNewAndRebuiltRollups(t *testing.T) {
	for _, tc := range []struct {
		file     string
		tables   []string
		granules int    // of the tables, when the migration sets them
		orderBy  string // the tables' sorting key, when the migration sets it
	}{
		{"006_workspace_minutes_and_all_hours.sql", []string{TableRequestsByMinuteWorkspace, TableRequestsByHourAll}, 0, ""},
		{"007_day_and_week_granules.sql", []string{TableRequestsByDayService, TableRequestsByDayRoute, TableRequestsByDayStatus, TableRequestsByWeekRoute}, 32, ""},
		{"008_workspace_hour_granules.sql", []string{TableRequestsByHourWorkspace}, 32, ""},
		{"009_service_and_route_minutes.sql", []string{TableRequestsByMinuteService, TableRequestsByMinuteRoute}, 256, ""},
		{"010_minute_rollup_by_time.sql", []string{TableRequestsByMinute}, 256, "(workspace, minute, service_id, route_id, consumer_id, status_class)"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			conn, db, migs, at, rows := before(t, tc.file)
			if _, err := up(t.Context(), conn, db, testLogger(t), migs); err != nil {
				t.Fatalf("up: %v", err)
			}
			if tc.granules > 0 {
				checkGranules(t, conn, db, tc.granules, tc.tables...)
			}
			if tc.orderBy != "" {
				checkEngine(t, conn, db, "ORDER BY "+tc.orderBy, tc.tables...)
			}
			checkStored(t, conn, db, tc.tables...)
			insertRows(t, conn, db, rows[60:])
			checkTraffic(t, conn, db)
			runAgain(t, conn, db, migs, at)
		})
	}
}

// TestUpgradeSortsRequestsByTime: 011 rebuilds the raw table sorted by
// workspace and time, keeping every stored row once; the views go on
// filling every rollup and the loaded offsets from inserts into the new
// table; and 011 run again leaves the same.
func TestUpgradeSortsRequestsByTime(t *testing.T) {
	conn, db, migs, at, rows := before(t, "011_requests_by_time.sql")
	upSortsByTime(t, conn, db, migs, rows)
	// hundredRows puts request i at offset i/2 of partition i%2.
	got := lines(t, conn, "SELECT toString(kafka_partition) || ':' || toString(max(max_offset)) FROM "+db+".loaded_offsets GROUP BY kafka_partition ORDER BY kafka_partition")
	if want := []string{"0:49", "1:49"}; !slices.Equal(got, want) {
		t.Errorf("loaded offsets = %v after inserts into the new table; want %v", got, want)
	}
	runAgain(t, conn, db, migs, at)
	checkRaw(t, conn, db, 100)
}

// TestUpgradeRequestsCheckStopsTheSwap: records loaded into requests while
// 011 fills its new table (a collector left running) make its check fail
// before the rename, with a message that says where to look; requests is
// left whole and as it was. Once the half-filled table is dropped, up
// rebuilds it with every row.
func TestUpgradeRequestsCheckStopsTheSwap(t *testing.T) {
	conn, db, migs, at, rows := before(t, "011_requests_by_time.sql")
	ctx := t.Context()
	runUntil(t, conn, db, migs[at], isCheck)
	insertRows(t, conn, db, rows[60:])
	_, err := up(ctx, conn, db, testLogger(t), migs)
	if err == nil || !strings.Contains(err.Error(), "a check of the migration failed") || !strings.Contains(err.Error(), migs[at].File) {
		t.Fatalf("up with records loaded during the fill: %v; want the check's failure naming %s", err, migs[at].File)
	}
	checkEngine(t, conn, db, "ORDER BY (workspace, service_id, started_at, request_id)", TableRequests)
	checkRaw(t, conn, db, 100)

	if err := conn.Exec(ctx, "DROP TABLE "+db+".requests_011"); err != nil {
		t.Fatal(err)
	}
	if _, err := up(ctx, conn, db, testLogger(t), migs); err != nil {
		t.Fatalf("up after dropping the half-filled table: %v", err)
	}
	checkEngine(t, conn, db, "ORDER BY (workspace, started_at, request_id)", TableRequests)
	checkRaw(t, conn, db, 100)
	checkTraffic(t, conn, db)
}

// TestUpgradeRequestsRenameCutShort: 011's RENAME cut between its two
// tables (requests moved to requests_010, the checked copy not yet moved
// in) makes the next up fail for want of requests, without advising to
// drop the copy, which is then the only table holding the rows; renaming
// the copy into place, as the schema README says, lets up finish.
func TestUpgradeRequestsRenameCutShort(t *testing.T) {
	conn, db, migs, at, rows := before(t, "011_requests_by_time.sql")
	ctx := t.Context()
	runUntil(t, conn, db, migs[at], func(s string) bool { return strings.HasPrefix(s, "RENAME TABLE ") })
	if err := conn.Exec(ctx, "RENAME TABLE "+db+".requests TO "+db+".requests_010"); err != nil {
		t.Fatal(err)
	}
	_, err := up(ctx, conn, db, testLogger(t), migs)
	if err == nil || strings.Contains(err.Error(), "DROP TABLE") {
		t.Fatalf("up after a cut rename: %v; want a failure that does not advise dropping a table", err)
	}
	var copied uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".requests_011").Scan(&copied); err != nil || copied != 60 {
		t.Fatalf("requests_011 holds %d rows (%v); want the 60 stored", copied, err)
	}
	if err := conn.Exec(ctx, "RENAME TABLE "+db+".requests_011 TO "+db+".requests"); err != nil {
		t.Fatal(err)
	}
	upSortsByTime(t, conn, db, migs, rows)
}

// upSortsByTime runs up on a database holding the first 60 of rows, and
// checks that requests is then sorted by time and holds them once, and
// that it and every rollup count the rest once inserted.
func upSortsByTime(t *testing.T, conn driver.Conn, db string, migs []Migration, rows []testRow) {
	t.Helper()
	if _, err := up(t.Context(), conn, db, testLogger(t), migs); err != nil {
		t.Fatalf("up: %v", err)
	}
	checkEngine(t, conn, db, "ORDER BY (workspace, started_at, request_id)", TableRequests)
	checkRaw(t, conn, db, 60)
	insertRows(t, conn, db, rows[60:])
	checkRaw(t, conn, db, 100)
	checkTraffic(t, conn, db)
}

// runUntil runs m's statements in db up to the first that stop says it
// is, not that one, as a migration cut short there would have.
func runUntil(t *testing.T, conn driver.Conn, db string, m Migration, stop func(string) bool) {
	t.Helper()
	stmts := m.In(db)
	n := slices.IndexFunc(stmts, stop)
	if n < 0 {
		t.Fatalf("%s has no statement to stop at", m.File)
	}
	for _, stmt := range stmts[:n] {
		if err := conn.Exec(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", migration.FirstLine(stmt), err)
		}
	}
}

// checkRaw checks that requests holds n rows, each a different request.
func checkRaw(t *testing.T, conn driver.Conn, db string, n uint64) {
	t.Helper()
	var rows, ids uint64
	if err := conn.QueryRow(t.Context(), "SELECT count(), uniqExact(request_id) FROM "+db+".requests").Scan(&rows, &ids); err != nil {
		t.Fatal(err)
	}
	if rows != n || ids != n {
		t.Errorf("requests holds %d rows of %d requests; want %d of %d", rows, ids, n, n)
	}
}

// checkGranules checks that each of tables has granules of rows rows.
func checkGranules(t *testing.T, conn driver.Conn, db string, rows int, tables ...string) {
	t.Helper()
	checkEngine(t, conn, db, fmt.Sprintf("index_granularity = %d", rows), tables...)
}

// checkEngine checks that the engine clause of each of tables holds want.
func checkEngine(t *testing.T, conn driver.Conn, db, want string, tables ...string) {
	t.Helper()
	for _, table := range tables {
		var engine string
		if err := conn.QueryRow(t.Context(), "SELECT engine_full FROM system.tables WHERE database = ? AND name = ?", db, table).Scan(&engine); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(engine, want) {
			t.Errorf("%s is %q; want %s", table, engine, want)
		}
	}
}

// checkStored checks that each of tables counts the 60 requests that
// before stored, as an upgrade that fills them from those requests leaves
// them.
func checkStored(t *testing.T, conn driver.Conn, db string, tables ...string) {
	t.Helper()
	for _, table := range tables {
		var n uint64
		if err := conn.QueryRow(t.Context(), "SELECT sumMerge(requests) FROM "+db+"."+table).Scan(&n); err != nil || n != 60 {
			t.Errorf("%s counts %d requests (%v) after the upgrade; want the 60 stored", table, n, err)
		}
	}
}

// runAgain runs migs[at] once more, as a migration of its own, as after a
// failure that left it unrecorded, and checks the rollups after.
func runAgain(t *testing.T, conn driver.Conn, db string, migs []Migration, at int) {
	t.Helper()
	again := migs[at]
	again.Version, again.File = 99, "099_again.sql"
	if _, err := up(t.Context(), conn, db, nil, append(slices.Clone(migs), again)); err != nil {
		t.Fatalf("%s again: %v", migs[at].File, err)
	}
	checkTraffic(t, conn, db)
}

// lines returns the rows of a query that selects one string.
func lines(t *testing.T, conn driver.Conn, query string) []string {
	t.Helper()
	r, err := conn.Query(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var line string
		if err := r.Scan(&line); err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDropOlderThan(t *testing.T) {
	conn, db := migrated(t)
	ctx := t.Context()
	now := time.Date(2024, 3, 20, 12, 0, 0, 0, time.UTC)
	days := []time.Time{
		now.AddDate(0, 0, -10),
		now.AddDate(0, 0, -8),
		now.AddDate(0, 0, -7).Add(-time.Hour), // the cutoff's own day: kept
		now.AddDate(0, 0, -1),
		now,
	}
	var rows []testRow
	for i, d := range days {
		rows = append(rows, testRow{id: fmt.Sprint(i), at: d, service: "s", consumer: "c", status: 200, offset: int64(i)})
	}
	insertRows(t, conn, db, rows)

	// Weeks start on Thursdays: the week rollup has a row for the week
	// of 7 March, ending on the cutoff's day, and one for 14 March.
	tests := []struct {
		name       string
		tables     []string
		age        time.Duration // 7 days when zero
		wantDrop   int
		wantDays   []string          // the partitions dropped
		wantCounts map[string]uint64 // table: rows (or, for rollups, rows of the table) left
	}{
		{
			name:     "traffic tables",
			wantDrop: 32, // 2 days x 16 tables, and no week
			wantDays: []string{"20240310", "20240312"},
			wantCounts: map[string]uint64{
				"requests": 3, "requests_by_minute": 3, "requests_by_hour": 3,
				TableRequestsByHourWorkspace: 3, TableRequestsByHourService: 3, TableRequestsByHourRoute: 3,
				TableRequestsByDayService: 3, TableRequestsByDayRoute: 3, TableRequestsByWeekRoute: 2,
				TableRequestsByHourConsumer: 3, TableRequestsByDayConsumer: 3,
				TableRequestsByHourStatus: 3, TableRequestsByDayStatus: 3,
				TableRequestsByMinuteWorkspace: 3, TableRequestsByHourAll: 3,
				TableConsumerUsage: 5, TableConsumerUsageByDay: 5, "loaded_offsets": 1,
			},
		},
		{
			name:     "usage when named",
			tables:   UsageTables,
			wantDrop: 4,
			wantDays: []string{"20240310", "20240312"},
			wantCounts: map[string]uint64{
				"requests": 3, TableConsumerUsage: 3, TableConsumerUsageByDay: 3, "loaded_offsets": 1,
			},
		},
		{name: "nothing left to drop", wantDrop: 0, wantCounts: map[string]uint64{"requests": 3}},
		{
			name:       "a week once all of it is older",
			tables:     []string{TableRequestsByWeekRoute},
			age:        6 * 24 * time.Hour,
			wantDrop:   1,
			wantDays:   []string{"20240307"},
			wantCounts: map[string]uint64{TableRequestsByWeekRoute: 1, "requests": 3},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			age := tc.age
			if age == 0 {
				age = 7 * 24 * time.Hour
			}
			dropped, err := dropOlderThan(ctx, conn, db, now, age, tc.tables)
			if err != nil {
				t.Fatalf("DropOlderThan: %v", err)
			}
			if len(dropped) != tc.wantDrop {
				t.Fatalf("dropped %v; want %d partitions", dropped, tc.wantDrop)
			}
			for _, p := range dropped {
				if !slices.Contains(tc.wantDays, p.Day) {
					t.Errorf("dropped %v, which is not older than the cutoff", p)
				}
			}
			for table, want := range tc.wantCounts {
				var n uint64
				if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+"."+table).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != want {
					t.Errorf("%s has %d rows; want %d", table, n, want)
				}
			}
		})
	}

	if _, err := DropOlderThan(ctx, conn, db, time.Hour, TableLoadedOffsets); err == nil {
		t.Fatal("DropOlderThan accepted loaded_offsets")
	}
	if _, err := DropOlderThan(ctx, conn, db, 0); err == nil {
		t.Fatal("DropOlderThan accepted a zero age")
	}
}
