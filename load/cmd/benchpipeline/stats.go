package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// dist summarises a set of measured delays.
type dist struct {
	n                  int
	p50, p90, p99, max time.Duration
}

// summarize returns the nearest-rank percentiles of ds (which it does not
// modify); the zero dist when ds is empty.
func summarize(ds []time.Duration) dist {
	if len(ds) == 0 {
		return dist{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return dist{
		n:   len(s),
		p50: percentile(s, 0.50),
		p90: percentile(s, 0.90),
		p99: percentile(s, 0.99),
		max: s[len(s)-1],
	}
}

// percentile returns the value of rank ⌈q·n⌉ (1-based) of sorted: the
// smallest value with at least a fraction q of the values at or below it.
func percentile(sorted []time.Duration, q float64) time.Duration {
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

// bound is a target for a value: at least lo and at most hi, either of
// which may be open (NaN).
type bound struct {
	lo, hi float64
}

// noBound is NaN: no limit on that side.
var noBound = math.NaN()

// holds tells whether v meets b. NaN v (nothing measured) never does.
func (b bound) holds(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if !math.IsNaN(b.lo) && v < b.lo {
		return false
	}
	if !math.IsNaN(b.hi) && v > b.hi {
		return false
	}
	return true
}

// String renders b as "≥ 1", "≤ 0.01" or "1 … 1.01".
func (b bound) String() string {
	switch {
	case !math.IsNaN(b.lo) && !math.IsNaN(b.hi):
		return fmt.Sprintf("%s … %s", trimFloat(b.lo), trimFloat(b.hi))
	case !math.IsNaN(b.lo):
		return "≥ " + trimFloat(b.lo)
	case !math.IsNaN(b.hi):
		return "≤ " + trimFloat(b.hi)
	}
	return "-"
}

// trimFloat renders f without trailing zeros: 1, 1.01, 0.95, 200000.
func trimFloat(f float64) string {
	s := fmt.Sprintf("%.6f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// verdict is "ok" or "MISSED".
func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// median returns the median of vs (the mean of the middle two for an even
// count); NaN when empty.
func median(vs []float64) float64 {
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

// fmtFloat3 renders v with three decimals, or "n/a" for NaN.
func fmtFloat3(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", v)
}

// thousands renders a count with thin groups: 1234567 → "1 234 567".
func thousands(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ' ')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// secs renders d in seconds with two decimals.
func secs(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}
