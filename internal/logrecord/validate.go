package logrecord

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Validate reports whether the collector may load r. It names every bad field
// (by its schema name) in one error wrapping ErrInvalid, so a rejected record
// in a dead-letter queue says all that is wrong with it at once.
func (r *Record) Validate() error {
	var bad []string
	if r.RequestID == "" {
		bad = append(bad, "request_id is empty")
	}
	if r.StartedAt <= 0 {
		bad = append(bad, "started_at "+strconv.FormatInt(r.StartedAt, 10)+" is not after the epoch")
	}
	checkStatus := func(name string, v int) {
		if v < 0 || v > 999 {
			bad = append(bad, name+" "+strconv.Itoa(v)+" is outside 0..999")
		}
	}
	checkStatus("status", r.Status)
	checkStatus("upstream_status", r.UpstreamStatus)
	checkNonNegative := func(name string, v int64) {
		if v < 0 {
			bad = append(bad, name+" "+strconv.FormatInt(v, 10)+" is negative")
		}
	}
	checkNonNegative("upstream_tries", int64(r.UpstreamTries))
	checkNonNegative("request_bytes", r.RequestBytes)
	checkNonNegative("response_bytes", r.ResponseBytes)
	checkNonNegative("billing_units", r.BillingUnits)
	checkLatency := func(name string, v float64) {
		// NaN compares false with everything, so test it on its own: a NaN
		// latency would poison every average it enters.
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			bad = append(bad, name+" "+strconv.FormatFloat(v, 'g', -1, 64)+" is not a finite non-negative number")
		}
	}
	checkLatency("latency_total_ms", r.LatencyTotalMs)
	checkLatency("latency_gateway_ms", r.LatencyGatewayMs)
	checkLatency("latency_upstream_ms", r.LatencyUpstreamMs)
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(bad, "; "))
}
