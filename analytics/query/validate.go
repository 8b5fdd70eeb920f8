package query

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Day is a day of UTC: buckets and usage periods of a day start at 00:00
// UTC.
const Day = 24 * time.Hour

// Limits of a query.
const (
	// MaxRange is the longest range any query may cover.
	MaxRange = 400 * Day
	// MaxPoints is the most buckets a series (or periods a usage query)
	// may have: more than a chart can show.
	MaxPoints = 1500
	// DefaultTopLimit and MaxTopLimit bound TopQuery.Limit.
	DefaultTopLimit, MaxTopLimit = 10, 100
	// DefaultRecentLimit and MaxRecentLimit bound RecentQuery.Limit.
	DefaultRecentLimit, MaxRecentLimit = 100, 1000
	// MaxBreakdownRows is the most rows a breakdown returns.
	MaxBreakdownRows = 1000
	// MaxFilterLength is the longest string filter, in bytes.
	MaxFilterLength = 256
)

// Buckets are the bucket sizes a series may have, finest first.
var Buckets = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, Day}

// autoBuckets is AutoBucket's table: the first row whose range is at
// least the query's gives the bucket. Each keeps a series between about
// 100 and 400 points.
var autoBuckets = []struct{ upTo, bucket time.Duration }{
	{2 * time.Hour, time.Minute},
	{12 * time.Hour, 5 * time.Minute},
	{2 * Day, 15 * time.Minute},
	{14 * Day, time.Hour},
	{62 * Day, 6 * time.Hour},
	{MaxRange, Day},
}

// AutoBucket returns the bucket a series over a range of length d gets
// when it names none:
//
//	range up to   bucket
//	2h            1m
//	12h           5m
//	2d            15m
//	14d           1h
//	62d           6h
//	400d          1d
func AutoBucket(d time.Duration) time.Duration {
	for _, a := range autoBuckets {
		if d <= a.upTo {
			return a.bucket
		}
	}
	return Day
}

// ErrInvalid is what every validation error wraps: test with errors.Is.
var ErrInvalid = errors.New("invalid analytics query")

// FieldError is one thing wrong with a query: the field, by its API name
// ("from", "bucket", "service_id" …), and what is wrong with it.
type FieldError struct {
	Field   string
	Problem string
}

// InvalidError names every bad field of a query.
type InvalidError struct {
	Fields []FieldError
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalid.Error())
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field + ": " + f.Problem)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Field returns the problem with field, if any.
func (e *InvalidError) Field(field string) (problem string, ok bool) {
	for _, f := range e.Fields {
		if f.Field == field {
			return f.Problem, true
		}
	}
	return "", false
}

// problems collects FieldErrors.
type problems []FieldError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &InvalidError{Fields: p}
}

// Validate checks the filter on its own.
func (f Filter) Validate() error {
	var p problems
	f.check(&p)
	return p.err()
}

func (f Filter) check(p *problems) {
	switch {
	case f.AllWorkspaces && f.Workspace != "":
		p.add("workspace", "must be empty when reading all workspaces")
	case !f.AllWorkspaces && f.Workspace == "":
		p.add("workspace", "is required")
	}
	for _, s := range []struct{ field, v string }{
		{"workspace", f.Workspace}, {"service_id", f.ServiceID}, {"route_id", f.RouteID},
		{"consumer_id", f.ConsumerID}, {"node_id", f.NodeID}, {"error_class", f.ErrorClass},
	} {
		checkString(p, s.field, s.v)
	}
	if f.Method != "" && !isMethod(f.Method) {
		p.add("method", "%q is not an HTTP method (upper-case letters, at most 32)", truncate(f.Method))
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 999) {
		p.add("status", "%d is outside 100..999", f.Status)
	}
	if f.StatusClass != 0 && (f.StatusClass < 1 || f.StatusClass > 9) {
		p.add("status_class", "%d is outside 1..9", f.StatusClass)
	}
}

func checkString(p *problems, field, v string) {
	switch {
	case len(v) > MaxFilterLength:
		p.add(field, "is %d bytes, more than %d", len(v), MaxFilterLength)
	case !utf8.ValidString(v):
		p.add(field, "is not valid UTF-8")
	case strings.IndexByte(v, 0) >= 0:
		p.add(field, "contains a NUL byte")
	}
}

func isMethod(m string) bool {
	if len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

// truncate shortens a bad value quoted back in an error.
func truncate(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "…"
}

// checkRange checks [from, to) and returns it at one-second resolution.
func checkRange(p *problems, from, to time.Time) (time.Time, time.Time) {
	from, to = from.UTC().Truncate(time.Second), to.UTC().Truncate(time.Second)
	ok := true
	if from.Unix() <= 0 {
		p.add("from", "is required (and after 1970)")
		ok = false
	}
	if to.Unix() <= 0 {
		p.add("to", "is required (and after 1970)")
		ok = false
	}
	if !ok {
		return from, to
	}
	switch d := to.Sub(from); {
	case d <= 0:
		p.add("to", "%s is not after from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	case d > MaxRange:
		p.add("range", "%s is longer than the maximum of %d days", formatDuration(d), int(MaxRange/Day))
	}
	return from, to
}

// Floor rounds t down to a multiple of d since the epoch (UTC days for a
// day).
func Floor(t time.Time, d time.Duration) time.Time {
	s, ds := t.Unix(), int64(d/time.Second)
	return time.Unix(s-s%ds, 0).UTC()
}

// Ceil rounds t up to a multiple of d since the epoch (UTC days for a
// day).
func Ceil(t time.Time, d time.Duration) time.Time {
	f := Floor(t, d)
	if f.Equal(t) {
		return f
	}
	return f.Add(d)
}

// Aligned says whether t is a multiple of d since the epoch.
func Aligned(t time.Time, d time.Duration) bool { return Floor(t, d).Equal(t) }

func validBucket(b time.Duration) bool {
	for _, v := range Buckets {
		if b == v {
			return true
		}
	}
	return false
}

// FormatBucket writes a bucket as the API names it: 1m, 15m, 6h, 1d.
func FormatBucket(b time.Duration) string { return formatDuration(b) }

func formatDuration(d time.Duration) string {
	switch {
	case d%Day == 0:
		return strconv.FormatInt(int64(d/Day), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

func bucketNames() string {
	names := make([]string, len(Buckets))
	for i, b := range Buckets {
		names[i] = FormatBucket(b)
	}
	return strings.Join(names, ", ")
}

// Normalize validates q and returns it as stores run it: the bucket
// chosen when zero, From and To rounded out to whole buckets.
func (q SeriesQuery) Normalize() (SeriesQuery, error) {
	var p problems
	q.Filter.check(&p)
	from, to := checkRange(&p, q.From, q.To)
	if len(p) > 0 {
		if q.Bucket != 0 && !validBucket(q.Bucket) {
			p.add("bucket", "%s is not one of %s", formatDuration(q.Bucket), bucketNames())
		}
		return q, p.err()
	}
	switch {
	case q.Bucket == 0:
		q.Bucket = AutoBucket(to.Sub(from))
	case !validBucket(q.Bucket):
		p.add("bucket", "%s is not one of %s", formatDuration(q.Bucket), bucketNames())
		return q, p.err()
	}
	q.From, q.To = Floor(from, q.Bucket), Ceil(to, q.Bucket)
	if n := int(q.To.Sub(q.From) / q.Bucket); n > MaxPoints {
		coarser := "none is coarse enough"
		for _, b := range Buckets {
			if int(Ceil(to, b).Sub(Floor(from, b))/b) <= MaxPoints {
				coarser = "use " + FormatBucket(b) + " or coarser"
				break
			}
		}
		p.add("bucket", "%s over %s makes %d points, more than %d: %s",
			FormatBucket(q.Bucket), formatDuration(to.Sub(from)), n, MaxPoints, coarser)
	}
	return q, p.err()
}

func checkDimension(p *problems, d Dimension) {
	for _, v := range Dimensions {
		if d == v {
			return
		}
	}
	names := make([]string, len(Dimensions))
	for i, v := range Dimensions {
		names[i] = string(v)
	}
	p.add("group_by", "%q is not one of %s", truncate(string(d)), strings.Join(names, ", "))
}

// checkLimit returns limit, or def when it is zero, and checks that it is
// within 1..most.
func checkLimit(p *problems, limit, def, most int) int {
	if limit == 0 {
		limit = def
	}
	if limit < 1 || limit > most {
		p.add("limit", "%d is outside 1..%d", limit, most)
	}
	return limit
}

// Normalize validates q and returns it with its range at one-second
// resolution.
func (q BreakdownQuery) Normalize() (BreakdownQuery, error) {
	var p problems
	q.Filter.check(&p)
	q.From, q.To = checkRange(&p, q.From, q.To)
	checkDimension(&p, q.By)
	return q, p.err()
}

// Normalize validates q and returns it with its defaults applied.
func (q TopQuery) Normalize() (TopQuery, error) {
	var p problems
	q.Filter.check(&p)
	q.From, q.To = checkRange(&p, q.From, q.To)
	checkDimension(&p, q.By)
	if q.OrderBy == "" {
		q.OrderBy = MetricRequests
	}
	known := false
	names := make([]string, len(AllMetrics))
	for i, m := range AllMetrics {
		known = known || q.OrderBy == m
		names[i] = string(m)
	}
	if !known {
		p.add("order_by", "%q is not one of %s", truncate(string(q.OrderBy)), strings.Join(names, ", "))
	}
	q.Limit = checkLimit(&p, q.Limit, DefaultTopLimit, MaxTopLimit)
	return q, p.err()
}

// Normalize validates q and returns it with its defaults applied.
func (q RecentQuery) Normalize() (RecentQuery, error) {
	var p problems
	q.Filter.check(&p)
	q.From, q.To = checkRange(&p, q.From, q.To)
	q.Limit = checkLimit(&p, q.Limit, DefaultRecentLimit, MaxRecentLimit)
	return q, p.err()
}

// Normalize validates q and returns it as stores run it: Per defaulted,
// From and To rounded out to whole periods.
func (q UsageQuery) Normalize() (UsageQuery, error) {
	var p problems
	q.Filter.check(&p)
	from, to := checkRange(&p, q.From, q.To)
	for _, f := range []struct {
		field string
		set   bool
	}{
		{"route_id", q.RouteID != ""}, {"node_id", q.NodeID != ""}, {"method", q.Method != ""},
		{"status", q.Status != 0}, {"status_class", q.StatusClass != 0},
	} {
		if f.set {
			p.add(f.field, "usage is metered per workspace, service and consumer only")
		}
	}
	if q.Per == 0 {
		q.Per = Day
	}
	if q.Per != time.Hour && q.Per != Day {
		p.add("per", "%s is not 1h or 1d", formatDuration(q.Per))
	}
	if len(p) > 0 {
		return q, p.err()
	}
	q.From, q.To = Floor(from, q.Per), Ceil(to, q.Per)
	if n := int(q.To.Sub(q.From) / q.Per); n > MaxPoints {
		p.add("per", "%s over %s makes %d periods, more than %d: use 1d", FormatBucket(q.Per),
			formatDuration(to.Sub(from)), n, MaxPoints)
	}
	return q, p.err()
}
