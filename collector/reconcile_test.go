package collector

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/analytics/query"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

// loadRows inserts records [from, to), one every spacing before end, with
// the loader: no Kafka, any time. Their topic is not testTopic, so a
// collector does not take them for its own.
func (e *env) loadRows(from, to int, end time.Time, spacing time.Duration) {
	e.t.Helper()
	var rows Rows
	for i := from; i < to; i++ {
		rec := testRecord(i, end)
		rec.StartedAt = end.Add(-time.Duration(i) * spacing).UnixMilli()
		rows.Add(&rec, "loaded-directly", 0, int64(i))
	}
	if err := e.loader().Insert(e.t.Context(), newQueryID(), &rows); err != nil {
		e.t.Fatalf("insert: %v", err)
	}
}

func (e *env) exec(query string) {
	e.t.Helper()
	if err := e.conn.Exec(e.t.Context(), strings.ReplaceAll(query, "{db}", e.db)); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
}

// rollupDump renders every rollup row, aggregate states read out, in key
// order: two databases with equal dumps hold the same rollups. Without
// days, it leaves out the day rollups.
func (e *env) rollupDump(days bool) string {
	e.t.Helper()
	usage := func(table, keys string) string {
		return "SELECT " + keys + ", sum(requests), sum(billable_requests), sum(billing_units_total) " +
			"FROM {db}." + table + " GROUP BY " + keys + " ORDER BY " + keys
	}
	queries := []string{
		traffic(clickhousemigrate.TableRequestsByMinute, "minute, workspace, service_id, route_id, consumer_id, status_class"),
		traffic(clickhousemigrate.TableRequestsByHour, "hour, workspace, service_id, route_id, consumer_id, status_class"),
		traffic(clickhousemigrate.TableRequestsByMinuteWorkspace, "minute, workspace, status_class"),
		traffic(clickhousemigrate.TableRequestsByMinuteService, "minute, workspace, service_id, status_class"),
		traffic(clickhousemigrate.TableRequestsByMinuteRoute, "minute, workspace, service_id, route_id, status_class"),
		traffic(clickhousemigrate.TableRequestsByHourWorkspace, "hour, workspace, status_class"),
		traffic(clickhousemigrate.TableRequestsByHourAll, "hour, status_class"),
		traffic(clickhousemigrate.TableRequestsByHourService, "hour, workspace, service_id, status_class"),
		traffic(clickhousemigrate.TableRequestsByHourRoute, "hour, workspace, service_id, route_id, status_class"),
		traffic(clickhousemigrate.TableRequestsByHourConsumer, "hour, workspace, consumer_id, status_class"),
		traffic(clickhousemigrate.TableRequestsByHourStatus, "hour, workspace, service_id, status_class, status, error_class"),
		usage(clickhousemigrate.TableConsumerUsage, "hour, workspace, consumer_id, service_id"),
	}
	if days {
		queries = append(queries,
			traffic(clickhousemigrate.TableRequestsByDayService, "day, workspace, service_id, status_class"),
			traffic(clickhousemigrate.TableRequestsByDayRoute, "day, workspace, service_id, route_id, status_class"),
			traffic(clickhousemigrate.TableRequestsByDayConsumer, "day, workspace, consumer_id, status_class"),
			traffic(clickhousemigrate.TableRequestsByDayStatus, "day, workspace, service_id, status_class, status, error_class"),
			usage(clickhousemigrate.TableConsumerUsageByDay, "day, workspace, consumer_id"))
	}
	return e.dump(queries)
}

// traffic selects a traffic rollup's rows by keys, states read out.
func traffic(table, keys string) string {
	return "SELECT " + keys + ", sumMerge(requests), sumMerge(errors), " +
		"sumMerge(server_errors), sumMerge(request_bytes_total), sumMerge(response_bytes_total), " +
		clickhousemigrate.LatencyMerge("latency_total") + ", " + clickhousemigrate.LatencyMerge("latency_upstream") + ", " +
		clickhousemigrate.LatencyMerge("latency_gateway") + ", " +
		"uniqMerge(consumers) FROM {db}." + table + " GROUP BY " + keys + " ORDER BY " + keys
}

// weekDump renders the week route rollup as rollupDump does the others.
func (e *env) weekDump() string {
	e.t.Helper()
	return e.dump([]string{traffic(clickhousemigrate.TableRequestsByWeekRoute, "week, workspace, service_id, route_id, status_class")})
}

// dump renders the rows of queries, each query's followed by "--".
func (e *env) dump(queries []string) string {
	e.t.Helper()
	var b strings.Builder
	for _, q := range queries {
		q = strings.ReplaceAll(q, "{db}", e.db)
		rows, err := e.conn.Query(e.t.Context(), q)
		if err != nil {
			e.t.Fatalf("%s: %v", q, err)
		}
		n := len(rows.Columns())
		for rows.Next() {
			vals := make([]any, n)
			for i, ct := range rows.ColumnTypes() {
				vals[i] = reflect.New(ct.ScanType()).Interface()
			}
			if err := rows.Scan(vals...); err != nil {
				e.t.Fatalf("%s: %v", q, err)
			}
			for _, v := range vals {
				fmt.Fprintf(&b, "%v\t", reflect.ValueOf(v).Elem().Interface())
			}
			b.WriteByte('\n')
		}
		if err := rows.Err(); err != nil {
			e.t.Fatal(err)
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

func (e *env) reconcile(from, to time.Time, opts ...ReconcileOption) Report {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 2*time.Minute)
	defer cancel()
	rep, err := Reconcile(ctx, e.conn, e.db, from, to, testLogger(e.t), opts...)
	if err != nil {
		e.t.Fatalf("Reconcile: %v", err)
	}
	return rep
}

// TestReconcile corrupts the rollups the ways a crash (or a row loaded
// twice) can, and checks that Reconcile finds exactly the periods that
// differ, rebuilds their hours, and leaves the rollups as the views had
// written them from clean data.
func TestReconcile(t *testing.T) {
	// 3000 records, one every 37 s: about 31 hours over two or three
	// UTC days, all settled: the newest is in an hour that ended over an
	// hour ago, whatever the minute the test runs at.
	end := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour - time.Second)
	const n, spacing = 3000, 37 * time.Second
	from, to := end.Add(-n*spacing-time.Hour), time.Now()
	hourOf := func(i int) time.Time { return end.Add(-time.Duration(i) * spacing).Truncate(time.Hour) }
	day := hourOf(1500).Truncate(24 * time.Hour)
	var dayHours int
	for i := range n {
		if hourOf(i).Truncate(24*time.Hour).Equal(day) && (i == 0 || !hourOf(i).Equal(hourOf(i-1))) {
			dayHours++
		}
	}
	twiceHours := 1 // hours of records 10..19
	if !hourOf(10).Equal(hourOf(19)) {
		twiceHours = 2
	}

	tests := []struct {
		name    string
		corrupt func(e *env)
		// rebuilt[table] is how many hours (days) of it must be rebuilt;
		// rebuiltDays, when set, adds the days of the day rollups, which
		// depend on the report's range.
		rebuilt     map[string]int
		rebuiltDays func(rep Report) int
	}{
		{name: "clean", corrupt: func(*env) {}},
		{
			name: "minute rollup counts a batch twice",
			corrupt: func(e *env) {
				// The view ran again for the records of one hour.
				h := hourOf(100)
				rus, err := rebuildQueries()
				if err != nil {
					e.t.Fatal(err)
				}
				e.exec("INSERT INTO {db}.requests_by_minute (" + rus[0].columns + ") " +
					strings.ReplaceAll(strings.ReplaceAll(rus[0].rebuild, "{database}", e.db), "{where}",
						"WHERE "+timeRange("started_at", h, h.Add(time.Hour))))
			},
			rebuilt: map[string]int{clickhousemigrate.TableRequestsByMinute: 1},
		},
		{
			name:    "hour rollup lost a day",
			corrupt: func(e *env) { e.exec("ALTER TABLE {db}.requests_by_hour DROP PARTITION " + day.Format("20060102")) },
			rebuilt: map[string]int{clickhousemigrate.TableRequestsByHour: dayHours},
		},
		{
			name: "views missed a batch",
			corrupt: func(e *env) {
				// The records are in the raw table; the crash came
				// before these views ran.
				m := end.Add(-2000 * spacing).Truncate(time.Minute)
				e.exec("ALTER TABLE {db}.consumer_usage_by_hour DELETE WHERE " + timeRange("hour", hourOf(2000), hourOf(2000).Add(time.Hour)))
				e.exec("ALTER TABLE {db}.requests_by_minute DELETE WHERE " + timeRange("minute", m, m.Add(time.Minute)))
				e.waitMutations()
			},
			rebuilt: map[string]int{clickhousemigrate.TableRequestsByMinute: 1, clickhousemigrate.TableConsumerUsage: 1},
		},
		{
			name:    "a row loaded twice",
			corrupt: func(e *env) { e.loadRows(10, 20, end, spacing) },
			rebuilt: map[string]int{
				clickhousemigrate.TableRequestsByMinute:          twiceHours,
				clickhousemigrate.TableRequestsByMinuteWorkspace: twiceHours,
				clickhousemigrate.TableRequestsByMinuteService:   twiceHours,
				clickhousemigrate.TableRequestsByMinuteRoute:     twiceHours,
				clickhousemigrate.TableRequestsByHour:            twiceHours,
				clickhousemigrate.TableRequestsByHourWorkspace:   twiceHours,
				clickhousemigrate.TableRequestsByHourAll:         twiceHours,
				clickhousemigrate.TableRequestsByHourService:     twiceHours,
				clickhousemigrate.TableRequestsByHourRoute:       twiceHours,
				clickhousemigrate.TableRequestsByHourConsumer:    twiceHours,
				clickhousemigrate.TableRequestsByHourStatus:      twiceHours,
				clickhousemigrate.TableConsumerUsage:             twiceHours,
			},
			// The day rollups are checked only for the days wholly in
			// the range checked.
			rebuiltDays: func(rep Report) int {
				days := map[time.Time]bool{}
				for i := 10; i < 20; i++ {
					d := hourOf(i).Truncate(24 * time.Hour)
					if !d.Before(rep.From) && !d.Add(24*time.Hour).After(rep.To) {
						days[d] = true
					}
				}
				return len(days)
			},
		},
	}
	var clean string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, nil)
			e.loadRows(0, n, end, spacing)
			want, wantNoDays := e.rollupDump(true), e.rollupDump(false)
			if clean == "" {
				clean = want
			} else if want != clean {
				t.Fatal("the views wrote different rollups from the same rows")
			}
			tc.corrupt(e)
			rep := e.reconcile(from, to)

			if len(rep.Hours) < 31 {
				t.Errorf("checked %d hours from %v to %v; want all 31+ of the data", len(rep.Hours), rep.From, rep.To)
			}
			got := map[string]int{}
			for _, p := range rep.Rebuilt {
				// A week that ends in the range is repaired with
				// its days: TestReconcileRebuildsWeeks.
				if p.Length != clickhousemigrate.Week {
					got[p.Table]++
				}
			}
			wantRebuilt := maps.Clone(tc.rebuilt)
			// A day rollup is repaired once its whole day is settled:
			// until then, what was counted twice there stays.
			days := true
			if tc.rebuiltDays != nil {
				if n := tc.rebuiltDays(rep); n > 0 {
					for _, table := range dayTables {
						wantRebuilt[table] = n
					}
				} else {
					days = false
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(wantRebuilt) && !(len(got) == 0 && len(wantRebuilt) == 0) {
				t.Errorf("rebuilt %v; want %v hours (days) per table", rep.Rebuilt, wantRebuilt)
			}
			if (len(rep.Mismatches) == 0) != (len(tc.rebuilt) == 0) {
				t.Errorf("mismatches %v; want some exactly when something is rebuilt", rep.Mismatches)
			}
			for _, m := range rep.Mismatches {
				if m.Length == clickhousemigrate.Week && len(tc.rebuilt) == 0 {
					t.Errorf("week mismatch %v with nothing corrupted", m)
				}
				if m.Raw == m.Rollup {
					t.Errorf("mismatch %v with equal counts", m)
				}
			}
			if !days {
				want = wantNoDays
			}
			if dump := e.rollupDump(days); dump != want {
				t.Errorf("rollups after Reconcile differ from what the views wrote:\n%s", diffLines(want, dump))
			}
			e.checkExactlyOnceFinal(n, days)
			if again := e.reconcile(from, to); len(again.Mismatches) != 0 || len(again.Rebuilt) != 0 {
				t.Errorf("second run: mismatches %v, rebuilt %v; want none", again.Mismatches, again.Rebuilt)
			}
		})
	}
}

// TestReconcileRebuildsWeeks corrupts the week route rollup, alone and
// with its days, and checks that Reconcile rebuilds exactly the week
// whose last day is in its range, from its days, as its migration filled
// it and its view wrote it.
func TestReconcileRebuildsWeeks(t *testing.T) {
	const week = clickhousemigrate.Week
	// The last whole Unix week that ended more than two hours ago, with
	// 3000 records, one every 200 s, over all of its seven days.
	w := query.Floor(time.Now().Add(-2*time.Hour), week).Add(-week)
	end := w.Add(week - time.Second)
	const n, spacing = 3000, 200 * time.Second
	lastDay := w.Add(week - clickhousemigrate.Day)

	tests := []struct {
		name    string
		corrupt func(e *env)
		from    time.Time // the range checked, to now
		rebuilt bool
	}{
		{name: "clean", corrupt: func(*env) {}, from: w},
		{
			name: "week counts a day twice",
			corrupt: func(e *env) {
				rus, err := rebuildQueries()
				if err != nil {
					e.t.Fatal(err)
				}
				for _, ru := range rus {
					if ru.Days != "" {
						e.exec(strings.ReplaceAll(strings.ReplaceAll(ru.fill, "{database}", e.db), "{where}",
							"WHERE "+timeRange("day", lastDay, lastDay.Add(clickhousemigrate.Day))))
					}
				}
			},
			from: lastDay, rebuilt: true,
		},
		{
			name:    "week lost, its last day not wholly checked",
			corrupt: func(e *env) { e.exec("ALTER TABLE {db}.requests_by_week_route DROP PARTITION " + w.Format("20060102")) },
			from:    lastDay.Add(time.Hour),
		},
		{
			name:    "week lost",
			corrupt: func(e *env) { e.exec("ALTER TABLE {db}.requests_by_week_route DROP PARTITION " + w.Format("20060102")) },
			from:    lastDay, rebuilt: true,
		},
		{
			name:    "a row loaded twice",
			corrupt: func(e *env) { e.loadRows(10, 20, end, spacing) },
			from:    w, rebuilt: true,
		},
	}
	var clean string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, nil)
			e.loadRows(0, n, end, spacing)
			want := e.weekDump()
			if clean == "" {
				clean = want
			} else if want != clean {
				t.Fatal("the view wrote different weeks from the same rows")
			}
			if got := e.count("SELECT sumMerge(requests) FROM {db}.requests_by_week_route"); got != n {
				t.Fatalf("the week rollup counts %d requests; want %d", got, n)
			}
			tc.corrupt(e)
			rep := e.reconcile(tc.from, time.Now())
			var weeks []Period
			for _, p := range rep.Rebuilt {
				if p.Length == week {
					weeks = append(weeks, p)
				}
			}
			wantWeeks := []Period(nil)
			if tc.rebuilt {
				wantWeeks = []Period{{Table: clickhousemigrate.TableRequestsByWeekRoute, Start: w, Length: week}}
			}
			if !reflect.DeepEqual(weeks, wantWeeks) {
				t.Fatalf("rebuilt weeks %v; want %v", weeks, wantWeeks)
			}
			if !tc.rebuilt {
				for _, m := range rep.Mismatches {
					if m.Length == week {
						t.Errorf("week mismatch %v; want the week left unchecked or clean", m)
					}
				}
				return
			}
			if dump := e.weekDump(); dump != want {
				t.Errorf("week rollup after Reconcile differs from what the view wrote:\n%s", diffLines(want, dump))
			}
			if got := e.count("SELECT sumMerge(requests) FROM {db}.requests_by_week_route"); got != n {
				t.Errorf("the week rollup counts %d requests after Reconcile; want %d", got, n)
			}
			if again := e.reconcile(tc.from, time.Now()); len(again.Mismatches) != 0 || len(again.Rebuilt) != 0 {
				t.Errorf("second run: mismatches %v, rebuilt %v; want none", again.Mismatches, again.Rebuilt)
			}
		})
	}
}

// TestReconcileLeavesRecentHoursAlone checks that nothing newer than the
// settle time is checked or rebuilt, and that a day retention dropped
// from the raw table is not wiped from the rollups.
func TestReconcileLeavesRecentHoursAlone(t *testing.T) {
	e := newEnv(t, 1, nil)
	now := time.Now().UTC()
	e.loadRows(0, 100, now, time.Second) // the last 100 s
	e.exec("ALTER TABLE {db}.requests_by_hour DROP PARTITION " + now.Format("20060102"))
	if now.Add(-100*time.Second).Format("20060102") != now.Format("20060102") {
		e.exec("ALTER TABLE {db}.requests_by_hour DROP PARTITION " + now.Add(-100*time.Second).Format("20060102"))
	}
	rep := e.reconcile(now.Add(-48*time.Hour), now)
	if !rep.To.Before(now.Add(-DefaultReconcileSettle)) || len(rep.Mismatches) != 0 || len(rep.Rebuilt) != 0 {
		t.Errorf("report %+v; want nothing after %v checked", rep, now.Add(-DefaultReconcileSettle))
	}
	if got := e.count("SELECT sumMerge(requests) FROM {db}.requests_by_hour"); got != 0 {
		t.Errorf("hour rollup counts %d; want it left as it was (0)", got)
	}

	// Billing usage outlives the raw records: a day without raw rows is
	// reported, not rebuilt.
	old := now.Add(-30 * time.Hour)
	e.loadRows(0, 10, old, time.Second)
	e.exec("ALTER TABLE {db}.requests DROP PARTITION " + old.Format("20060102"))
	rep = e.reconcile(old.Add(-time.Hour), old.Add(time.Hour))
	if len(rep.Skipped) == 0 || len(rep.Rebuilt) != 0 {
		t.Errorf("skipped %v, rebuilt %v; want the day skipped", rep.Skipped, rep.Rebuilt)
	}
	if got := e.count("SELECT sum(requests) FROM {db}.consumer_usage_by_hour WHERE hour < now() - 3600*24"); got != 10 {
		t.Errorf("usage for the dropped day = %d; want 10 kept", got)
	}
}

// checkExactlyOnceFinal checks that the raw table read with FINAL and every
// rollup (the day rollups only with days) count n requests. The week
// rollups are left out: reconcile checks their weeks against the day
// rollups they are rebuilt from (Rollup.Days).
func (e *env) checkExactlyOnceFinal(n uint64, days bool) {
	e.t.Helper()
	queries := []string{"SELECT count() FROM {db}.requests FINAL"}
	for _, r := range clickhousemigrate.Rollups {
		if r.Days != "" || (!days && r.Step >= clickhousemigrate.Day) {
			continue
		}
		queries = append(queries, "SELECT "+r.Requests()+" FROM {db}."+r.Table)
	}
	for _, q := range queries {
		if got := e.count(q); got != n {
			e.t.Errorf("%s = %d; want %d", q, got, n)
		}
	}
}

func (e *env) waitMutations() {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for e.count("SELECT count() FROM system.mutations WHERE database = '{db}' AND is_done = 0") > 0 {
		if time.Now().After(deadline) {
			e.t.Fatal("mutations still running after a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// diffLines lists the lines only in want (-) and only in got (+).
func diffLines(want, got string) string {
	in := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if g[l] == 0 {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if w[l] == 0 {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// TestCollectorReconciles runs the collector with ReconcileEvery: it
// repairs a rollup while it loads records, and reports through its hooks
// and counters.
func TestCollectorReconciles(t *testing.T) {
	e := newEnv(t, 1, nil)
	const old = 500
	end := time.Now().UTC().Add(-2 * time.Hour)
	e.loadRows(0, old, end, 5*time.Second)
	e.exec("ALTER TABLE {db}.requests_by_minute DROP PARTITION " + end.Format("20060102"))
	if d := end.Add(-old * 5 * time.Second); d.Format("20060102") != end.Format("20060102") {
		e.exec("ALTER TABLE {db}.requests_by_minute DROP PARTITION " + d.Format("20060102"))
	}

	var mu sync.Mutex
	rebuilt := map[string]int{}
	reports := make(chan Report, 100)
	cfg := e.config()
	cfg.ReconcileEvery = 200 * time.Millisecond
	cfg.ReconcileWindow = 6 * time.Hour
	r := e.startHooks(cfg, Hooks{
		PeriodRebuilt: func(table string) { mu.Lock(); rebuilt[table]++; mu.Unlock() },
		Reconciled: func(rep Report, err error) {
			if err != nil {
				t.Errorf("periodic reconcile: %v", err)
			}
			select {
			case reports <- rep:
			default:
			}
		},
	}, nil)
	// Records of now, which the collector loads meanwhile (and which
	// reconciling leaves alone: they have not settled).
	e.produce(e.producer(), old, old+1000)
	e.waitRows(old+1000, time.Minute)
	awaitReports(t, reports, 3, "periodic reconcile")
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	st := r.c.Stats()
	mu.Lock()
	defer mu.Unlock()
	if st.PeriodsRebuilt == 0 || uint64(rebuilt[clickhousemigrate.TableRequestsByMinute]) != st.PeriodsRebuilt || len(rebuilt) != 1 ||
		st.RollupMismatches == 0 || st.Reconciles < 3 || st.ReconcileErrors != 0 {
		t.Errorf("stats %+v, rebuilt hook %v; want the minute rollup's hours rebuilt once", st, rebuilt)
	}
	e.checkExactlyOnce(old + 1000)
}

// TestRebuildQueries checks how the rebuild queries are derived from the
// views' definitions; TestReconcile checks that they write what the views
// wrote.
func TestRebuildQueries(t *testing.T) {
	rus, err := rebuildQueries()
	if err != nil {
		t.Fatal(err)
	}
	usage := rus[len(rus)-2]
	if got, want := usage.columns, "hour, workspace, consumer_id, service_id, requests, billable_requests, billing_units_total"; got != want {
		t.Errorf("columns of %s = %q, want %q", usage.Table, got, want)
	}
	for _, ru := range rus {
		if ru.Table == clickhousemigrate.TableRequestsByDayRoute && !strings.Contains(ru.rebuild, "toStartOfDay(started_at) AS day,") {
			t.Errorf("rebuild of %s does not aggregate by day:\n%s", ru.Table, ru.rebuild)
		}
	}
	for _, ru := range rus {
		if ru.Days == "" {
			continue
		}
		if ru.days.Table != ru.Days || ru.days.Step != clickhousemigrate.Day ||
			!strings.Contains(ru.fill, "\nFROM {database}."+ru.Days+"\n{where}\nGROUP BY week,") {
			t.Errorf("week rollup %s: days %+v, rebuild from them:\n%s", ru.Table, ru.days, ru.fill)
		}
	}
	if !strings.Contains(rus[0].rebuild, "\nFROM {database}.requests FINAL\n{where}\nGROUP BY minute,") {
		t.Errorf("rebuild of %s does not read requests FINAL {where}:\n%s", rus[0].Table, rus[0].rebuild)
	}

	view := func(sql string) []clickhousemigrate.Migration {
		return []clickhousemigrate.Migration{{File: "001_init.sql", Statements: []string{sql}}}
	}
	ru := []rollup{{Rollup: clickhousemigrate.Rollup{Table: "r"}}}
	for _, tc := range []struct {
		name string
		migs []clickhousemigrate.Migration
		want string // in the error
	}{
		{name: "no view", migs: view("CREATE TABLE {database}.r (x UInt8) ENGINE = Memory"), want: "no materialized view writes to r"},
		{
			name: "a WHERE of its own",
			migs: view("CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.r_mv TO {database}.r AS\nSELECT\nx\nFROM {database}.requests\nWHERE x > 1\nGROUP BY x"),
			want: "does not read requests",
		},
		{
			name: "two columns on a line",
			migs: view("CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.r_mv TO {database}.r AS\nSELECT\nx, y\nFROM {database}.requests\nGROUP BY x, y"),
			want: "cannot tell the column",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := withRebuilds(ru, tc.migs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// dayTables are the rollups of whole UTC days, which Reconcile repairs
// only once their day has settled.
var dayTables = func() []string {
	var out []string
	for _, ru := range rollups {
		if ru.Step == clickhousemigrate.Day {
			out = append(out, ru.Table)
		}
	}
	return out
}()

// TestCollectorCompacts runs the collector with ReconcileEvery over a
// settled day loaded in several INSERTs: after its reconciles, each
// compactable rollup holds that day in one part, and the hooks and
// counters say so.
func TestCollectorCompacts(t *testing.T) {
	e := newEnv(t, 1, nil)
	yesterday := time.Now().UTC().Truncate(24 * time.Hour).Add(-12 * time.Hour)
	for i := range 6 {
		e.loadRows(100*i, 100*i+100, yesterday, 10*time.Second)
	}
	compacted := make(chan int, 100)
	cfg := e.config()
	cfg.ReconcileEvery = 200 * time.Millisecond
	cfg.ReconcileWindow = 48 * time.Hour
	r := e.startHooks(cfg, Hooks{
		Compacted: func(n int, err error) {
			if err != nil {
				t.Errorf("compact: %v", err)
			}
			compacted <- n
		},
	}, nil)
	awaitReports(t, compacted, 2, "compaction")
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	day := yesterday.Format("20060102")
	for _, table := range clickhousemigrate.Compactable {
		if table == clickhousemigrate.TableRequestsByWeekRoute {
			continue // its partition is a week, over only on Thursdays
		}
		var parts uint64
		err := e.conn.QueryRow(t.Context(), "SELECT count() FROM system.parts WHERE database = ? AND table = ? AND active AND partition = ?",
			e.db, table, day).Scan(&parts)
		if err != nil {
			t.Fatal(err)
		}
		if parts != 1 {
			t.Errorf("%s: %d active parts of %s; want 1", table, parts, day)
		}
	}
	if st := r.c.Stats(); st.CompactErrors != 0 {
		t.Errorf("stats %+v; want no compaction errors", st)
	}
	e.checkExactlyOnce(600)
}
