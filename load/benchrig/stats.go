package benchrig

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Dist summarises a set of measured delays.
type Dist struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// Summarize returns the nearest-rank percentiles of ds (which it does not
// modify); the zero Dist when ds is empty.
func Summarize(ds []time.Duration) Dist {
	if len(ds) == 0 {
		return Dist{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return Dist{
		N:   len(s),
		P50: Percentile(s, 0.50),
		P90: Percentile(s, 0.90),
		P99: Percentile(s, 0.99),
		Max: s[len(s)-1],
	}
}

// Percentile returns the value of rank ⌈q·n⌉ (1-based) of sorted: the
// smallest value with at least a fraction q of the values at or below it.
// With 200 samples p99 is the second largest, not an interpolation between
// two measured values. (load.Histogram answers within 0.8 % from buckets;
// the benchmarks keep every sample and report it exactly.)
func Percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The small subtraction keeps float error (0.07·100 = 7.000…01) from
	// moving the rank up by one.
	rank := int(math.Ceil(q*float64(n) - 1e-9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Median returns the median of vs (the mean of the middle two for an even
// count); NaN when empty.
func Median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Bound is a target for a value: at least Lo and at most Hi, either of
// which may be open (NoBound).
type Bound struct {
	Lo, Hi float64
}

// NoBound is NaN: no limit on that side.
var NoBound = math.NaN()

// Holds tells whether v meets b. NaN v (nothing measured) never does.
func (b Bound) Holds(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if !math.IsNaN(b.Lo) && v < b.Lo {
		return false
	}
	if !math.IsNaN(b.Hi) && v > b.Hi {
		return false
	}
	return true
}

// String renders b as "≥ 1", "≤ 0.01" or "1 … 1.01".
func (b Bound) String() string {
	switch {
	case !math.IsNaN(b.Lo) && !math.IsNaN(b.Hi):
		return fmt.Sprintf("%s … %s", trimFloat(b.Lo), trimFloat(b.Hi))
	case !math.IsNaN(b.Lo):
		return "≥ " + trimFloat(b.Lo)
	case !math.IsNaN(b.Hi):
		return "≤ " + trimFloat(b.Hi)
	}
	return "-"
}

// trimFloat renders f without trailing zeros: 1, 1.01, 0.95, 200000.
func trimFloat(f float64) string {
	s := fmt.Sprintf("%.6f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// Float3 renders v with three decimals, or "n/a" for NaN.
func Float3(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", v)
}
