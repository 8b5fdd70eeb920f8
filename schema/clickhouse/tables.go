package clickhousemigrate

import "time"

// Tables by role, for DropOlderThan and for readers that want the names.
const (
	TableRequests         = "requests"
	TableRequestsByMinute = "requests_by_minute"
	TableRequestsByHour   = "requests_by_hour"
	TableConsumerUsage    = "consumer_usage_by_hour"
	TableLoadedOffsets    = "loaded_offsets"

	// The smaller traffic rollups of 002_small_rollups.sql.
	TableRequestsByHourWorkspace = "requests_by_hour_workspace"
	TableRequestsByHourService   = "requests_by_hour_service"
	TableRequestsByHourRoute     = "requests_by_hour_route"
	TableRequestsByDayService    = "requests_by_day_service"
	TableRequestsByDayRoute      = "requests_by_day_route"

	// The consumer and status rollups and daily usage of
	// 003_consumer_and_status_rollups.sql.
	TableRequestsByHourConsumer = "requests_by_hour_consumer"
	TableRequestsByDayConsumer  = "requests_by_day_consumer"
	TableRequestsByHourStatus   = "requests_by_hour_status"
	TableRequestsByDayStatus    = "requests_by_day_status"
	TableConsumerUsageByDay     = "consumer_usage_by_day"

	// The weekly route rollup of 005_route_weeks_and_consumer_granules.sql.
	TableRequestsByWeekRoute = "requests_by_week_route"

	// The rollups of 006_workspace_minutes_and_all_hours.sql: a
	// workspace's minutes, and every workspace's hours together (a table
	// without a workspace column).
	TableRequestsByMinuteWorkspace = "requests_by_minute_workspace"
	TableRequestsByHourAll         = "requests_by_hour_all"

	// The minute rollups of 009_service_and_route_minutes.sql.
	TableRequestsByMinuteService = "requests_by_minute_service"
	TableRequestsByMinuteRoute   = "requests_by_minute_route"
)

// Rollup is a table that a materialized view fills from requests, each
// row standing for the requests of one period of its time column.
type Rollup struct {
	Table  string
	Column string        // its time column: minute, hour or day
	Step   time.Duration // the length of the time column's periods
	// Usage says it is a billing usage table, a SummingMergeTree of
	// plain counters (read with sum), rather than a traffic rollup of
	// aggregate states (read with sumMerge and the like).
	Usage bool
	// Days is, for a week rollup, the day rollup with the same keys that
	// its migration filled it from, and that the collector's reconcile
	// checks its weeks against and rebuilds them from.
	Days string
}

// Requests is the expression that counts the requests a group of the
// rollup's rows stands for.
func (r Rollup) Requests() string {
	if r.Usage {
		return "sum(requests)"
	}
	return "sumMerge(requests)"
}

// Day is the period of the day rollups: a UTC day.
const Day = 24 * time.Hour

// Week is the period of the week rollups: seven UTC days from a multiple
// of seven days since the Unix epoch (a Thursday, 00:00 UTC).
const Week = 7 * Day

// Rollups are every rollup of the migrations, traffic first, in the
// order the collector's reconcile checks them.
var Rollups = []Rollup{
	{Table: TableRequestsByMinute, Column: "minute", Step: time.Minute},
	{Table: TableRequestsByMinuteWorkspace, Column: "minute", Step: time.Minute},
	{Table: TableRequestsByMinuteService, Column: "minute", Step: time.Minute},
	{Table: TableRequestsByMinuteRoute, Column: "minute", Step: time.Minute},
	{Table: TableRequestsByHour, Column: "hour", Step: time.Hour},
	{Table: TableRequestsByHourWorkspace, Column: "hour", Step: time.Hour},
	{Table: TableRequestsByHourAll, Column: "hour", Step: time.Hour},
	{Table: TableRequestsByHourService, Column: "hour", Step: time.Hour},
	{Table: TableRequestsByHourRoute, Column: "hour", Step: time.Hour},
	{Table: TableRequestsByDayService, Column: "day", Step: Day},
	{Table: TableRequestsByDayRoute, Column: "day", Step: Day},
	{Table: TableRequestsByWeekRoute, Column: "week", Step: Week, Days: TableRequestsByDayRoute},
	{Table: TableRequestsByHourConsumer, Column: "hour", Step: time.Hour},
	{Table: TableRequestsByDayConsumer, Column: "day", Step: Day},
	{Table: TableRequestsByHourStatus, Column: "hour", Step: time.Hour},
	{Table: TableRequestsByDayStatus, Column: "day", Step: Day},
	{Table: TableConsumerUsage, Column: "hour", Step: time.Hour, Usage: true},
	{Table: TableConsumerUsageByDay, Column: "day", Step: Day, Usage: true},
}

// TrafficTables are the tables DropOlderThan trims when it is given none:
// the raw records and the traffic rollups. Billing usage is kept longer
// and is trimmed only when named.
var TrafficTables = tables(func(r Rollup) bool { return !r.Usage }, TableRequests)

// UsageTables are the billing usage tables, which DropOlderThan trims
// only when they are named.
var UsageTables = tables(func(r Rollup) bool { return r.Usage })

// tables returns first, then the rollups that keep says to.
func tables(keep func(Rollup) bool, first ...string) []string {
	out := first
	for _, r := range Rollups {
		if keep(r) {
			out = append(out, r.Table)
		}
	}
	return out
}

// LatencyLevels are the percentile levels the traffic rollups' latency
// states are read at: p50, p90, p95 and p99.
const LatencyLevels = "0.5, 0.9, 0.95, 0.99"

// LatencyBucket returns the expression a traffic rollup keeps a latency
// of column, in milliseconds, as: the latency in microseconds, plus one,
// as a power of 1.02, rounded (004_latency_buckets.sql). The rollups
// keep quantilesTiming states of it, which merge cheaply; LatencyMerge
// reads them back.
func LatencyBucket(column string) string {
	return "toUInt32(round(log(1 + greatest(" + column + ", 0) * 1000) / log(1.02)))"
}

// LatencyState returns the aggregate state of column's latencies that
// the traffic rollups keep.
func LatencyState(column string) string {
	return "quantilesTimingState(" + LatencyLevels + ")(" + LatencyBucket(column) + ")"
}

// LatencyMerge returns the expression that merges a traffic rollup's
// latency states in column and gives the LatencyLevels percentiles in
// milliseconds (Float64), each within 1 % of a recorded latency at its
// rank: half of a bucket's 2 %.
func LatencyMerge(column string) string {
	return "arrayMap(b -> (pow(1.02, b) - 1) / 1000, quantilesTimingMerge(" + LatencyLevels + ")(" + column + "))"
}
