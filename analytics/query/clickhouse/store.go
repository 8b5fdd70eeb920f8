package clickhouse

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	clickhousego "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/internal/logrecord"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

// Table is a table queries read.
type Table string

// The tables of schema/clickhouse that queries read.
const (
	Raw             Table = clickhousemigrate.TableRequests
	Minute          Table = clickhousemigrate.TableRequestsByMinute
	MinuteWorkspace Table = clickhousemigrate.TableRequestsByMinuteWorkspace
	MinuteService   Table = clickhousemigrate.TableRequestsByMinuteService
	MinuteRoute     Table = clickhousemigrate.TableRequestsByMinuteRoute
	Hour            Table = clickhousemigrate.TableRequestsByHour
	HourWorkspace   Table = clickhousemigrate.TableRequestsByHourWorkspace
	HourAll         Table = clickhousemigrate.TableRequestsByHourAll
	HourService     Table = clickhousemigrate.TableRequestsByHourService
	HourRoute       Table = clickhousemigrate.TableRequestsByHourRoute
	DayService      Table = clickhousemigrate.TableRequestsByDayService
	DayRoute        Table = clickhousemigrate.TableRequestsByDayRoute
	WeekRoute       Table = clickhousemigrate.TableRequestsByWeekRoute
	HourConsumer    Table = clickhousemigrate.TableRequestsByHourConsumer
	DayConsumer     Table = clickhousemigrate.TableRequestsByDayConsumer
	HourStatus      Table = clickhousemigrate.TableRequestsByHourStatus
	DayStatus       Table = clickhousemigrate.TableRequestsByDayStatus
	Usage           Table = clickhousemigrate.TableConsumerUsage
	UsageDay        Table = clickhousemigrate.TableConsumerUsageByDay
)

// Store is query.Store over a ClickHouse database. It is safe for
// concurrent use.
type Store struct {
	raw     driver.Conn // for statements that read the raw table alone
	rollups driver.Conn // for the others: sends the rollup settings with every statement
	db      string
}

// RollupSettings returns the ClickHouse settings a Store is usually given
// (New) for its statements that read a rollup. use_uncompressed_cache
// keeps the blocks a statement decompresses in the server's cache of
// uncompressed blocks (uncompressed_cache_size in its configuration;
// without one the setting does nothing), so that a dashboard's repeated
// statements over the same settled rollup rows skip decompressing them
// again.
//
// Statements that read the raw table alone run without them (ReadsRollup).
// The raw table's blocks are the largest and the least read again: a
// dashboard's refresh reads the newest records, which are in new parts,
// and a read that misses costs ClickHouse 18.16 more with the cache than
// without, as it copies every block into it (BENCHMARKS.md, "The cache of
// uncompressed blocks").
func RollupSettings() clickhousego.Settings {
	return clickhousego.Settings{"use_uncompressed_cache": 1}
}

// ReadsRollup says whether a statement that reads tables reads a rollup,
// and so runs with the rollup settings.
func ReadsRollup(tables ...Table) bool {
	return slices.ContainsFunc(tables, func(t Table) bool { return t != Raw })
}

// withSettings is a connection whose statements run with settings.
type withSettings struct {
	driver.Conn
	settings clickhousego.Settings
}

func (c withSettings) context(ctx context.Context) context.Context {
	return clickhousego.Context(ctx, clickhousego.WithSettings(c.settings))
}

func (c withSettings) Query(ctx context.Context, q string, args ...any) (driver.Rows, error) {
	return c.Conn.Query(c.context(ctx), q, args...)
}

func (c withSettings) QueryRow(ctx context.Context, q string, args ...any) driver.Row {
	return c.Conn.QueryRow(c.context(ctx), q, args...)
}

func (c withSettings) Select(ctx context.Context, dest any, q string, args ...any) error {
	return c.Conn.Select(c.context(ctx), dest, q, args...)
}

// conn is the connection for a statement that reads tables.
func (s *Store) conn(tables ...Table) driver.Conn {
	if ReadsRollup(tables...) {
		return s.rollups
	}
	return s.raw
}

var _ query.Store = (*Store)(nil)

// New returns a Store reading database over conn. It does not own conn.
// Statements that read a rollup run with the settings rollup, usually
// RollupSettings(); New keeps a copy.
func New(conn driver.Conn, database string, rollup clickhousego.Settings) (*Store, error) {
	// The database name is the one identifier that is not a constant of
	// this package: it comes from configuration, and is checked.
	if !clickhousemigrate.ValidDatabase(database) {
		return nil, fmt.Errorf("analytics store: invalid clickhouse database name %q", database)
	}
	return &Store{raw: conn, rollups: withSettings{conn, maps.Clone(rollup)}, db: database}, nil
}

// rawOnly says whether a query needs columns that only the raw table has:
// the method and the node are in no rollup.
func rawOnly(f query.Filter, by query.Dimension) bool {
	switch by {
	case query.ByMethod, query.ByNode:
		return true
	}
	return f.Method != "" || f.NodeID != ""
}

// keys are the columns a traffic rollup keeps beyond its time and the
// status class, which every one keeps.
type keys uint8

const (
	// keyWorkspace: every rollup but requests_by_hour_all keeps the
	// workspace, which every query reads but an admin's over every
	// workspace that does not group by it.
	keyWorkspace keys = 1 << iota
	keyService
	keyRoute
	keyConsumer
	keyStatus // the status code and the error class
)

// rollups are the traffic rollups with their keys, smallest first among
// those of one period length: a query reads the first that keeps
// what it filters and groups by. Fewer keys mean fewer rows, and above all
// fewer latency states to merge, which is what long ranges pay for.
var rollups = []rollupKeys{
	{WeekRoute, keyWorkspace | keyService | keyRoute},
	{DayService, keyWorkspace | keyService},
	{DayConsumer, keyWorkspace | keyConsumer},
	{DayStatus, keyWorkspace | keyService | keyStatus},
	{DayRoute, keyWorkspace | keyService | keyRoute},
	{HourAll, 0},
	{HourWorkspace, keyWorkspace},
	{HourService, keyWorkspace | keyService},
	{HourConsumer, keyWorkspace | keyConsumer},
	{HourStatus, keyWorkspace | keyService | keyStatus},
	{HourRoute, keyWorkspace | keyService | keyRoute},
	{Hour, keyWorkspace | keyService | keyRoute | keyConsumer},
	{MinuteWorkspace, keyWorkspace},
	{MinuteService, keyWorkspace | keyService},
	{MinuteRoute, keyWorkspace | keyService | keyRoute},
	{Minute, keyWorkspace | keyService | keyRoute | keyConsumer},
}

// rollupKeys is a traffic rollup and the keys it keeps.
type rollupKeys struct {
	table Table
	keys  keys
}

// steps are the rollups' period lengths, longest first. Weeks are
// multiples of 7 days since the Unix epoch, as query.Floor aligns them.
var steps = []time.Duration{clickhousemigrate.Week, query.Day, time.Hour, time.Minute}

// needs returns the keys a query with filter f grouped by by reads.
func needs(f query.Filter, by query.Dimension) keys {
	var k keys
	if !f.AllWorkspaces || by == query.ByWorkspace {
		k |= keyWorkspace
	}
	if f.ServiceID != "" || by == query.ByService {
		k |= keyService
	}
	if f.RouteID != "" || by == query.ByRoute {
		k |= keyRoute
	}
	if f.ConsumerID != "" || by == query.ByConsumer {
		k |= keyConsumer
	}
	if f.Status != 0 || f.ErrorClass != "" || by == query.ByStatus || by == query.ByErrorClass {
		k |= keyStatus
	}
	return k
}

// keysOf returns the keys of a traffic rollup.
func keysOf(t Table) keys {
	for _, r := range rollups {
		if r.table == t {
			return r.keys
		}
	}
	return 0
}

// rollup returns the smallest rollup of periods of length d that keeps need,
// or "" when none does.
func rollup(d time.Duration, need keys) Table {
	for _, r := range rollups {
		if periodOf[r.table] == d && r.keys&need == need {
			return r.table
		}
	}
	return ""
}

// PlanSeries returns the table that serves a normalized series query:
// the smallest rollup whose periods divide the bucket and that keeps the
// query's filters. Normalize aligned the range to the bucket, so to the
// rollup's periods.
func PlanSeries(q query.SeriesQuery) Table {
	if rawOnly(q.Filter, "") {
		return Raw
	}
	need := needs(q.Filter, "")
	for _, step := range steps {
		if q.Bucket%step == 0 {
			if t := rollup(step, need); t != "" {
				return t
			}
		}
	}
	return Raw
}

// Part is a table and the part of a query's range read from it.
type Part struct {
	Table    Table
	From, To time.Time
}

// splitFrom is the shortest range PlanGroups splits. A shorter one holds
// at most a few hours of records: when it is not whole periods of one
// rollup, reading them from the raw table is as quick as reading the
// rollups' edges and merging.
const splitFrom = 6 * time.Hour

// PlanGroups returns the tables that serve a normalized breakdown or
// top-N over [from, to), each with the part of the range it reads, in
// order. Every part is whole periods of its table, so that the plan
// counts exactly the records in the range. A long range is split: its
// whole days from the smallest day rollup that keeps the query's filters
// and grouping, the whole hours around them from the smallest such hour
// rollup, the minutes at its edges from the minute rollup and the seconds
// at its very edges from the raw table. The whole weeks in the middle
// come from a week rollup when one keeps the same keys as the day rollup:
// a week of a busy route is one dense latency state where its days are
// seven, while a week of a wider rollup saves nothing. A short range is
// read from the smallest rollup it is whole periods of, or else from the
// raw table.
func PlanGroups(f query.Filter, from, to time.Time, by query.Dimension) []Part {
	if rawOnly(f, by) {
		return []Part{{Raw, from, to}}
	}
	need := needs(f, by)
	if to.Sub(from) < splitFrom {
		for _, step := range steps {
			if query.Aligned(from, step) && query.Aligned(to, step) {
				if t := rollup(step, need); t != "" {
					return []Part{{t, from, to}}
				}
			}
		}
		return []Part{{Raw, from, to}}
	}
	// Levels from the finest, the raw table at one second, to the
	// coarsest rollup that keeps need.
	levels := []struct {
		step  time.Duration
		table Table
	}{{time.Second, Raw}}
	for i := len(steps) - 1; i >= 0; i-- {
		t := rollup(steps[i], need)
		if t == "" || (steps[i] == clickhousemigrate.Week && keysOf(t) != keysOf(levels[len(levels)-1].table)) {
			continue
		}
		levels = append(levels, struct {
			step  time.Duration
			table Table
		}{steps[i], t})
	}
	// Peel each level's edges off until the next level's whole periods
	// remain; the coarsest level reads the middle.
	var head, tail []Part
	lo, hi := from, to
	for i, l := range levels {
		if i == len(levels)-1 {
			head = append(head, Part{l.table, lo, hi})
			break
		}
		next := levels[i+1].step
		in, out := query.Ceil(lo, next), query.Floor(hi, next)
		if !in.Before(out) {
			head = append(head, Part{l.table, lo, hi})
			break
		}
		if lo.Before(in) {
			head = append(head, Part{l.table, lo, in})
		}
		if out.Before(hi) {
			tail = append([]Part{{l.table, out, hi}}, tail...)
		}
		lo, hi = in, out
	}
	return append(head, tail...)
}

// timeColumn is each table's time column, which also prunes partitions.
var timeColumn = func() map[Table]string {
	m := map[Table]string{Raw: "started_at"}
	for _, r := range clickhousemigrate.Rollups {
		m[Table(r.Table)] = r.Column
	}
	return m
}()

// periodOf is the length of a rollup's periods.
var periodOf = func() map[Table]time.Duration {
	m := map[Table]time.Duration{}
	for _, r := range clickhousemigrate.Rollups {
		m[Table(r.Table)] = r.Step
	}
	return m
}()

// keyColumn maps a dimension to its expression in the raw table and in
// the traffic rollups (empty where the rollups lack it; the planner sends
// a dimension to a rollup only when the rollup keeps its column: the
// status code and the error class are in the status rollups only).
var keyColumn = map[query.Dimension]struct{ raw, rollup string }{
	query.ByWorkspace:   {"workspace", "workspace"},
	query.ByService:     {"service_id", "service_id"},
	query.ByRoute:       {"route_id", "route_id"},
	query.ByConsumer:    {"consumer_id", "consumer_id"},
	query.ByStatus:      {"toString(status)", "toString(status)"},
	query.ByStatusClass: {"toString(intDiv(status, 100))", "toString(status_class)"},
	query.ByMethod:      {"method", ""},
	query.ByNode:        {"node_id", ""},
	query.ByErrorClass:  {"error_class", "error_class"},
}

// orderExpr maps a metric to the aliases of metricsSelect.
var orderExpr = map[query.Metric]string{
	query.MetricRequests:   "m_requests",
	query.MetricErrors:     "m_4xx + m_5xx",
	query.MetricErrors5xx:  "m_5xx",
	query.MetricBytesOut:   "m_out",
	query.MetricLatencyP95: "m_total[3]",
}

// The percentile levels every latency column is read at: p50, p95 and p99
// are the 1st, 3rd and 4th.
const levels = clickhousemigrate.LatencyLevels

// latencyColumn is a latency column of the rollups (the raw table's is the
// same name with _ms) and the alias metricsSelect gives its percentiles.
type latencyColumn struct{ column, alias string }

// The latencies a query reads: the total and upstream ones, and the
// gateway's own when asked for.
var (
	latencies        = []latencyColumn{{"latency_total", "m_total"}, {"latency_upstream", "m_upstream"}}
	gatewayLatencies = append(slices.Clip(latencies), latencyColumn{"latency_gateway", "m_gateway"})
)

func latenciesFor(gateway bool) []latencyColumn {
	if gateway {
		return gatewayLatencies
	}
	return latencies
}

// counterSelect returns the counters of a SELECT from t, metricsSelect's
// first columns. Aliases never reuse a column name (18.16 rejects that) and
// everything is cast to the type Scan receives.
func counterSelect(t Table) string {
	if t == Raw {
		return "toInt64(count()) AS m_requests, " +
			"toInt64(countIf(status >= 400 AND status < 500)) AS m_4xx, " +
			"toInt64(countIf(status >= 500)) AS m_5xx, " +
			"toInt64(sum(request_bytes)) AS m_in, toInt64(sum(response_bytes)) AS m_out"
	}
	return "toInt64(sumMerge(requests)) AS m_requests, " +
		"toInt64(sumMerge(errors)) - toInt64(sumMerge(server_errors)) AS m_4xx, " +
		"toInt64(sumMerge(server_errors)) AS m_5xx, " +
		"toInt64(sumMerge(request_bytes_total)) AS m_in, toInt64(sumMerge(response_bytes_total)) AS m_out"
}

// metricsSelect returns the metric columns of a SELECT from t: the
// counters, then the percentiles of lats in milliseconds: the raw table's
// from t-digests of the recorded latencies (Float32 on 18.16, cast), a
// rollup's from its latency buckets. Without lats it is the counters
// alone, what ordering keys by a counter reads.
func metricsSelect(t Table, lats []latencyColumn) string {
	s := counterSelect(t)
	for _, l := range lats {
		if t == Raw {
			s += ", arrayMap(x -> toFloat64(x), quantilesTDigest(" + levels + ")(" + l.column + "_ms)) AS " + l.alias
		} else {
			s += ", " + clickhousemigrate.LatencyMerge(l.column) + " AS " + l.alias
		}
	}
	return s
}

// The counter states a split range reads from each part, in a UNION ALL,
// and merges with metricsSelect: the rollups' own, and the raw table's
// records aggregated into the same names and types, as a view writes them.
const (
	rawCounterStates = "sumState(toUInt64(1)) AS requests, sumState(toUInt64(status >= 400)) AS errors, " +
		"sumState(toUInt64(status >= 500)) AS server_errors, " +
		"sumState(request_bytes) AS request_bytes_total, sumState(response_bytes) AS response_bytes_total"
	rollupCounterStates = "requests, errors, server_errors, request_bytes_total, response_bytes_total"
)

// states returns the state columns of a part of a split range read from
// t: the counters, then the latency states of lats (the raw table's
// records turned into the rollups' buckets).
func states(t Table, lats []latencyColumn) string {
	if t == Raw {
		s := rawCounterStates
		for _, l := range lats {
			s += ", " + clickhousemigrate.LatencyState(l.column+"_ms") + " AS " + l.column
		}
		return s
	}
	s := rollupCounterStates
	for _, l := range lats {
		s += ", " + l.column
	}
	return s
}

// scanMetrics receives metricsSelect's columns after the key.
func scanMetrics(rows query.Rows, key any, gateway bool) (query.Metrics, error) {
	var (
		m                  query.Metrics
		total, upstream, g []float64
	)
	dest := []any{key, &m.Requests, &m.Errors4xx, &m.Errors5xx, &m.BytesIn, &m.BytesOut, &total, &upstream}
	if gateway {
		dest = append(dest, &g)
	}
	if err := rows.Scan(dest...); err != nil {
		return query.Metrics{}, err
	}
	m.Latency, m.Upstream, m.Gateway = latency(total), latency(upstream), latency(g)
	return m, nil
}

// latency reads the percentiles p50, p95 and p99 out of the levels.
func latency(q []float64) query.Latency {
	if len(q) != 4 {
		return query.Latency{}
	}
	return query.Latency{P50: q[0], P95: q[2], P99: q[3]}
}

// where returns the WHERE clause for t over [from, to) and its arguments.
// The planner sends filters on raw-only columns to Raw, and UsageQuery
// accepts only the workspace, service and consumer filters.
func where(t Table, f query.Filter, from, to time.Time) (string, []any) {
	return whereParts(t, f, []Part{{t, from, to}})
}

// whereParts is where over the ranges of parts, all of them of table t.
func whereParts(t Table, f query.Filter, parts []Part) (string, []any) {
	tc := timeColumn[t]
	class := "status_class"
	if t == Raw {
		class = "intDiv(status, 100)"
	}
	spans := make([]string, len(parts))
	args := make([]any, 0, 2*len(parts))
	for i, p := range parts {
		spans[i] = tc + " >= toDateTime(?) AND " + tc + " < toDateTime(?)"
		args = append(args, p.From.Unix(), p.To.Unix())
	}
	span := spans[0]
	if len(spans) > 1 {
		span = "((" + strings.Join(spans, ") OR (") + "))"
	}
	return query.Where(span, args, f, class)
}

// byTable groups parts by table, in the order the tables first come: a
// split range reads each table once, its parts' ranges joined by OR. On
// 18.16 every SELECT of a UNION ALL costs several milliseconds of its
// own, as much as reading days of a rollup.
func byTable(parts []Part) [][]Part {
	var out [][]Part
	for _, p := range parts {
		i := slices.IndexFunc(out, func(g []Part) bool { return g[0].Table == p.Table })
		if i < 0 {
			out = append(out, []Part{p})
			continue
		}
		out[i] = append(out[i], p)
	}
	return out
}

func (s *Store) from(t Table) string { return s.db + "." + string(t) }

// Series implements query.Store.
func (s *Store) Series(ctx context.Context, q query.SeriesQuery) (query.Series, error) {
	q, err := q.Normalize()
	if err != nil {
		return query.Series{}, err
	}
	t := PlanSeries(q)
	w, wargs := where(t, q.Filter, q.From, q.To)
	stmt := "SELECT toInt64(intDiv(toUInt32(" + timeColumn[t] + "), ?) * ?) AS k_bucket, " +
		metricsSelect(t, latenciesFor(q.GatewayLatency)) + " FROM " + s.from(t) + " WHERE " + w + " GROUP BY k_bucket"
	b := query.Seconds(q.Bucket)
	rows, err := s.conn(t).Query(ctx, stmt, append([]any{b, b}, wargs...)...)
	if err != nil {
		return query.Series{}, fmt.Errorf("series from %s: %w", t, err)
	}
	series, err := query.ReadSeries(rows, q, scanMetrics)
	if err != nil {
		return query.Series{}, fmt.Errorf("series from %s: %w", t, err)
	}
	return series, nil
}

// groupKey returns a dimension's expression in t.
func groupKey(t Table, by query.Dimension) string {
	if t == Raw {
		return keyColumn[by].raw
	}
	return keyColumn[by].rollup
}

// groups runs a GROUP BY a dimension, ordered by a metric. A range read
// from one table is one SELECT; a split range reads each table's states
// (over its parts' ranges), the raw table's aggregated by the key as a
// view would, in a UNION ALL and merges them once, so that counters are
// exact and percentiles come from one latency state per key as from a
// rollup.
//
// A top-N by a counter over rollups finds its keys first, from the
// counters alone, and then merges the latency states of those keys only:
// merging a state per key and period is what a long range costs, and the
// top ten of thousands of consumers need a few hundred states, not all of
// them. The counters are exact, so both statements order the keys alike.
func (s *Store) groups(ctx context.Context, q query.GroupQuery) ([]query.Row, error) {
	parts := PlanGroups(q.Filter, q.From, q.To, q.By)
	var keys []any
	if leadersFirst(parts, q) {
		stmt, args := s.groupStatement(parts, q, nil, true)
		rows, err := s.conn(partTables(parts)...).Query(ctx, stmt, args...)
		if err != nil {
			return nil, fmt.Errorf("top %s by %s from %s: %w", q.By, q.OrderBy, tablesOf(parts), err)
		}
		keys, err = query.Collect(rows, func(r query.Rows) (any, error) {
			var k string
			return k, r.Scan(&k)
		})
		if err != nil {
			return nil, fmt.Errorf("top %s by %s from %s: %w", q.By, q.OrderBy, tablesOf(parts), err)
		}
		if len(keys) == 0 {
			return nil, nil
		}
	}
	stmt, args := s.groupStatement(parts, q, keys, false)
	rows, err := s.conn(partTables(parts)...).Query(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("%s by %s from %s: %w", q.OrderBy, q.By, tablesOf(parts), err)
	}
	out, err := query.ReadRows(rows, q.GatewayLatency, scanMetrics)
	if err != nil {
		return nil, fmt.Errorf("%s by %s from %s: %w", q.OrderBy, q.By, tablesOf(parts), err)
	}
	return out, nil
}

// leadersFirst says whether groups finds a query's keys before its
// metrics: for a top-N (a breakdown returns up to a thousand keys, most of
// any range's) ordered by a counter, read from rollups (a single raw read
// would scan the records twice).
func leadersFirst(parts []Part, q query.GroupQuery) bool {
	return q.Limit <= query.MaxTopLimit && q.OrderBy != query.MetricLatencyP95 &&
		!(len(parts) == 1 && parts[0].Table == Raw)
}

// groupStatement returns the statement of a grouped query over parts and
// its arguments: with keys, only for those keys; with leaders, only the
// keys, ordered, from the counters.
func (s *Store) groupStatement(parts []Part, q query.GroupQuery, keys []any, leaders bool) (string, []any) {
	lats := latenciesFor(q.GatewayLatency)
	if leaders {
		lats = nil // the counters alone
	}
	// tableWhere is the WHERE of a table's parts, restricted to keys when
	// there are.
	tableWhere := func(ps []Part) (string, []any) {
		t := ps[0].Table
		w, args := whereParts(t, q.Filter, ps)
		if keys != nil {
			w += " AND " + groupKey(t, q.By) + " IN ?"
			args = append(args, clickhousego.GroupSet{Value: keys})
		}
		return w, args
	}
	var (
		stmt string
		args []any
	)
	if tables := byTable(parts); len(tables) == 1 {
		t := tables[0][0].Table
		w, wargs := tableWhere(tables[0])
		stmt = "SELECT " + groupKey(t, q.By) + " AS k_key, " + metricsSelect(t, lats) +
			" FROM " + s.from(t) + " WHERE " + w
		args = wargs
	} else {
		var b strings.Builder
		for i, ps := range tables {
			if i > 0 {
				b.WriteString(" UNION ALL ")
			}
			t := ps[0].Table
			w, wargs := tableWhere(ps)
			args = append(args, wargs...)
			b.WriteString("SELECT " + groupKey(t, q.By) + " AS k_key, ")
			b.WriteString(states(t, lats) + " FROM " + s.from(t) + " WHERE " + w)
			if t == Raw {
				b.WriteString(" GROUP BY k_key")
			}
		}
		// The parts' states have the rollups' columns.
		stmt = "SELECT k_key, " + metricsSelect(Hour, lats) + " FROM (" + b.String() + ")"
	}
	stmt += " GROUP BY k_key ORDER BY " + orderExpr[q.OrderBy] + " DESC, k_key ASC LIMIT ?"
	if leaders {
		stmt = "SELECT k_key FROM (" + stmt + ")"
	}
	return stmt, append(args, q.Limit)
}

// tablesOf names the tables of parts, for errors.
// partTables returns the table of each of parts.
func partTables(parts []Part) []Table {
	out := make([]Table, len(parts))
	for i, p := range parts {
		out[i] = p.Table
	}
	return out
}

func tablesOf(parts []Part) string {
	var names []string
	for _, p := range parts {
		if !slices.Contains(names, string(p.Table)) {
			names = append(names, string(p.Table))
		}
	}
	return strings.Join(names, "+")
}

// Breakdown implements query.Store.
func (s *Store) Breakdown(ctx context.Context, q query.BreakdownQuery) (query.Breakdown, error) {
	return query.Groups(s.groups).Breakdown(ctx, q)
}

// Top implements query.Store.
func (s *Store) Top(ctx context.Context, q query.TopQuery) ([]query.Row, error) {
	return query.Groups(s.groups).Top(ctx, q)
}

// recentHour is how far back from the end of its range Recent reads
// first: a busy workspace has its latest records in the last hour, and
// sorting a month to return a hundred is what made recent requests slow.
const recentHour = time.Hour

// Recent implements query.Store. It reads the last hour of the range
// first; when that holds fewer than q.Limit records, it reads from the
// start of the latest hours that hold q.Limit requests by an hour rollup
// that keeps the filter (recentStart), or else the last day; and when
// that is short too, the whole range. It stops at the first read that
// holds q.Limit records: those are then the latest of the range, since
// every record outside the read started before every record in it.
func (s *Store) Recent(ctx context.Context, q query.RecentQuery) ([]logrecord.Record, error) {
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	hour := q.To.Add(-recentHour)
	if !hour.After(q.From) {
		return s.recent(ctx, q, q.From)
	}
	out, err := s.recent(ctx, q, hour)
	if err != nil || len(out) >= q.Limit {
		return out, err
	}
	from, err := s.recentStart(ctx, q)
	if err != nil {
		return nil, err
	}
	if from.After(q.From) && from.Before(hour) {
		out, err := s.recent(ctx, q, from)
		if err != nil || len(out) >= q.Limit {
			return out, err
		}
	}
	return s.recent(ctx, q, q.From)
}

// recentStart returns where the read of recent requests after the last
// hour starts: the start of the latest hours of the range that hold
// q.Limit requests, counted by the rollup an hourly series of the filter
// reads (PlanSeries), so that a quiet filter's records, days or weeks
// before the end of a long range, are read without reading the whole
// range; the raw table is sorted by workspace and time, and a service
// filter reads every record's service id in the range it reads. A filter
// no rollup keeps (method, node), whose series reads the raw table, reads
// the last day. It returns q.From when the range
// holds fewer requests than that: the whole range is read.
//
// A rollup's hours count the requests of the hour that holds q.To after
// q.To as well, and copies of a record loaded twice until they merge, so
// the hours found may hold fewer than q.Limit of the range's records:
// Recent then reads the whole range, as it would have without them.
func (s *Store) recentStart(ctx context.Context, q query.RecentQuery) (time.Time, error) {
	t := PlanSeries(query.SeriesQuery{Filter: q.Filter, Bucket: time.Hour})
	if t == Raw {
		return q.To.Add(-query.Day), nil
	}
	w, args := where(t, q.Filter, q.From, q.To)
	rows, err := s.conn(t).Query(ctx, "SELECT toInt64("+timeColumn[t]+") AS at, toUInt64(sumMerge(requests)) FROM "+
		s.from(t)+" WHERE "+w+" GROUP BY at ORDER BY at DESC", args...)
	if err != nil {
		return time.Time{}, fmt.Errorf("recent requests: %w", err)
	}
	defer rows.Close()
	var total uint64
	for rows.Next() {
		var (
			at int64
			n  uint64
		)
		if err := rows.Scan(&at, &n); err != nil {
			return time.Time{}, fmt.Errorf("recent requests: %w", err)
		}
		if total += n; total >= uint64(q.Limit) {
			return time.Unix(at, 0).UTC(), nil
		}
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, fmt.Errorf("recent requests: %w", err)
	}
	return q.From, nil
}

// recent returns the latest q.Limit records of [from, q.To). A busy
// workspace has tens of thousands of records in an hour, and sorting them
// with all their columns to keep a hundred is the cost: the start time of
// the q.Limit-th latest row is found first from one column, and only the
// rows from then on are read whole. The raw table is sorted by workspace
// and start time (migration 011), so the second statement also bounds
// started_at, in whole seconds, and its primary key narrows the read to
// the granules that hold those rows.
//
// The raw table keeps the copies of a record loaded twice until its parts
// merge, so those rows may hold fewer than q.Limit records. That is rare,
// and found by counting: the records are then found by request id as well
// (exactRecent), which reads the request ids of the whole range.
func (s *Store) recent(ctx context.Context, q query.RecentQuery, from time.Time) ([]logrecord.Record, error) {
	w, args := where(Raw, q.Filter, from, q.To)
	var (
		since int64
		rows  uint64
	)
	err := s.raw.QueryRow(ctx, "SELECT min(started_at_ms), count() FROM (SELECT started_at_ms FROM "+s.from(Raw)+
		" WHERE "+w+" ORDER BY started_at_ms DESC LIMIT ?)", append(slices.Clip(args), q.Limit)...).Scan(&since, &rows)
	if err != nil {
		return nil, fmt.Errorf("recent requests: %w", err)
	}
	if rows == 0 {
		return nil, nil
	}
	out, err := s.records(ctx, w+" AND started_at >= toDateTime(?) AND started_at_ms >= ?",
		append(slices.Clip(args), since/1000, since), q.Limit)
	if err != nil || len(out) == q.Limit || rows < uint64(q.Limit) {
		return out, err // fewer rows than asked for: every record of the range
	}
	return s.exactRecent(ctx, q, w, args)
}

// exactRecent is recent for a range whose latest rows hold copies: a
// subquery finds the start time of the q.Limit-th latest record, by
// request id, from two columns.
func (s *Store) exactRecent(ctx context.Context, q query.RecentQuery, w string, args []any) ([]logrecord.Record, error) {
	since := " AND started_at_ms >= (SELECT min(started_at_ms) FROM (SELECT started_at_ms FROM " + s.from(Raw) + " WHERE " + w +
		" ORDER BY started_at_ms DESC, request_id DESC LIMIT 1 BY request_id LIMIT ?))"
	// The WHERE's arguments, the subquery's WHERE's and its limit.
	return s.records(ctx, w+since, append(append(slices.Clip(args), args...), q.Limit), q.Limit)
}

// records returns the latest limit records, each once, of the rows that
// match where.
func (s *Store) records(ctx context.Context, where string, args []any, limit int) ([]logrecord.Record, error) {
	stmt := "SELECT " + query.RecordColumns + " FROM " + s.from(Raw) + " WHERE " + where +
		" ORDER BY started_at_ms DESC, request_id DESC LIMIT 1 BY request_id LIMIT ?"
	rows, err := s.raw.Query(ctx, stmt, append(slices.Clip(args), limit)...)
	if err != nil {
		return nil, fmt.Errorf("recent requests: %w", err)
	}
	out, err := query.Collect(rows, scanRecord)
	if err != nil {
		return nil, fmt.Errorf("recent requests: %w", err)
	}
	return out, nil
}

// scanRecord receives query.RecordColumns, whose small integers are unsigned.
func scanRecord(rows query.Rows) (logrecord.Record, error) {
	var (
		r                         logrecord.Record
		status, upStatus, upTries uint16
		billable                  uint8
	)
	err := rows.Scan(&r.RequestID, &r.TraceID, &r.StartedAt, &r.NodeID, &r.Workspace, &r.ServiceID, &r.RouteID,
		&r.RoutePath, &r.ConsumerID, &r.CredentialID, &r.Method, &r.Protocol, &r.Host, &r.Path, &r.ClientIP,
		&r.UserAgent, &status, &upStatus, &r.Responder, &upTries, &r.UpstreamAddr,
		&r.LatencyTotalMs, &r.LatencyGatewayMs, &r.LatencyUpstreamMs, &r.RequestBytes, &r.ResponseBytes,
		&r.AuthOutcome, &r.RateLimitOutcome, &r.ErrorClass, &billable, &r.BillingUnits)
	r.Status, r.UpstreamStatus, r.UpstreamTries, r.Billable = int(status), int(upStatus), int(upTries), billable != 0
	return r, err
}

// PlanUsage returns the table that serves a normalized usage query: the
// daily one for whole days (Normalize made a range per day whole days)
// unless it filters by service, which only the hourly one keeps.
func PlanUsage(q query.UsageQuery) Table {
	if q.Per%query.Day == 0 && q.ServiceID == "" {
		return UsageDay
	}
	return Usage
}

// Usage implements query.Store. The usage tables are SummingMergeTrees:
// rows of a key not yet merged are added by sum(), or, for a daily answer
// from the daily table (whose key is the answer's), by SumUsage from the
// rows as they are stored: ClickHouse 18.16 takes several times longer to
// group and sort a month of a busy workspace's consumers (tens of
// thousands of rows) than to send them. SumUsage orders every answer.
func (s *Store) Usage(ctx context.Context, q query.UsageQuery) ([]query.UsageRow, error) {
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	t := PlanUsage(q)
	w, args := where(t, q.Filter, q.From, q.To)
	bucket := "toInt64(toUInt32(" + timeColumn[t] + "))"
	total := func(column string) string { return "toInt64(" + column + ")" }
	group := ""
	if !(t == UsageDay && q.Per == query.Day) {
		p := query.Seconds(q.Per)
		bucket = "toInt64(intDiv(toUInt32(" + timeColumn[t] + "), ?) * ?)"
		total = func(column string) string { return "toInt64(sum(" + column + "))" }
		group = " GROUP BY k_bucket, workspace, consumer_id"
		args = append([]any{p, p}, args...)
	}
	stmt := "SELECT " + bucket + " AS k_bucket, workspace, consumer_id, " + total("requests") + " AS u_requests, " +
		total("billable_requests") + " AS u_billable, " + total("billing_units_total") + " AS u_units FROM " +
		s.from(t) + " WHERE " + w + group
	rows, err := s.conn(t).Query(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("usage from %s: %w", t, err)
	}
	out, err := query.ReadUsage(rows)
	if err != nil {
		return nil, fmt.Errorf("usage from %s: %w", t, err)
	}
	return query.SumUsage(out), nil
}
