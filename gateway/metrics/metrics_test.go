package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRouteObserve(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)

	tests := []struct {
		name      string
		status    int
		upstream  float64
		wantClass string
	}{
		{name: "success", status: 200, upstream: 3, wantClass: "2xx"},
		{name: "client error", status: 404, upstream: -1, wantClass: "4xx"},
		{name: "gateway error", status: 502, upstream: 1, wantClass: "5xx"},
		{name: "client gone", status: 499, upstream: -1, wantClass: "4xx"},
		{name: "out of range", status: 0, upstream: -1, wantClass: "other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := m.Route("default", "svc", "rt")
			before := testutil.ToFloat64(m.requests.WithLabelValues("svc", "rt", tc.wantClass, "default"))
			r.Observe(tc.status, 5, tc.upstream, 2)
			after := testutil.ToFloat64(m.requests.WithLabelValues("svc", "rt", tc.wantClass, "default"))
			if after-before != 1 {
				t.Fatalf("count of %s went from %v to %v", tc.wantClass, before, after)
			}
		})
	}
	if got := testutil.CollectAndCount(m.requestLatency); got != 1 {
		t.Errorf("request latency series = %d, want 1", got)
	}
	if n := histCount(t, reg, "tollgate_upstream_latency_ms"); n != 2 {
		t.Errorf("upstream latency observations = %d, want 2", n)
	}
	if n := histCount(t, reg, "tollgate_request_latency_ms"); n != 5 {
		t.Errorf("request latency observations = %d, want 5", n)
	}
}

func histCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var n uint64
			for _, m := range mf.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
			return n
		}
	}
	return 0
}

func TestRouteCached(t *testing.T) {
	m := New(prometheus.NewRegistry())
	a := m.Route("ws", "s", "r")
	b := m.Route("ws", "s", "r")
	if a != b {
		t.Fatal("Route returned a new value for the same labels")
	}
	if c := m.Route("ws", "s", "other"); c == a {
		t.Fatal("Route returned the same value for other labels")
	}
}

func TestGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.SetConfigVersion(42)
	m.SetTargetHealth("up", "10.0.0.1:80", true)
	m.OnHealthChange("default", "up", "10.0.0.2:80", false)
	m.NoHealthyTarget()
	m.LogRecordsDropped(3)
	m.LogRecordsDropped(-1)

	exp := `
# HELP tollgate_config_version Config version of the snapshot this node serves from.
# TYPE tollgate_config_version gauge
tollgate_config_version 42
# HELP tollgate_log_records_dropped_total Request log records the node could not keep.
# TYPE tollgate_log_records_dropped_total counter
tollgate_log_records_dropped_total 3
# HELP tollgate_no_healthy_target_total Requests answered 503 because their upstream had no healthy target.
# TYPE tollgate_no_healthy_target_total counter
tollgate_no_healthy_target_total 1
# HELP tollgate_upstream_target_health 1 when the upstream target is healthy on this node, 0 when it is not.
# TYPE tollgate_upstream_target_health gauge
tollgate_upstream_target_health{target="10.0.0.1:80",upstream="up"} 1
tollgate_upstream_target_health{target="10.0.0.2:80",upstream="up"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(exp),
		"tollgate_config_version", "tollgate_log_records_dropped_total",
		"tollgate_no_healthy_target_total", "tollgate_upstream_target_health"); err != nil {
		t.Fatal(err)
	}
	m.ForgetTarget("up", "10.0.0.2:80")
	if n := testutil.CollectAndCount(m.targetHealth); n != 1 {
		t.Fatalf("target series after forget = %d, want 1", n)
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.Route("a", "b", "c").Observe(200, 1, 1, 1)
	m.SetConfigVersion(1)
	m.SetTargetHealth("u", "t", true)
	m.OnHealthChange("w", "u", "t", false)
	m.ForgetTarget("u", "t")
	m.NoHealthyTarget()
	m.LogRecordsDropped(1)
}

func BenchmarkRouteObserve(b *testing.B) {
	m := New(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Route("default", "svc", "route").Observe(200, 1.5, 1, 0.5)
		}
	})
}
