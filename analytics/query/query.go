package query

import (
	"context"
	"time"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// Store answers analytics questions over the request log. Every method
// validates its query first (returning an *InvalidError that wraps
// ErrInvalid) and then reads only the records of the query's workspace.
// Implementations are safe for concurrent use; they do not own the
// database handle they were built on.
type Store interface {
	// Series returns the query's metrics per time bucket over the range,
	// one point per bucket, zeros where nothing happened.
	Series(ctx context.Context, q SeriesQuery) (Series, error)
	// Breakdown returns the metrics per value of a dimension over the
	// range, busiest first, at most MaxBreakdownRows rows.
	Breakdown(ctx context.Context, q BreakdownQuery) (Breakdown, error)
	// Top returns the Limit values of a dimension with the highest metric
	// over the range.
	Top(ctx context.Context, q TopQuery) ([]Row, error)
	// Recent returns the latest records in the range, newest first.
	Recent(ctx context.Context, q RecentQuery) ([]logrecord.Record, error)
	// Usage returns what billing meters, per consumer and hour or day. The
	// caller may hand the answer to ReleaseUsage once done with it.
	Usage(ctx context.Context, q UsageQuery) ([]UsageRow, error)
}

// Filter selects records. Workspace is tenancy and always applies; every
// other field narrows the selection when set (non-zero), and set fields
// combine with AND. Strings are matched exactly.
type Filter struct {
	// Workspace is the only workspace whose records are read. Required
	// unless AllWorkspaces.
	Workspace string
	// AllWorkspaces reads every workspace: for admin callers only, never
	// set from a request's parameters. Workspace must then be empty.
	AllWorkspaces bool

	ServiceID  string
	RouteID    string
	ConsumerID string
	NodeID     string
	Method     string // upper case, as the gateway logs it
	// Status is an exact status code (100..999); StatusClass its first
	// digit (1..9, 4 for 4xx).
	Status      int
	StatusClass int
	// ErrorClass is the gateway's error class ("timeout", "connect" …).
	ErrorClass string
	// ErrorsOnly keeps the records answered with a status of 400 or more.
	ErrorsOnly bool
}

// Dimension is what breakdowns and top-N group by.
type Dimension string

// The dimensions. Only these are accepted; stores map each to a column
// through a fixed table.
const (
	ByWorkspace   Dimension = "workspace"
	ByService     Dimension = "service"
	ByRoute       Dimension = "route"
	ByConsumer    Dimension = "consumer"
	ByStatus      Dimension = "status"
	ByStatusClass Dimension = "status_class"
	ByMethod      Dimension = "method"
	ByNode        Dimension = "node"
	ByErrorClass  Dimension = "error_class"
)

// Dimensions lists every Dimension.
var Dimensions = []Dimension{ByWorkspace, ByService, ByRoute, ByConsumer, ByStatus, ByStatusClass, ByMethod, ByNode, ByErrorClass}

// Metric is what top-N ranks by.
type Metric string

// The metrics Top ranks by, highest first.
const (
	MetricRequests   Metric = "requests"
	MetricErrors     Metric = "errors"     // 4xx and 5xx
	MetricErrors5xx  Metric = "errors_5xx" // status >= 500
	MetricBytesOut   Metric = "bytes_out"
	MetricLatencyP95 Metric = "latency_p95" // total latency
)

// AllMetrics lists every Metric.
var AllMetrics = []Metric{MetricRequests, MetricErrors, MetricErrors5xx, MetricBytesOut, MetricLatencyP95}

// SeriesQuery asks for metrics over time.
type SeriesQuery struct {
	Filter
	// From and To are the range [From, To), at one-second resolution. The
	// series covers whole buckets: From rounds down to a bucket start and
	// To up to the next bucket boundary (Series.From and Series.To say
	// what was covered).
	From, To time.Time
	// Bucket is one of Buckets, or zero to pick one from the range (see
	// AutoBucket).
	Bucket time.Duration
	// GatewayLatency asks for the gateway's own latency percentiles, which
	// only the raw records hold: reading them costs more.
	GatewayLatency bool
}

// BreakdownQuery asks for metrics per value of a dimension.
type BreakdownQuery struct {
	Filter
	// From and To are the range [From, To), at one-second resolution.
	From, To       time.Time
	By             Dimension
	GatewayLatency bool
}

// TopQuery asks for the values of a dimension with the highest metric.
type TopQuery struct {
	Filter
	From, To time.Time
	By       Dimension
	// OrderBy is the metric ranked by, MetricRequests when empty. Ties go
	// to the smaller key.
	OrderBy Metric
	// Limit is how many rows, DefaultTopLimit when zero, at most
	// MaxTopLimit.
	Limit int
}

// RecentQuery asks for the latest records.
type RecentQuery struct {
	Filter
	From, To time.Time
	// Limit is how many records, DefaultRecentLimit when zero, at most
	// MaxRecentLimit.
	Limit int
}

// UsageQuery asks for billing usage per consumer. Only the workspace,
// service and consumer filters apply to usage; others are invalid.
type UsageQuery struct {
	Filter
	// From and To are the range; like a series it covers whole periods.
	From, To time.Time
	// Per is time.Hour or Day (the default when zero).
	Per time.Duration
}

// Latency is a set of latency percentiles, in milliseconds. Stores may
// estimate them (ClickHouse's rollups count latencies in 2 % buckets, its
// raw table uses t-digests); the exact definition is the
// nearest rank: the smallest value with at least p of the values at or
// below it.
type Latency struct {
	P50, P95, P99 float64
}

// Metrics are the counters and percentiles of a set of records.
type Metrics struct {
	Requests int64
	// Errors4xx counts status 400..499 and Errors5xx status >= 500.
	Errors4xx, Errors5xx int64
	// ErrorRate is (Errors4xx+Errors5xx)/Requests, 0 without requests.
	ErrorRate float64
	Latency   Latency // total: from the request's arrival to the response's end
	Upstream  Latency // the upstream's share
	// Gateway is the gateway's own share, filled only when the query asked
	// for GatewayLatency.
	Gateway Latency
	// BytesIn and BytesOut are request and response bytes.
	BytesIn, BytesOut int64
}

// Point is a series' bucket.
type Point struct {
	Start time.Time // the bucket's first instant, UTC
	Metrics
}

// Series is a gap-filled time series: Points holds one point per bucket
// from From to To.
type Series struct {
	From, To time.Time
	Bucket   time.Duration
	Points   []Point
}

// Row is one value of a dimension with its metrics. Key is the id, or for
// status and status class the number in decimal; records without the
// dimension (an anonymous consumer) have the empty key.
type Row struct {
	Key string
	Metrics
}

// Breakdown is the rows of a breakdown, by requests (highest first) then
// key. Truncated says rows beyond MaxBreakdownRows were left out.
type Breakdown struct {
	Rows      []Row
	Truncated bool
}

// UsageRow is what billing meters for one consumer in one period.
type UsageRow struct {
	Start      time.Time // the period's first instant, UTC
	Workspace  string
	ConsumerID string
	Requests   int64
	// BillableRequests counts billable records and BillingUnits adds
	// their units (non-billable records' units do not count).
	BillableRequests int64
	BillingUnits     int64
}

// ErrorRate returns errors/requests, 0 when requests is 0.
func ErrorRate(requests, errors int64) float64 {
	if requests == 0 {
		return 0
	}
	return float64(errors) / float64(requests)
}
