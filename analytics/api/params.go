package api

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/internal/entity"
)

// param is one query parameter an endpoint accepts: its name, how its
// value is read into a request, and its one-line description (which
// openapi.json repeats word for word; openapi_test.go holds them
// together).
type param struct {
	name string
	doc  string
	// parse reads v into rq and returns what is wrong with v, or "".
	parse func(rq *request, v string) string
}

// request is one API call as parsed: the caller's scope, what the
// parameters said, and what was wrong with them.
type request struct {
	endpoint *endpoint
	scope    scope
	// problems maps a parameter to what is wrong with it; the first
	// problem found for a parameter is the one reported.
	problems map[string]string

	from, to   time.Time
	rng        time.Duration
	hasFrom    bool
	hasTo      bool
	hasRange   bool
	workspace  string // the workspace parameter as given
	service    string // service, route and consumer as given: ids or names
	route      string
	consumer   string
	filter     query.Filter
	bucket     time.Duration
	per        time.Duration
	gateway    bool
	groupBy    query.Dimension
	hasGroupBy bool
	orderBy    query.Metric
	limit      int
	kind       entity.Kind
}

// problem records what is wrong with parameter field, unless something
// already is.
func (rq *request) problem(field, problem string) {
	if _, ok := rq.problems[field]; !ok {
		rq.problems[field] = problem
	}
}

// maxName is how much of an unknown parameter's name an error repeats.
const maxName = 64

// parse reads a raw query string against the endpoint's parameters. It
// splits the query itself rather than through url.ParseQuery so that it
// can name the parameter a bad escape or a repetition belongs to.
func (rq *request) parse(raw string) {
	seen := map[string]bool{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			rq.problem(fieldName(rawKey), "is not URL-encoded")
			continue
		}
		if key == "" {
			rq.problem("(unnamed)", "a parameter has no name")
			continue
		}
		name := fieldName(key)
		p := rq.endpoint.param(key)
		if p == nil {
			rq.problem(name, "is not a parameter of "+rq.endpoint.path)
			continue
		}
		if seen[key] {
			rq.problem(name, "is repeated")
			continue
		}
		seen[key] = true
		v, err := url.QueryUnescape(rawValue)
		switch {
		case err != nil:
			rq.problem(name, "is not URL-encoded")
		case v == "":
			rq.problem(name, "is empty")
		default:
			if msg := p.parse(rq, v); msg != "" {
				rq.problem(name, msg)
			}
		}
	}
}

// fieldName is a parameter's name as errors repeat it: valid UTF-8 and
// at most maxName bytes.
func fieldName(s string) string {
	if len(s) > maxName {
		s = s[:maxName] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// quote repeats a bad value in a problem, shortened.
func quote(v string) string {
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	return strconv.Quote(v)
}

// defaultRange is the range without from, to and range.
const defaultRange = time.Hour

// resolveRange sets from and to from the time parameters: range ends now,
// from alone ends now, to alone starts an hour before, neither is the last
// hour. "Now" is the end of the current second, so that the records of the
// moment just past are in; a relative range (range, or none) then ends at
// the end of the current minute, or of the current hour when it is a day
// or longer, so that the rollups can answer it whole (see alignedEnd).
func (rq *request) resolveRange(now time.Time) {
	now = now.UTC().Truncate(time.Second).Add(time.Second)
	switch {
	case rq.hasRange && (rq.hasFrom || rq.hasTo):
		rq.problem("range", "cannot be combined with from or to")
		rq.to, rq.from = now, now.Add(-rq.rng) // so that validation says nothing more
	case rq.hasRange:
		rq.to = alignedEnd(now, rq.rng)
		rq.from = rq.to.Add(-rq.rng)
	case rq.hasFrom && !rq.hasTo:
		rq.to = now
	case rq.hasTo && !rq.hasFrom:
		rq.from = rq.to.Add(-defaultRange)
	case !rq.hasFrom && !rq.hasTo:
		rq.to = alignedEnd(now, defaultRange)
		rq.from = rq.to.Add(-defaultRange)
	}
}

// alignedEnd is where a relative range of length rng that must include
// now ends: the next minute boundary, or hour boundary for a day or more.
// Whole minutes and hours are what the rollups hold, so a dashboard's
// "last 30 days" reads hourly rows instead of every request; the answer
// says which range it covered.
func alignedEnd(now time.Time, rng time.Duration) time.Time {
	unit := time.Minute
	if rng >= 24*time.Hour {
		unit = time.Hour
	}
	end := now.Truncate(unit)
	if end.Before(now) {
		end = end.Add(unit)
	}
	return end
}

// valid returns nil when neither the parameters nor the query's own
// validation (err, from the query's Normalize) found anything wrong, the
// 400 naming every bad parameter when they did, and err when it is not a
// validation error. Validation names fields by the query layer's names;
// they are mapped to the parameters', and a parameter the parser already
// flagged keeps the parser's problem (the query layer only saw a zero).
func (rq *request) valid(err error) error {
	if err != nil {
		inv, ok := err.(*query.InvalidError)
		if !ok {
			return err
		}
		for _, f := range inv.Fields {
			rq.problem(paramOf(f.Field), f.Problem)
		}
	}
	if len(rq.problems) > 0 {
		return errInvalid(rq.problems)
	}
	return nil
}

// paramOf maps the query layer's field names to the API's parameters.
func paramOf(field string) string {
	switch field {
	case "service_id":
		return "service"
	case "route_id":
		return "route"
	case "consumer_id":
		return "consumer"
	case "node_id":
		return "node"
	}
	return field
}

// The parameters. Each returns a param; endpoints list the ones they take.

func paramFrom() param {
	return param{"from", "Start of the range (inclusive): RFC 3339 or Unix seconds.", func(rq *request, v string) string {
		t, ok := parseTime(v)
		if !ok {
			return quote(v) + " is not a time (RFC 3339 or Unix seconds)"
		}
		rq.from, rq.hasFrom = t, true
		return ""
	}}
}

func paramTo() param {
	return param{"to", "End of the range (exclusive): RFC 3339 or Unix seconds. Default: now.", func(rq *request, v string) string {
		t, ok := parseTime(v)
		if !ok {
			return quote(v) + " is not a time (RFC 3339 or Unix seconds)"
		}
		rq.to, rq.hasTo = t, true
		return ""
	}}
}

func paramRange() param {
	return param{"range", "Instead of from and to: the last 15m, 1h, 24h, 7d … up to now, at most 400d. Default: 1h.", func(rq *request, v string) string {
		d, msg := parseDuration(v)
		if msg != "" {
			return msg
		}
		if d > query.MaxRange {
			return quote(v) + " is longer than the maximum of 400 days"
		}
		if d < time.Second {
			return quote(v) + " is shorter than a second"
		}
		rq.rng, rq.hasRange = d, true
		return ""
	}}
}

func paramWorkspace() param {
	return param{"workspace", "One workspace (admin tokens; other tokens may name only their own).", func(rq *request, v string) string {
		rq.workspace = v
		return ""
	}}
}

func paramService() param {
	return param{"service", "Only this service, by id or name.", func(rq *request, v string) string {
		rq.service = v
		return ""
	}}
}

func paramRoute() param {
	return param{"route", "Only this route, by id or name.", func(rq *request, v string) string {
		rq.route = v
		return ""
	}}
}

func paramConsumer() param {
	return param{"consumer", "Only this consumer, by id or username.", func(rq *request, v string) string {
		rq.consumer = v
		return ""
	}}
}

func paramNode() param {
	return param{"node", "Only requests served by this gateway node (its id).", func(rq *request, v string) string {
		rq.filter.NodeID = v
		return ""
	}}
}

func paramMethod() param {
	return param{"method", "Only this HTTP method (case-insensitive).", func(rq *request, v string) string {
		rq.filter.Method = strings.ToUpper(v)
		return ""
	}}
}

func paramStatus() param {
	return param{"status", "Only this status code (100–999).", func(rq *request, v string) string {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 999 {
			return quote(v) + " is not a status code (100..999)"
		}
		rq.filter.Status = n
		return ""
	}}
}

func paramStatusClass() param {
	return param{"status_class", "Only this status class: 1–5, or 1xx–5xx.", func(rq *request, v string) string {
		s := strings.TrimSuffix(v, "xx")
		if len(s) != 1 || s[0] < '1' || s[0] > '9' {
			return quote(v) + " is not a status class (1..9 or 1xx..9xx)"
		}
		rq.filter.StatusClass = int(s[0] - '0')
		return ""
	}}
}

func paramErrorClass() param {
	return param{"error_class", "Only requests with this gateway error class (timeout, connect, …).", func(rq *request, v string) string {
		rq.filter.ErrorClass = v
		return ""
	}}
}

func paramErrors() param {
	return param{"errors", "true: only requests answered with a status of 400 or more.", func(rq *request, v string) string {
		b, msg := parseBool(v)
		rq.filter.ErrorsOnly = b
		return msg
	}}
}

func paramBucket() param {
	return param{"bucket", "The series' bucket; picked from the range when absent.", func(rq *request, v string) string {
		d, msg := parseDuration(v)
		if msg != "" {
			return msg
		}
		if d <= 0 {
			return quote(v) + " is not a positive duration"
		}
		rq.bucket = d
		return ""
	}}
}

func paramGatewayLatency() param {
	return param{"gateway_latency", "true: add the gateway's own latency percentiles (reads raw records).", func(rq *request, v string) string {
		b, msg := parseBool(v)
		rq.gateway = b
		return msg
	}}
}

func paramGroupBy() param {
	return param{"group_by", "The dimension rows are keyed by. Required.", func(rq *request, v string) string {
		rq.groupBy, rq.hasGroupBy = query.Dimension(v), true
		return ""
	}}
}

func paramOrderBy() param {
	return param{"order_by", "The metric rows are ranked by, highest first. Default: requests.", func(rq *request, v string) string {
		rq.orderBy = query.Metric(v)
		return ""
	}}
}

func paramLimit(def, most int) param {
	doc := "How many rows, 1–" + strconv.Itoa(most) + ". Default: " + strconv.Itoa(def) + "."
	return param{"limit", doc, func(rq *request, v string) string {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > most {
			return quote(v) + " is not a number in 1.." + strconv.Itoa(most)
		}
		rq.limit = n
		return ""
	}}
}

func paramPer() param {
	return param{"per", "The usage period: 1h or 1d (UTC days). Default: 1d.", func(rq *request, v string) string {
		d, msg := parseDuration(v)
		if msg != "" {
			return msg
		}
		if d <= 0 {
			return quote(v) + " is not a positive duration"
		}
		rq.per = d
		return ""
	}}
}

func paramKind() param {
	return param{"kind", "Which entities: services, routes or consumers. Required.", func(rq *request, v string) string {
		switch k := entity.Kind(v); k {
		case entity.KindService, entity.KindRoute, entity.KindConsumer:
			rq.kind = k
			return ""
		}
		return quote(v) + " is not one of services, routes, consumers"
	}}
}

// filterParams are the parameters of every query: the range and the
// filters.
func filterParams() []param {
	return []param{
		paramFrom(), paramTo(), paramRange(), paramWorkspace(), paramService(), paramRoute(), paramConsumer(),
		paramNode(), paramMethod(), paramStatus(), paramStatusClass(), paramErrorClass(), paramErrors(),
	}
}

// parseTime reads RFC 3339 or Unix seconds.
func parseTime(v string) (time.Time, bool) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		// Beyond year 9999 no range can be valid; the bound also keeps
		// time.Unix's arithmetic in range.
		if n < 0 || n > 253402300799 {
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// parseDuration reads a Go duration or a whole number of days ("7d").
func parseDuration(v string) (time.Duration, string) {
	bad := quote(v) + " is not a duration (15m, 1h, 7d …)"
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, bad
		}
		if n > 100000 { // time.Duration holds about 292 years
			return 0, quote(v) + " is longer than the maximum of 400 days"
		}
		return time.Duration(n) * query.Day, ""
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, bad
	}
	return d, ""
}

func parseBool(v string) (bool, string) {
	switch v {
	case "true":
		return true, ""
	case "false":
		return false, ""
	}
	return false, quote(v) + " is not true or false"
}
