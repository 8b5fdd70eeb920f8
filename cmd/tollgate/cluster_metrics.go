package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	rlcluster "github.com/tollgate/tollgate/gateway/ratelimit/cluster"
	cstore "github.com/tollgate/tollgate/gateway/store/cassandra"
)

// clusterMetrics are a cluster node's metrics of its sync with Cassandra:
// config staleness and the rate-limit counters' rounds.
type clusterMetrics struct {
	rlSyncs          *prometheus.HistogramVec
	rlOps            prometheus.Counter
	rlDegraded       prometheus.Gauge
	rlLocalDecisions prometheus.Counter
}

func newClusterMetrics() *clusterMetrics {
	return &clusterMetrics{
		rlSyncs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tollgate_ratelimit_cluster_sync_seconds",
			Help:    "Duration of cluster rate-limit sync rounds, by result.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"result"}),
		rlOps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_ratelimit_cassandra_ops_total",
			Help: "Cassandra requests made by the cluster rate-limit counters (queries, batches, lightweight transactions).",
		}),
		rlDegraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_ratelimit_cluster_degraded",
			Help: "1 while cluster rate limits are enforced on this node's counts alone because Cassandra is unreachable.",
		}),
		rlLocalDecisions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_ratelimit_local_decisions_total",
			Help: "Cluster rate-limit decisions taken on local counts because Cassandra was unreachable.",
		}),
	}
}

func (m *clusterMetrics) rateLimitHooks() rlcluster.Metrics {
	return rlcluster.Metrics{
		Sync: func(d time.Duration, err error) {
			result := "ok"
			if err != nil {
				result = "error"
			}
			m.rlSyncs.WithLabelValues(result).Observe(d.Seconds())
		},
		Ops: func(n int) { m.rlOps.Add(float64(n)) },
		Degraded: func(d bool) {
			if d {
				m.rlDegraded.Set(1)
			} else {
				m.rlDegraded.Set(0)
			}
		},
		LocalDecision: m.rlLocalDecisions.Inc,
	}
}

// register adds the rate-limit metrics and the config sync gauges, read
// from state at scrape time.
func (m *clusterMetrics) register(reg prometheus.Registerer, state func() cstore.SyncState) {
	reg.MustRegister(m.rlSyncs, m.rlOps, m.rlDegraded, m.rlLocalDecisions)
	gauge := func(name, help string, f func(cstore.SyncState) float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(state()) }))
	}
	gauge("tollgate_config_stale", "1 while this node's config may be behind the cluster's (Cassandra unreachable or no sync for three poll intervals).",
		func(s cstore.SyncState) float64 { return b2f(s.Stale) })
	gauge("tollgate_config_last_sync_age_seconds", "Seconds since this node last read the config change log (-1: never).",
		func(s cstore.SyncState) float64 {
			if s.LastSync.IsZero() {
				return -1
			}
			return time.Since(s.LastSync).Seconds()
		})
	gauge("tollgate_config_head_version", "Newest config version this node knows the cluster has committed.",
		func(s cstore.SyncState) float64 { return float64(s.HeadVersion) })
	gauge("tollgate_config_from_cache", "1 while this node serves the config of its cache file, not having reached Cassandra since it started.",
		func(s cstore.SyncState) float64 { return b2f(s.FromCache) })
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "tollgate_config_resyncs_total",
		Help: "Full resynchronisations of this node's config from the entities table.",
	}, func() float64 { return float64(state().Resyncs) }))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
