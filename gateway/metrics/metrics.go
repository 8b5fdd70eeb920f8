package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyBucketsMs are the bucket bounds of Kong's Prometheus plugin for its
// latency histograms, so that dashboards built for Kong read the same.
var latencyBucketsMs = []float64{1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 2000, 5000, 10000, 30000, 60000}

// Metrics are the instruments of one gateway node. Safe for concurrent use.
type Metrics struct {
	requests        *prometheus.CounterVec
	requestLatency  *prometheus.HistogramVec
	upstreamLatency *prometheus.HistogramVec
	gatewayLatency  *prometheus.HistogramVec
	targetHealth    *prometheus.GaugeVec
	configVersion   prometheus.Gauge
	noHealthyTarget prometheus.Counter
	logDropped      prometheus.Counter

	// routes caches the label children of each (workspace, service, route)
	// so that the request path neither hashes label values through the
	// vectors nor allocates. Entries of deleted routes stay until the process
	// ends, as their series do in the registry.
	routes sync.Map // routeKey → *Route
}

// New creates the instruments and registers them on reg. It panics only if
// reg already holds metrics of the same names, which is a programming error
// of the caller (one Metrics per registry).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_http_requests_total",
			Help: "HTTP requests served by the proxy, by service, route, status class and workspace.",
		}, []string{"service", "route", "code_class", "workspace"}),
		requestLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tollgate_request_latency_ms",
			Help:    "Time from the first byte of a request to the response handed to the client, in milliseconds.",
			Buckets: latencyBucketsMs,
		}, []string{"service"}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tollgate_upstream_latency_ms",
			Help:    "Time the upstream took to answer with its response headers, in milliseconds (including retries).",
			Buckets: latencyBucketsMs,
		}, []string{"service"}),
		gatewayLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tollgate_gateway_latency_ms",
			Help:    "Time spent in the gateway itself (routing, plugins, proxying overhead), in milliseconds.",
			Buckets: latencyBucketsMs,
		}, []string{"service"}),
		targetHealth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tollgate_upstream_target_health",
			Help: "1 when the upstream target is healthy on this node, 0 when it is not.",
		}, []string{"upstream", "target"}),
		configVersion: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_config_version",
			Help: "Config version of the snapshot this node serves from.",
		}),
		noHealthyTarget: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_no_healthy_target_total",
			Help: "Requests answered 503 because their upstream had no healthy target.",
		}),
		logDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_log_records_dropped_total",
			Help: "Request log records the node could not keep.",
		}),
	}
	reg.MustRegister(m.requests, m.requestLatency, m.upstreamLatency, m.gatewayLatency,
		m.targetHealth, m.configVersion, m.noHealthyTarget, m.logDropped)
	return m
}

type routeKey struct{ workspace, service, route string }

// Route holds the instruments of one route, with its label values bound.
type Route struct {
	m                          *Metrics
	key                        routeKey
	codes                      [6]atomic.Pointer[prometheus.Counter] // index: status/100, 0 for out of range
	request, upstream, gateway prometheus.Observer
}

// codeClasses are the code_class label values, indexed by status/100.
var codeClasses = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// Route returns the instruments of a route, creating them on first use. The
// label values are the service and route names (ids when unnamed); requests
// that matched no route use "".
func (m *Metrics) Route(workspace, service, route string) *Route {
	if m == nil {
		return nil
	}
	k := routeKey{workspace, service, route}
	if r, ok := m.routes.Load(k); ok {
		return r.(*Route)
	}
	r := &Route{
		m:        m,
		key:      k,
		request:  m.requestLatency.WithLabelValues(service),
		upstream: m.upstreamLatency.WithLabelValues(service),
		gateway:  m.gatewayLatency.WithLabelValues(service),
	}
	actual, _ := m.routes.LoadOrStore(k, r)
	return actual.(*Route)
}

// Observe records one request: its final status and latencies in
// milliseconds. upstreamMs < 0 means no upstream was contacted, and its
// histogram is left alone.
func (r *Route) Observe(status int, totalMs, upstreamMs, gatewayMs float64) {
	if r == nil {
		return
	}
	i := status / 100
	if i < 1 || i >= len(r.codes) {
		i = 0
	}
	c := r.codes[i].Load()
	if c == nil {
		// Created lazily so that a route exposes only the classes it served.
		nc := r.m.requests.WithLabelValues(r.key.service, r.key.route, codeClasses[i], r.key.workspace)
		r.codes[i].CompareAndSwap(nil, &nc)
		c = r.codes[i].Load()
	}
	(*c).Inc()
	r.request.Observe(totalMs)
	r.gateway.Observe(gatewayMs)
	if upstreamMs >= 0 {
		r.upstream.Observe(upstreamMs)
	}
}

// SetTargetHealth records a target's health; it fits
// upstream.Options.OnHealthChange (with the workspace dropped).
func (m *Metrics) SetTargetHealth(upstream, target string, healthy bool) {
	if m == nil {
		return
	}
	v := 0.0
	if healthy {
		v = 1
	}
	m.targetHealth.WithLabelValues(upstream, target).Set(v)
}

// OnHealthChange has the shape of upstream.Options.OnHealthChange, so that
// cmd/ can hand it over directly; the workspace is not a label (upstream
// names are what dashboards show).
func (m *Metrics) OnHealthChange(workspace, upstream, target string, healthy bool) {
	m.SetTargetHealth(upstream, target, healthy)
}

// ForgetTarget removes a target's health series, for targets that were
// deleted from the configuration.
func (m *Metrics) ForgetTarget(upstream, target string) {
	if m == nil {
		return
	}
	m.targetHealth.DeleteLabelValues(upstream, target)
}

// SetConfigVersion records the config version being served.
func (m *Metrics) SetConfigVersion(v uint64) {
	if m == nil {
		return
	}
	m.configVersion.Set(float64(v))
}

// NoHealthyTarget counts one request that found no healthy target.
func (m *Metrics) NoHealthyTarget() {
	if m == nil {
		return
	}
	m.noHealthyTarget.Inc()
}

// LogRecordsDropped counts n request log records that were lost.
func (m *Metrics) LogRecordsDropped(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.logDropped.Add(float64(n))
}
