package collector

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tollgate/tollgate/analytics/query"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

// DefaultReconcileSettle is how old an hour must be, past its end, before
// Reconcile looks at it.
const DefaultReconcileSettle = 10 * time.Minute

// mutationWait bounds how long Reconcile waits for one of its deletes (an
// asynchronous mutation) to finish before it gives up on the run.
const mutationWait = 5 * time.Minute

// rollup is a table that a materialized view fills from requests, and how
// Reconcile rebuilds it.
type rollup struct {
	clickhousemigrate.Rollup
	// columns and rebuild come from the table's materialized view in the
	// embedded migrations (rebuildQueries): the columns the view's SELECT
	// names, in its order, and that SELECT reading {database}.requests
	// FINAL {where}.
	columns string
	rebuild string
	// days and fill are, for a week rollup, its day rollup (Days) and
	// its migration's fill from it with {where} for the condition on the
	// days: what Reconcile checks and rebuilds a week with.
	days clickhousemigrate.Rollup
	fill string
}

// rebuildStep is the period Reconcile rebuilds: whole hours, whole days
// for the day rollups.
func (ru rollup) rebuildStep() time.Duration { return max(ru.Step, time.Hour) }

// rollups are the tables Reconcile checks, in the order it checks them.
var rollups = func() []rollup {
	out := make([]rollup, len(clickhousemigrate.Rollups))
	for i, r := range clickhousemigrate.Rollups {
		out[i] = rollup{Rollup: r}
	}
	return out
}()

// rebuildQueries returns rollups with their rebuild queries, derived once
// from the migrations' view definitions so that a rebuild aggregates
// exactly as the view does.
var rebuildQueries = sync.OnceValues(func() ([]rollup, error) {
	migs, err := clickhousemigrate.Migrations()
	if err != nil {
		return nil, err
	}
	return withRebuilds(rollups, migs)
})

// selectedColumn is one line of a view's select list: an expression and
// its alias, or a bare column.
var selectedColumn = regexp.MustCompile(`^(?:.* AS )?(\w+),?$`)

// viewSource is where a rollup's view reads; the rebuild reads the same
// table with FINAL and only the hours it rebuilds.
const viewSource = "\nFROM " + clickhousemigrate.DatabasePlaceholder + ".requests\n"

// withRebuilds fills in the columns and rebuild query of each of rus from
// the last definition of its view in migs (a later migration may replace
// a view). The view's SELECT must list one column per line and read
// requests with no WHERE, as 001_init.sql's do.
func withRebuilds(rus []rollup, migs []clickhousemigrate.Migration) ([]rollup, error) {
	views := clickhousemigrate.Views(migs)
	out := slices.Clone(rus)
	for i := range out {
		ru := &out[i]
		sel, ok := views[ru.Table]
		if !ok {
			return nil, fmt.Errorf("reconcile: no materialized view writes to %s", ru.Table)
		}
		list, groupBy, ok := strings.Cut(sel, viewSource)
		if !ok || strings.Contains(groupBy, viewSource) || !strings.HasPrefix(groupBy, "GROUP BY ") {
			return nil, fmt.Errorf("reconcile: the view of %s does not read requests in a form a rebuild can restrict:\n%s", ru.Table, sel)
		}
		var cols []string
		for _, line := range strings.Split(strings.TrimPrefix(list, "SELECT\n"), "\n") {
			c := selectedColumn.FindStringSubmatch(strings.TrimSpace(line))
			if c == nil {
				return nil, fmt.Errorf("reconcile: the view of %s: cannot tell the column of %q", ru.Table, line)
			}
			cols = append(cols, c[1])
		}
		ru.columns = strings.Join(cols, ", ")
		ru.rebuild = list + "\nFROM " + clickhousemigrate.DatabasePlaceholder + ".requests FINAL\n{where}\n" + groupBy
		if ru.Days != "" {
			i := slices.IndexFunc(out, func(d rollup) bool { return d.Table == ru.Days && d.Step == clickhousemigrate.Day })
			if i < 0 {
				return nil, fmt.Errorf("reconcile: %s is made of %s, which is not a day rollup", ru.Table, ru.Days)
			}
			fill, err := weekFill(ru.Rollup, migs)
			if err != nil {
				return nil, err
			}
			ru.days, ru.fill = out[i].Rollup, fill
		}
	}
	return out, nil
}

// weekFill returns the statement of migs that fills the week rollup r
// from its day rollup while it is empty, with {where} in place of the
// guard, for the condition on the days read.
func weekFill(r clickhousemigrate.Rollup, migs []clickhousemigrate.Migration) (string, error) {
	db := clickhousemigrate.DatabasePlaceholder
	guard := "WHERE (SELECT count() FROM " + db + "." + r.Table + ") = 0"
	for _, m := range migs {
		for _, stmt := range m.Statements {
			if strings.HasPrefix(stmt, "INSERT INTO "+db+"."+r.Table+" (") &&
				strings.Contains(stmt, "\nFROM "+db+"."+r.Days+"\n"+guard+"\n") {
				return strings.Replace(stmt, guard, "{where}", 1), nil
			}
		}
	}
	return "", fmt.Errorf("reconcile: no migration fills %s from %s", r.Table, r.Days)
}

// Period is a span of one rollup table: a minute, an hour or a UTC day.
type Period struct {
	Table  string
	Start  time.Time // UTC
	Length time.Duration
}

func (p Period) String() string {
	return p.Table + " " + p.Start.UTC().Format("2006-01-02T15:04Z") + "+" + p.Length.String()
}

// Mismatch is a period whose rollup counts a different number of requests
// than the raw table does (with FINAL: each request id once).
type Mismatch struct {
	Period
	Raw    uint64
	Rollup uint64
}

// Report is what one Reconcile found and did.
type Report struct {
	// From and To bound the hours checked, [From, To): the requested
	// range widened to whole hours, with To moved back so that no hour
	// ending less than the settle time ago is included. From == To when
	// nothing was old enough.
	From, To time.Time
	// Hours are the hours checked in every rollup (and their minutes in
	// requests_by_minute, their days in the day rollups when whole).
	Hours []time.Time
	// Mismatches are the periods whose counts differed: minutes for
	// requests_by_minute, days for the day rollups, weeks for the week
	// rollups (Raw is then their days' count), hours for the others.
	Mismatches []Mismatch
	// Rebuilt are the hours (days for the day rollups) rebuilt from
	// requests FINAL, per table, and the weeks of the week rollups
	// rebuilt from their days.
	Rebuilt []Period
	// Skipped are mismatched hours left alone because the raw table has
	// no rows on their day: retention dropped it (billing usage outlives
	// the raw records), and a rebuild would wipe the rollup; and weeks
	// left alone because their day rollup has no rows in them.
	Skipped []Period
}

// ReconcileOption changes how Reconcile works.
type ReconcileOption func(*reconcileOptions)

type reconcileOptions struct {
	settle time.Duration
	now    func() time.Time
}

// SettleTime sets how long after its end an hour is left alone
// (DefaultReconcileSettle when not given). Records for an hour keep
// arriving after it ends, as long as the collector lags; a rebuild racing
// with them can count a record twice or not at all until the next run.
func SettleTime(d time.Duration) ReconcileOption {
	return func(o *reconcileOptions) { o.settle = max(d, 0) }
}

// Reconcile compares, for each hour in [from, to), the request counts of
// every rollup (per minute in requests_by_minute, per UTC day in the day
// rollups when the whole day is in the range and settled, per hour in the
// others) with the raw table read with FINAL, and rebuilds from requests
// FINAL, with the aggregation the materialized view uses, every hour (or
// day) of a rollup whose counts differ. Then it compares each week of a
// week rollup whose last day is wholly in the range with the days of its
// day rollup (Rollup.Days), checked by then, and rebuilds a week that
// differs from them as its migration filled it. It checks nothing newer
// than the settle time (SettleTime). log may be nil.
//
// The rollups can drift from the raw table when ClickHouse dies in the
// middle of an INSERT (it runs a table's materialized views one after
// another, not atomically) or when a row reaches requests twice (FINAL
// counts it once, the views counted it twice). Reconcile repairs both.
//
// A rebuild deletes the hour's rows with ALTER TABLE ... DELETE, waits for
// that mutation to finish and inserts the hour again. A mutation only
// touches the parts that exist when it starts, so the collector's inserts
// into other hours (of the same day too) are neither lost nor counted
// twice. Records of the rebuilt hour itself arriving while it is rebuilt
// can be; the settle time keeps those away, and the next run repairs what
// slips through. Two Reconciles running at once can rebuild the same hour
// twice: run it from one place (one collector with ReconcileEvery, or a
// scheduled job).
func Reconcile(ctx context.Context, conn driver.Conn, database string, from, to time.Time, log *slog.Logger, opts ...ReconcileOption) (Report, error) {
	o := reconcileOptions{settle: DefaultReconcileSettle, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !clickhousemigrate.ValidDatabase(database) {
		return Report{}, fmt.Errorf("reconcile: %q is not a valid database name", database)
	}
	rus, err := rebuildQueries()
	if err != nil {
		return Report{}, err
	}
	start := from.UTC().Truncate(time.Hour)
	end := to.UTC().Truncate(time.Hour)
	if end.Before(to) {
		end = end.Add(time.Hour)
	}
	// An hour H is settled when H+1h <= now-settle, that is when H is
	// before the hour now-settle falls in.
	end = minTime(end, o.now().UTC().Add(-o.settle).Truncate(time.Hour))
	end = maxTime(end, start)
	rep := Report{From: start, To: end}
	r := reconciler{conn: conn, db: database, rollups: rus, log: log, rep: &rep}
	for day := start.Truncate(24 * time.Hour); day.Before(end); day = day.Add(24 * time.Hour) {
		lo, hi := maxTime(start, day), minTime(end, day.Add(24*time.Hour))
		if err := r.day(ctx, day, lo, hi); err != nil {
			return rep, err
		}
	}
	for _, ru := range rus {
		if ru.Days != "" {
			if err := r.weeks(ctx, ru, start, end); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

type reconciler struct {
	conn    driver.Conn
	db      string
	rollups []rollup // with their rebuild queries
	log     *slog.Logger
	rep     *Report
}

// day checks and repairs [lo, hi), the settled hours of one UTC day.
func (r *reconciler) day(ctx context.Context, day, lo, hi time.Time) error {
	for h := lo; h.Before(hi); h = h.Add(time.Hour) {
		r.rep.Hours = append(r.rep.Hours, h)
	}
	where := timeRange("started_at", lo, hi)
	raw, err := r.counts(ctx, "SELECT toStartOfMinute(started_at) AS t, count() FROM "+r.db+".requests FINAL WHERE "+where+" GROUP BY t")
	if err != nil {
		return err
	}
	rawHours := byHour(raw)
	wholeDay := lo.Equal(day) && hi.Equal(day.Add(24*time.Hour))
	var rawDay *uint64 // read when first needed
	for _, ru := range r.rollups {
		// A day rollup is checked once its whole day is settled and in
		// the range: before, it holds records of hours not checked. A
		// week rollup is checked against its days (weeks).
		if (ru.Step == clickhousemigrate.Day && !wholeDay) || ru.Days != "" {
			continue
		}
		got, err := r.counts(ctx, "SELECT "+ru.Column+" AS t, toUInt64("+ru.Requests()+") FROM "+r.db+"."+ru.Table+
			" WHERE "+timeRange(ru.Column, lo, hi)+" GROUP BY t")
		if err != nil {
			return err
		}
		want := raw
		switch ru.Step {
		case time.Hour:
			want = rawHours
		case clickhousemigrate.Day:
			want = byDay(raw)
		}
		bad := map[time.Time]bool{}
		for _, t := range unionKeys(want, got) {
			if want[t] == got[t] {
				continue
			}
			m := Mismatch{Period: Period{Table: ru.Table, Start: t, Length: ru.Step}, Raw: want[t], Rollup: got[t]}
			r.rep.Mismatches = append(r.rep.Mismatches, m)
			r.log.Warn("rollup count differs from the raw table", "table", ru.Table, "period", t, "length", ru.Step, "raw", m.Raw, "rollup", m.Rollup)
			bad[t.Truncate(ru.rebuildStep())] = true
		}
		if len(bad) == 0 {
			continue
		}
		if rawDay == nil {
			n, err := r.count(ctx, "SELECT count() FROM "+r.db+".requests WHERE "+timeRange("started_at", day, day.Add(24*time.Hour)))
			if err != nil {
				return err
			}
			rawDay = &n
		}
		hours := sortedKeys(bad)
		if *rawDay == 0 {
			for _, h := range hours {
				r.rep.Skipped = append(r.rep.Skipped, Period{Table: ru.Table, Start: h, Length: ru.rebuildStep()})
			}
			r.log.Warn("not rebuilding a rollup for a day without raw rows (dropped by retention?)", "table", ru.Table, "day", day.Format(time.DateOnly))
			continue
		}
		// One delete and one insert per run of consecutive hours (or
		// days): a mutation rewrites every part it touches.
		step := ru.rebuildStep()
		for len(hours) > 0 {
			n := 1
			for n < len(hours) && hours[n].Equal(hours[n-1].Add(step)) {
				n++
			}
			if err := r.rebuild(ctx, ru, hours[0], hours[n-1].Add(step), rawHours); err != nil {
				return err
			}
			hours = hours[n:]
		}
	}
	return nil
}

// rebuild replaces the rows of ru in the hours [lo, hi) with what its view
// would write from requests FINAL.
func (r *reconciler) rebuild(ctx context.Context, ru rollup, lo, hi time.Time, rawHours map[time.Time]uint64) error {
	var want uint64
	for h := lo; h.Before(hi); h = h.Add(time.Hour) {
		want += rawHours[h]
	}
	q := strings.ReplaceAll(ru.rebuild, clickhousemigrate.DatabasePlaceholder, r.db)
	q = strings.ReplaceAll(q, "{where}", "WHERE "+timeRange("started_at", lo, hi))
	return r.replace(ctx, ru, lo, hi, want, "INSERT INTO "+r.db+"."+ru.Table+" ("+ru.columns+") "+q, ru.rebuildStep(), "the raw table")
}

// replace deletes the rows of ru in [lo, hi), waits for the delete, and
// runs insert, which writes want requests' rows again from source, unless
// the rows count want already: another Reconcile may have rebuilt them
// meanwhile, and inserting again would count them twice. It reports the
// periods of length step it rebuilt.
func (r *reconciler) replace(ctx context.Context, ru rollup, lo, hi time.Time, want uint64, insert string, step time.Duration, source string) error {
	table := r.db + "." + ru.Table
	span := fmt.Sprintf("[%s, %s)", lo.Format(time.RFC3339), hi.Format(time.RFC3339))
	if err := r.conn.Exec(ctx, "ALTER TABLE "+table+" DELETE WHERE "+timeRange(ru.Column, lo, hi)); err != nil {
		return fmt.Errorf("reconcile: delete %s %s: %w", table, span, err)
	}
	if err := r.waitMutations(ctx, ru.Table); err != nil {
		return err
	}
	n, err := r.count(ctx, "SELECT toUInt64("+ru.Requests()+") FROM "+table+" WHERE "+timeRange(ru.Column, lo, hi))
	if err != nil {
		return err
	}
	if n != 0 && n == want {
		r.log.Info("rollup already rebuilt", "table", ru.Table, "from", lo, "to", hi)
		return nil
	}
	if err := r.conn.Exec(ctx, insert); err != nil {
		return fmt.Errorf("reconcile: rebuild %s %s: %w", table, span, err)
	}
	for p := lo; p.Before(hi); p = p.Add(step) {
		r.rep.Rebuilt = append(r.rep.Rebuilt, Period{Table: ru.Table, Start: p, Length: step})
	}
	r.log.Info("rebuilt rollup", "table", ru.Table, "from", lo, "to", hi, "source", source)
	return nil
}

// weeks checks and repairs the weeks of the week rollup ru whose last day
// is wholly in [lo, hi): their days in ru.Days have just been checked, and
// its earlier days were when they were in a range. A week counting a
// different number of requests than its days is rebuilt from them, unless
// its days have no rows at all (retention dropped them).
func (r *reconciler) weeks(ctx context.Context, ru rollup, lo, hi time.Time) error {
	const week = clickhousemigrate.Week
	// Weeks align as the planner splits ranges at them: the first whose
	// last day starts at lo or later, up to the last that ends by hi.
	first := query.Ceil(lo.Add(-(week - clickhousemigrate.Day)), week)
	last := query.Floor(hi, week)
	if !first.Before(last) {
		return nil
	}
	days := ru.days
	secs := strconv.Itoa(int(week / time.Second))
	weekOf := "toDateTime(intDiv(toUInt32(" + days.Column + "), " + secs + ") * " + secs + ")"
	want, err := r.counts(ctx, "SELECT "+weekOf+" AS t, toUInt64("+days.Requests()+") FROM "+r.db+"."+days.Table+
		" WHERE "+timeRange(days.Column, first, last)+" GROUP BY t")
	if err != nil {
		return err
	}
	got, err := r.counts(ctx, "SELECT "+ru.Column+" AS t, toUInt64("+ru.Requests()+") FROM "+r.db+"."+ru.Table+
		" WHERE "+timeRange(ru.Column, first, last)+" GROUP BY t")
	if err != nil {
		return err
	}
	for _, w := range unionKeys(want, got) {
		if want[w] == got[w] {
			continue
		}
		m := Mismatch{Period: Period{Table: ru.Table, Start: w, Length: week}, Raw: want[w], Rollup: got[w]}
		r.rep.Mismatches = append(r.rep.Mismatches, m)
		r.log.Warn("week rollup count differs from its days", "table", ru.Table, "days", ru.Days, "week", w, "days_count", m.Raw, "week_count", m.Rollup)
		if want[w] == 0 {
			r.rep.Skipped = append(r.rep.Skipped, m.Period)
			r.log.Warn("not rebuilding a week without rows in its day rollup (dropped by retention?)", "table", ru.Table, "week", w.Format(time.DateOnly))
			continue
		}
		if err := r.rebuildWeek(ctx, ru, w, want[w]); err != nil {
			return err
		}
	}
	return nil
}

// rebuildWeek replaces the rows of the week rollup ru in the week from w
// with its days' from ru.Days, which count want requests.
func (r *reconciler) rebuildWeek(ctx context.Context, ru rollup, w time.Time, want uint64) error {
	end := w.Add(clickhousemigrate.Week)
	q := strings.ReplaceAll(ru.fill, clickhousemigrate.DatabasePlaceholder, r.db)
	q = strings.ReplaceAll(q, "{where}", "WHERE "+timeRange(ru.days.Column, w, end))
	return r.replace(ctx, ru, w, end, want, q, clickhousemigrate.Week, ru.Days)
}

// waitMutations waits until table has no unfinished mutation. 18.16 has
// no mutations_sync setting, and both it and current releases list
// mutations in system.mutations.
func (r *reconciler) waitMutations(ctx context.Context, table string) error {
	ctx, cancel := context.WithTimeout(ctx, mutationWait)
	defer cancel()
	backoff := 50 * time.Millisecond
	for {
		var n uint64
		err := r.conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND table = ? AND is_done = 0", r.db, table).Scan(&n)
		if err != nil {
			return fmt.Errorf("reconcile: wait for mutations of %s.%s: %w", r.db, table, err)
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("reconcile: %d mutations of %s.%s still running: %w", n, r.db, table, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// counts runs a query returning (time, count) rows.
func (r *reconciler) counts(ctx context.Context, query string) (map[time.Time]uint64, error) {
	rows, err := r.conn.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %s: %w", query, err)
	}
	defer rows.Close()
	out := map[time.Time]uint64{}
	for rows.Next() {
		var (
			t time.Time
			n uint64
		)
		if err := rows.Scan(&t, &n); err != nil {
			return nil, fmt.Errorf("reconcile: %s: %w", query, err)
		}
		out[t.UTC()] += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconcile: %s: %w", query, err)
	}
	return out, nil
}

func (r *reconciler) count(ctx context.Context, query string) (uint64, error) {
	var n uint64
	if err := r.conn.QueryRow(ctx, query).Scan(&n); err != nil {
		return 0, fmt.Errorf("reconcile: %s: %w", query, err)
	}
	return n, nil
}

// timeRange is column in [lo, hi). Unix seconds keep time zones out of it.
func timeRange(column string, lo, hi time.Time) string {
	return column + " >= toDateTime(" + strconv.FormatInt(lo.Unix(), 10) + ") AND " +
		column + " < toDateTime(" + strconv.FormatInt(hi.Unix(), 10) + ")"
}

func byHour(m map[time.Time]uint64) map[time.Time]uint64 {
	out := make(map[time.Time]uint64, len(m)/60+1)
	for t, n := range m {
		out[t.Truncate(time.Hour)] += n
	}
	return out
}

func byDay(m map[time.Time]uint64) map[time.Time]uint64 {
	out := make(map[time.Time]uint64, len(m)/1440+1)
	for t, n := range m {
		out[t.Truncate(24*time.Hour)] += n
	}
	return out
}

func unionKeys(a, b map[time.Time]uint64) []time.Time {
	set := make(map[time.Time]bool, len(a)+len(b))
	for t := range a {
		set[t] = true
	}
	for t := range b {
		set[t] = true
	}
	return sortedKeys(set)
}

func sortedKeys(set map[time.Time]bool) []time.Time {
	out := make([]time.Time, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
