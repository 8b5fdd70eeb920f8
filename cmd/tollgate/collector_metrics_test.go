package main

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The per-fetch hooks count each partition's records and keep its lag
// under the partition's label.
func TestCollectorHooksCountPerPartition(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newCollectorMetrics(reg)
	h := m.hooks()
	h.Consumed(0, 2)
	h.Consumed(0, 1)
	h.Consumed(2, 1)
	h.Lag(2, 17)
	h.Lag(0, 5)
	h.Lag(2, 4)
	for _, c := range []struct {
		what string
		got  float64
		want float64
	}{
		{"consumed, partition 0", testutil.ToFloat64(m.consumed.WithLabelValues("0")), 3},
		{"consumed, partition 2", testutil.ToFloat64(m.consumed.WithLabelValues("2")), 1},
		{"lag, partition 0", testutil.ToFloat64(m.lag.WithLabelValues("0")), 5},
		{"lag, partition 2", testutil.ToFloat64(m.lag.WithLabelValues("2")), 4},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.consumed); n != 2 {
		t.Errorf("%d consumed series, want one per partition read (2)", n)
	}
}
