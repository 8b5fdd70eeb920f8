package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/ratelimit"
)

// The targets: three nodes share a limit of N per minute with load
// well above it; admitted requests stay within N … 1.01 N when the load is
// even, within N … 1.05 N when one node takes it all.
func TestAccuracy(t *testing.T) {
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		limit    int64
		rates    []float64
		schedule schedule
		max      float64 // admitted/N bound of every window
	}{
		{"even N=100", 100, []float64{1667, 1667, 1667}, aligned, 1.01},
		{"even N=1000", 1000, []float64{1667, 1667, 1667}, aligned, 1.01},
		{"even N=100000", 100000, []float64{1667, 1667, 1667}, aligned, 1.01},
		{"one node N=100", 100, []float64{5000, 0, 0}, aligned, 1.05},
		{"one node N=1000", 1000, []float64{5000, 0, 0}, aligned, 1.05},
		{"uneven N=1000", 1000, []float64{3000, 1500, 500}, aligned, 1.01},
		{"slow even N=1000", 1000, []float64{20, 20, 20}, aligned, 1.01},
		{"staggered even N=1000", 1000, []float64{1667, 1667, 1667}, staggered, 1.25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: start}
			db := newMemDB()
			sim := &simulation{
				nodes: memNodes(t, db, clk, 3, 100*time.Millisecond),
				rates: tt.rates, limit: tt.limit, w: ratelimit.Minute,
				interval: 100 * time.Millisecond, delay: 25 * time.Millisecond, schedule: tt.schedule,
			}
			res := sim.run(t, clk, start, 3)
			t.Logf("admitted per window %v of N=%d; %d requests, %.5f Cassandra requests per request",
				res.admitted, tt.limit, res.requests, float64(res.ops)/float64(res.requests))
			if len(res.admitted) != 3 {
				t.Fatalf("admitted in %d windows, want 3", len(res.admitted))
			}
			demand := int64(0)
			for _, r := range tt.rates {
				demand += int64(r * 60)
			}
			for i, a := range res.admitted {
				lo := min(tt.limit, demand*99/100)
				if a < lo || float64(a) > tt.max*float64(tt.limit) {
					t.Errorf("window %d admitted %d, want %d … %.0f", i, a, lo, tt.max*float64(tt.limit))
				}
			}
		})
	}
}

// Sliding windows: the count of what was admitted, weighted as the plugin
// weighs it, stays within N … 1.01 N under even load well above N.
func TestAccuracySliding(t *testing.T) {
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	for _, limit := range []int64{100, 1000} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			clk := &clock{t: start}
			sim := &simulation{
				nodes: memNodes(t, newMemDB(), clk, 3, 100*time.Millisecond),
				rates: []float64{1667, 1667, 1667}, limit: limit, w: ratelimit.Minute,
				interval: 100 * time.Millisecond, delay: 25 * time.Millisecond, sliding: true,
			}
			res := sim.run(t, clk, start, 3)
			t.Logf("admitted per window %v; highest sliding count %.1f (at %s) of N=%d", res.admitted, res.maxSliding, res.maxSlidingAt, limit)
			if res.maxSliding < float64(limit)-1 || res.maxSliding > 1.01*float64(limit) {
				t.Errorf("highest sliding count %.1f, want %d … %.1f", res.maxSliding, limit-1, 1.01*float64(limit))
			}
		})
	}
}

// Load that moves between nodes mid-window: each node's share follows its
// published rate, and the total stays within the bound's E term.
func TestAccuracyMovingLoad(t *testing.T) {
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	const limit = 1000
	clk := &clock{t: start}
	sim := &simulation{
		nodes: memNodes(t, newMemDB(), clk, 3, 100*time.Millisecond),
		limit: limit, w: ratelimit.Minute,
		interval: 100 * time.Millisecond, delay: 25 * time.Millisecond,
		// 5,000/s on one node, moving to the next every 70ms, so that
		// every window ends its budget with the load in motion.
		rateAt: func(i int, since time.Duration) float64 {
			if int(since/(70*time.Millisecond))%3 == i {
				return 5000
			}
			return 0
		},
	}
	res := sim.run(t, clk, start, 3)
	// E ≤ Σ r·δ = 5,000/s × 25ms = 125; the probes add at most 2.
	t.Logf("admitted per window %v of N=%d", res.admitted, limit)
	for i, a := range res.admitted {
		if a < limit || a > limit+125+2 {
			t.Errorf("window %d admitted %d, want %d … %d", i, a, limit, limit+127)
		}
	}
}
