package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

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
