package main

import (
	"fmt"
	"math"
	"time"
)

// firstPatternWindow returns the start of the first minute window a load
// pattern can measure, given that it must be preceded by lead of warm-up
// load in the minute before: the first minute boundary b with b − lead ≥
// now. Rate-limit windows start at whole minutes of Unix time, which
// Truncate finds: the zero time.Time is itself a whole minute.
func firstPatternWindow(now time.Time, lead time.Duration) time.Time {
	b := now.Truncate(time.Minute).Add(time.Minute)
	for b.Add(-lead).Before(now) {
		b = b.Add(time.Minute)
	}
	return b
}

// sendSpan returns when requests of the window starting at start are sent:
// from start+from to start+until. The margins at both ends keep a request
// from landing in a neighbouring window when it is late or the clocks of
// the generator and the node read a little apart.
func sendSpan(start time.Time, from, until time.Duration) (time.Time, time.Time) {
	return start.Add(from), start.Add(until)
}

// formatRatio renders num/den with three decimals, or "n/a" when den is 0.
func formatRatio(num, den float64) string {
	if den == 0 || math.IsNaN(num) || math.IsNaN(den) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", num/den)
}

// ms renders d in milliseconds with one decimal.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}
