package benchrig

import (
	"math"
	"testing"
	"time"
)

// seq returns 1 … n as durations.
func seq(n int) []time.Duration {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = time.Duration(i + 1)
	}
	return s
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond // 1 … 100 ms
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one value", []time.Duration{7}, 0.99, 7},
		{"p50 of 1..100 is the 50th", hundred, 0.50, 50 * time.Millisecond},
		{"p90 of 1..100 is the 90th", hundred, 0.90, 90 * time.Millisecond},
		{"p99 of 1..100 is the 99th", hundred, 0.99, 99 * time.Millisecond},
		{"p07 does not round up on float error", hundred, 0.07, 7 * time.Millisecond},
		{"q 1 is the max", hundred, 1, 100 * time.Millisecond},
		{"q 0 is the min", hundred, 0, 1 * time.Millisecond},
		{"q above 1 is the max", hundred, 1.5, 100 * time.Millisecond},
		{"p50 of two is the lower", []time.Duration{1, 2}, 0.5, 1},
		{"p99 of 200 is the 198th", seq(200), 0.99, 198},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("Percentile(q=%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want Dist
	}{
		{"empty", nil, Dist{}},
		{"one", []time.Duration{4}, Dist{N: 1, P50: 4, P90: 4, P99: 4, Max: 4}},
		{"unsorted five", []time.Duration{5, 1, 4, 2, 3}, Dist{N: 5, P50: 3, P90: 5, P99: 5, Max: 5}},
		{"1..200", seq(200), Dist{N: 200, P50: 100, P90: 180, P99: 198, Max: 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.in); got != tt.want {
				t.Errorf("Summarize = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSummarizeSortsACopy(t *testing.T) {
	in := []time.Duration{5, 1, 4, 2, 3}
	Summarize(in)
	if in[0] != 5 || in[1] != 1 {
		t.Errorf("Summarize reordered its input: %v", in)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"one", []float64{0.9}, 0.9},
		{"two: the mean of both", []float64{1.0, 0.9}, 0.95},
		{"odd, unsorted", []float64{3, 1, 2}, 2},
		{"even, unsorted", []float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Median(tt.in); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Median(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	if got := Median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
}

func TestBound(t *testing.T) {
	even := Bound{Lo: 1, Hi: 1.01}
	atLeast := Bound{Lo: 0.95, Hi: NoBound}
	atMost := Bound{Lo: NoBound, Hi: 0.01}
	open := Bound{Lo: NoBound, Hi: NoBound}
	tests := []struct {
		name string
		b    Bound
		v    float64
		want bool
	}{
		{"exact N", even, 1, true},
		{"1% over", even, 1.01, true},
		{"just over 1%", even, 1.011, false},
		{"under N", even, 0.999, false},
		{"ratio at target", atLeast, 0.95, true},
		{"ratio below", atLeast, 0.949, false},
		{"ops at most", atMost, 0.0012, true},
		{"ops over", atMost, 0.02, false},
		{"open holds anything", open, -1e9, true},
		{"nothing measured", atLeast, math.NaN(), false},
		{"nothing measured, open", open, math.NaN(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.Holds(tt.v); got != tt.want {
				t.Errorf("%v holds %v = %v, want %v", tt.b, tt.v, got, tt.want)
			}
		})
	}
}

func TestBoundString(t *testing.T) {
	tests := []struct {
		name string
		b    Bound
		want string
	}{
		{"both", Bound{Lo: 1, Hi: 1.01}, "1 … 1.01"},
		{"at least", Bound{Lo: 0.95, Hi: NoBound}, "≥ 0.95"},
		{"at most", Bound{Lo: NoBound, Hi: 0.01}, "≤ 0.01"},
		{"whole number", Bound{Lo: 200000, Hi: NoBound}, "≥ 200000"},
		{"open", Bound{Lo: NoBound, Hi: NoBound}, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFloat3(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1, "1.000"},
		{0.9876, "0.988"},
		{math.NaN(), "n/a"},
	}
	for _, tt := range tests {
		if got := Float3(tt.in); got != tt.want {
			t.Errorf("Float3(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
