package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/internal/entity"
	"github.com/tollgate/tollgate/internal/jsonresponse"
	"github.com/tollgate/tollgate/internal/keep"
	"github.com/tollgate/tollgate/internal/logrecord"
)

// apiError is an error that carries its response. Handlers return it, and
// Server.writeError turns every error into a response.
type apiError struct {
	status int
	body   map[string]any
}

func (e *apiError) Error() string {
	if m, ok := e.body["message"].(string); ok {
		return m
	}
	return http.StatusText(e.status)
}

// message is the Kong-shaped plain error body.
func message(msg string) map[string]any { return map[string]any{"message": msg} }

func errForbidden(format string, args ...any) *apiError {
	return &apiError{status: http.StatusForbidden, body: message(fmt.Sprintf(format, args...))}
}

// errInvalid is the 400 naming every bad parameter, with the message of
// Kong's schema violations (sorted "field: problem" parts).
func errInvalid(problems map[string]string) *apiError {
	fields := make(entity.FieldErrors, len(problems))
	plain := make(map[string]any, len(problems))
	for k, v := range problems {
		fields[k], plain[k] = v, v
	}
	se := &entity.SchemaError{Fields: fields}
	return &apiError{status: http.StatusBadRequest, body: map[string]any{
		"message": se.Error(), "name": "invalid query", "fields": plain,
	}}
}

// writeJSON writes v with status. The answers are plain values (the
// OpenAPI description is compacted once), which WriteBulk encodes as
// encoding/json does, and can be megabytes.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	jsonresponse.WriteBulk(w, status, v)
}

// The JSON shapes of docs/analytics-api.md (and openapi.json).

type latencyJSON struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

func latency(l query.Latency) latencyJSON { return latencyJSON{l.P50, l.P95, l.P99} }

type metricsJSON struct {
	Requests  int64        `json:"requests"`
	Errors4xx int64        `json:"errors_4xx"`
	Errors5xx int64        `json:"errors_5xx"`
	ErrorRate float64      `json:"error_rate"`
	Latency   latencyJSON  `json:"latency_ms"`
	Upstream  latencyJSON  `json:"upstream_latency_ms"`
	Gateway   *latencyJSON `json:"gateway_latency_ms,omitempty"`
	BytesIn   int64        `json:"bytes_in"`
	BytesOut  int64        `json:"bytes_out"`
}

func metrics(m query.Metrics, gateway bool) metricsJSON {
	out := metricsJSON{
		Requests: m.Requests, Errors4xx: m.Errors4xx, Errors5xx: m.Errors5xx, ErrorRate: m.ErrorRate,
		Latency: latency(m.Latency), Upstream: latency(m.Upstream), BytesIn: m.BytesIn, BytesOut: m.BytesOut,
	}
	if gateway {
		g := latency(m.Gateway)
		out.Gateway = &g
	}
	return out
}

type pointJSON struct {
	Start time.Time `json:"start"`
	metricsJSON
}

type totalsJSON struct {
	Requests  int64   `json:"requests"`
	Errors4xx int64   `json:"errors_4xx"`
	Errors5xx int64   `json:"errors_5xx"`
	ErrorRate float64 `json:"error_rate"`
	BytesIn   int64   `json:"bytes_in"`
	BytesOut  int64   `json:"bytes_out"`
}

type seriesJSON struct {
	From   time.Time   `json:"from"`
	To     time.Time   `json:"to"`
	Bucket string      `json:"bucket"`
	Points []pointJSON `json:"points"`
	Totals totalsJSON  `json:"totals"`
}

type rowJSON struct {
	Key     string `json:"key"`
	Name    string `json:"name,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
	metricsJSON
}

type breakdownJSON struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	GroupBy   string    `json:"group_by"`
	Rows      []rowJSON `json:"rows"`
	Truncated bool      `json:"truncated"`
}

type topJSON struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	GroupBy string    `json:"group_by"`
	OrderBy string    `json:"order_by"`
	Rows    []rowJSON `json:"rows"`
}

type recordJSON struct {
	RequestID         string  `json:"request_id"`
	TraceID           string  `json:"trace_id"`
	StartedAt         string  `json:"started_at"`
	StartedAtMs       int64   `json:"started_at_ms"`
	NodeID            string  `json:"node_id"`
	Workspace         string  `json:"workspace"`
	ServiceID         string  `json:"service_id"`
	ServiceName       string  `json:"service_name,omitempty"`
	RouteID           string  `json:"route_id"`
	RouteName         string  `json:"route_name,omitempty"`
	RoutePath         string  `json:"route_path"`
	ConsumerID        string  `json:"consumer_id"`
	ConsumerName      string  `json:"consumer_name,omitempty"`
	CredentialID      string  `json:"credential_id"`
	Method            string  `json:"method"`
	Protocol          string  `json:"protocol"`
	Host              string  `json:"host"`
	Path              string  `json:"path"`
	ClientIP          string  `json:"client_ip"`
	UserAgent         string  `json:"user_agent"`
	Status            int     `json:"status"`
	UpstreamStatus    int     `json:"upstream_status"`
	Responder         string  `json:"responder"`
	UpstreamTries     int     `json:"upstream_tries"`
	UpstreamAddr      string  `json:"upstream_addr"`
	LatencyTotalMs    float64 `json:"latency_total_ms"`
	LatencyGatewayMs  float64 `json:"latency_gateway_ms"`
	LatencyUpstreamMs float64 `json:"latency_upstream_ms"`
	RequestBytes      int64   `json:"request_bytes"`
	ResponseBytes     int64   `json:"response_bytes"`
	AuthOutcome       string  `json:"auth_outcome"`
	RateLimitOutcome  string  `json:"rate_limit_outcome"`
	ErrorClass        string  `json:"error_class"`
	Billable          bool    `json:"billable"`
	BillingUnits      int64   `json:"billing_units"`
}

// millis is RFC 3339 with milliseconds, as records are timed.
const millis = "2006-01-02T15:04:05.000Z07:00"

func record(r *logrecord.Record) recordJSON {
	return recordJSON{
		RequestID: r.RequestID, TraceID: r.TraceID,
		StartedAt: time.UnixMilli(r.StartedAt).UTC().Format(millis), StartedAtMs: r.StartedAt,
		NodeID: r.NodeID, Workspace: r.Workspace, ServiceID: r.ServiceID, RouteID: r.RouteID,
		RoutePath: r.RoutePath, ConsumerID: r.ConsumerID, CredentialID: r.CredentialID,
		Method: r.Method, Protocol: r.Protocol, Host: r.Host, Path: r.Path, ClientIP: r.ClientIP,
		UserAgent: r.UserAgent, Status: r.Status, UpstreamStatus: r.UpstreamStatus,
		Responder: r.Responder, UpstreamTries: r.UpstreamTries, UpstreamAddr: r.UpstreamAddr,
		LatencyTotalMs: r.LatencyTotalMs, LatencyGatewayMs: r.LatencyGatewayMs,
		LatencyUpstreamMs: r.LatencyUpstreamMs, RequestBytes: r.RequestBytes, ResponseBytes: r.ResponseBytes,
		AuthOutcome: r.AuthOutcome, RateLimitOutcome: r.RateLimitOutcome, ErrorClass: r.ErrorClass,
		Billable: r.Billable, BillingUnits: r.BillingUnits,
	}
}

type recentJSON struct {
	From    time.Time    `json:"from"`
	To      time.Time    `json:"to"`
	Records []recordJSON `json:"records"`
}

type usageRowJSON struct {
	Start            time.Time `json:"start"`
	Workspace        string    `json:"workspace"`
	ConsumerID       string    `json:"consumer_id"`
	ConsumerName     string    `json:"consumer_name,omitempty"`
	Requests         int64     `json:"requests"`
	BillableRequests int64     `json:"billable_requests"`
	BillingUnits     int64     `json:"billing_units"`
}

type usageJSON struct {
	Per  string         `json:"per"`
	From time.Time      `json:"from"`
	To   time.Time      `json:"to"`
	Rows []usageRowJSON `json:"rows"`
}

// releaser is an answer that hands its buffers back once it is written.
type releaser interface{ release() }

// usageRows keeps the row slices of written usage answers: a 30-day daily
// answer holds tens of thousands of rows. Up to 4 of up to a million rows.
var usageRows = keep.NewSlices[usageRowJSON](4, 1<<20)

// usageRowsJSON returns a slice of n rows, reused when one is kept.
func usageRowsJSON(n int) []usageRowJSON {
	if v := usageRows.Get(); cap(v) >= n {
		return v[:n]
	}
	return make([]usageRowJSON, n)
}

func (u *usageJSON) release() {
	usageRows.Put(u.Rows)
	u.Rows = nil
}

type idNameJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type whoamiJSON struct {
	Scope     string      `json:"scope"`
	Workspace string      `json:"workspace,omitempty"`
	Consumer  *idNameJSON `json:"consumer,omitempty"`
	Token     *idNameJSON `json:"token,omitempty"`
}

type entityJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Workspace string `json:"workspace"`
}

type entitiesJSON struct {
	Data []entityJSON `json:"data"`
}

type healthJSON struct {
	Status string `json:"status"`
}
