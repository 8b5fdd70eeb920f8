package logrecord

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Record)
		want   []string // substrings; none means valid
	}{
		{"full record", func(*Record) {}, nil},
		{"status 0 and 999", func(r *Record) { r.Status, r.UpstreamStatus = 0, 999 }, nil},
		{"missing request_id", func(r *Record) { r.RequestID = "" }, []string{"request_id is empty"}},
		{"started_at zero", func(r *Record) { r.StartedAt = 0 }, []string{"started_at 0"}},
		{"started_at negative", func(r *Record) { r.StartedAt = -5 }, []string{"started_at -5"}},
		{"status too large", func(r *Record) { r.Status = 1000 }, []string{"status 1000 is outside 0..999"}},
		{"status negative", func(r *Record) { r.Status = -1 }, []string{"status -1"}},
		{"upstream_status too large", func(r *Record) { r.UpstreamStatus = 1000 }, []string{"upstream_status 1000"}},
		{"negative request_bytes", func(r *Record) { r.RequestBytes = -1 }, []string{"request_bytes -1 is negative"}},
		{"negative response_bytes", func(r *Record) { r.ResponseBytes = -2 }, []string{"response_bytes -2"}},
		{"negative upstream_tries", func(r *Record) { r.UpstreamTries = -1 }, []string{"upstream_tries -1"}},
		{"negative billing_units", func(r *Record) { r.BillingUnits = -1 }, []string{"billing_units -1"}},
		{"negative latency", func(r *Record) { r.LatencyTotalMs = -0.5 }, []string{"latency_total_ms -0.5"}},
		{"NaN latency", func(r *Record) { r.LatencyGatewayMs = math.NaN() }, []string{"latency_gateway_ms NaN"}},
		{"infinite latency", func(r *Record) { r.LatencyUpstreamMs = math.Inf(1) }, []string{"latency_upstream_ms +Inf"}},
		{"every problem named", func(r *Record) {
			*r = Record{Status: 1200, ResponseBytes: -1, LatencyUpstreamMs: -1}
		}, []string{"request_id", "started_at", "status 1200", "response_bytes", "latency_upstream_ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fullRecord()
			tt.modify(&r)
			err := r.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
