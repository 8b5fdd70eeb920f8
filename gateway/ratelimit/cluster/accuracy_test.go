package cluster

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/ratelimit"
)

// simSeeds is how many random schedules each skewed case runs; raise it to
// search harder (go test -run Skewed -sim.seeds 500).
var simSeeds = flag.Int("sim.seeds", 6, "random schedules per skewed accuracy case")

const (
	simInterval = 100 * time.Millisecond
	simDelay    = 25 * time.Millisecond
)

// The targets: three nodes share a limit of N per minute with load
// well above it; admitted requests stay within N … 1.01 N when the load is
// even, within N … 1.05 N when one node takes it all. Claims make N a hard
// ceiling (see the package doc); these cases check that rounds whose views
// agree (aligned) or differ as much as an even spread of rounds makes them
// (staggered) also reach it.
func TestAccuracy(t *testing.T) {
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		limit     int64
		rates     []float64
		staggered bool
		min       float64 // admitted/N floor of every window
	}{
		{"even N=100", 100, []float64{1667, 1667, 1667}, false, 1},
		{"even N=1000", 1000, []float64{1667, 1667, 1667}, false, 1},
		{"even N=100000", 100000, []float64{1667, 1667, 1667}, false, 1},
		{"one node N=100", 100, []float64{5000, 0, 0}, false, 1},
		{"one node N=1000", 1000, []float64{5000, 0, 0}, false, 1},
		{"uneven N=1000", 1000, []float64{3000, 1500, 500}, false, 1},
		{"slow even N=1000", 1000, []float64{20, 20, 20}, false, 1},
		{"staggered even N=1000", 1000, []float64{1667, 1667, 1667}, true, 1},
		{"staggered one node N=1000", 1000, []float64{5000, 0, 0}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: start}
			db := newMemDB()
			nodes := alignedNodes(t, db, clk, 3, simInterval, simDelay)
			if tt.staggered {
				nodes = staggeredNodes(t, db, clk, 3, simInterval)
			}
			sim := &simulation{nodes: nodes, rates: tt.rates, limit: tt.limit, w: ratelimit.Minute, interval: simInterval}
			res := sim.run(t, clk, db, start, 3)
			t.Logf("admitted per window %v of N=%d; %d requests, %.5f Cassandra requests per request",
				res.admitted, tt.limit, res.requests, float64(res.ops)/float64(res.requests))
			checkWindows(t, res.admitted, tt.limit, tt.rates, tt.min)
		})
	}
}

// checkWindows checks every window admitted at most limit and at least
// min×limit (or min× the demand, when lower).
func checkWindows(t *testing.T, admitted []int64, limit int64, rates []float64, min float64) {
	t.Helper()
	if len(admitted) != 3 {
		t.Fatalf("admitted in %d windows, want 3", len(admitted))
	}
	demand := 0.0
	for _, r := range rates {
		demand += r * 60
	}
	lo := int64(min * float64(limit))
	if d := int64(min * demand); d < lo {
		lo = d
	}
	for i, a := range admitted {
		if a < lo || a > limit {
			t.Errorf("window %d admitted %d, want %d … %d", i, a, lo, limit)
		}
	}
}

// Views of a round that differ arbitrarily: random clock offsets within an
// interval, random delays between a node's write and its read, calls that
// take random times to land and to be answered (one in twenty up to
// 150ms, longer than a round), over many seeds. No window may admit more
// than N; even load admits at least 0.99 N and skewed load 0.95 N.
func TestAccuracySkewed(t *testing.T) {
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		limit int64
		rates []float64
		min   float64
	}{
		{"even N=100", 100, []float64{1667, 1667, 1667}, 0.99},
		{"even N=1000", 1000, []float64{1667, 1667, 1667}, 0.99},
		{"one node N=100", 100, []float64{5000, 0, 0}, 0.95},
		{"one node N=1000", 1000, []float64{5000, 0, 0}, 0.95},
		{"uneven N=1000", 1000, []float64{3000, 1500, 500}, 0.99},
		{"slow even N=1000", 1000, []float64{20, 20, 20}, 0.99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var all []float64
			for seed := range uint64(*simSeeds) {
				rng := rand.New(rand.NewPCG(seed, 0x5eed))
				clk := &clock{t: start}
				db := newMemDB()
				sim := &simulation{
					nodes: skewedNodes(t, db, clk, 3, simInterval, rng),
					rates: tt.rates, limit: tt.limit, w: ratelimit.Minute, interval: simInterval,
					latency: skewLatency(rng),
				}
				res := sim.run(t, clk, db, start, 3)
				for _, a := range res.admitted {
					all = append(all, float64(a)/float64(tt.limit))
				}
				if t.Failed() {
					continue
				}
				checkWindows(t, res.admitted, tt.limit, tt.rates, tt.min)
				if t.Failed() {
					t.Logf("seed %d: admitted per window %v of N=%d", seed, res.admitted, tt.limit)
				}
			}
			slices.Sort(all)
			t.Logf("%d windows over %d seeds: admitted/N min %.4f, median %.4f, max %.4f",
				len(all), *simSeeds, all[0], all[len(all)/2], all[len(all)-1])
		})
	}
}

// Sliding windows: the count of what was admitted, weighted as the plugin
// weighs it, stays within N … 1.01 N under even load well above N.
func TestAccuracySliding(t *testing.T) {
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	for _, skewed := range []bool{false, true} {
		for _, limit := range []int64{100, 1000} {
			t.Run(fmt.Sprintf("%d skewed=%v", limit, skewed), func(t *testing.T) {
				seeds := 1
				if skewed {
					seeds = max(1, *simSeeds/2)
				}
				for seed := range uint64(seeds) {
					rng := rand.New(rand.NewPCG(seed, 0x51d))
					clk := &clock{t: start}
					db := newMemDB()
					sim := &simulation{
						nodes: alignedNodes(t, db, clk, 3, simInterval, simDelay),
						rates: []float64{1667, 1667, 1667}, limit: limit, w: ratelimit.Minute,
						interval: simInterval, sliding: true,
					}
					if skewed {
						sim.nodes, sim.latency = skewedNodes(t, db, clk, 3, simInterval, rng), skewLatency(rng)
					}
					res := sim.run(t, clk, db, start, 3)
					t.Logf("seed %d: admitted per window %v; highest sliding count %.1f (at %s) of N=%d; %.5f Cassandra requests per request",
						seed, res.admitted, res.maxSliding, res.maxSlidingAt, limit, float64(res.ops)/float64(res.requests))
					if res.maxSliding < float64(limit)-1 || res.maxSliding > 1.01*float64(limit) {
						t.Errorf("highest sliding count %.1f, want %d … %.1f", res.maxSliding, limit-1, 1.01*float64(limit))
					}
				}
			})
		}
	}
}

// Load that moves between nodes mid-window: claims follow the published
// rates, and the total never exceeds the limit.
func TestAccuracyMovingLoad(t *testing.T) {
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	const limit = 1000
	for _, skewed := range []bool{false, true} {
		t.Run(fmt.Sprintf("skewed=%v", skewed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 7))
			clk := &clock{t: start}
			db := newMemDB()
			sim := &simulation{
				nodes: alignedNodes(t, db, clk, 3, simInterval, simDelay),
				limit: limit, w: ratelimit.Minute, interval: simInterval,
				// 5,000/s on one node, moving to the next every 70ms, so
				// that every window ends its budget with the load in motion.
				rateAt: func(i int, since time.Duration) float64 {
					if int(since/(70*time.Millisecond))%3 == i {
						return 5000
					}
					return 0
				},
			}
			if skewed {
				sim.nodes, sim.latency = skewedNodes(t, db, clk, 3, simInterval, rng), skewLatency(rng)
			}
			res := sim.run(t, clk, db, start, 3)
			t.Logf("admitted per window %v of N=%d", res.admitted, limit)
			for i, a := range res.admitted {
				if a < limit*99/100 || a > limit {
					t.Errorf("window %d admitted %d, want %d … %d", i, a, limit*99/100, limit)
				}
			}
		})
	}
}
