package load

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// relErr is the largest relative error a quantile may carry: one bucket
// width, at most 1/subBuckets of the bucket's lower bound.
const relErr = 1.0 / subBuckets

func TestHistogramQuantiles(t *testing.T) {
	uniform := func(n int, unit time.Duration) []time.Duration {
		vs := make([]time.Duration, n)
		for i := range vs {
			vs[i] = time.Duration(i+1) * unit
		}
		// Order must not matter.
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
		return vs
	}
	bimodal := func() []time.Duration {
		var vs []time.Duration
		for range 9900 {
			vs = append(vs, 100*time.Microsecond)
		}
		for range 100 {
			vs = append(vs, 10*time.Millisecond)
		}
		return vs
	}()

	tests := []struct {
		name   string
		values []time.Duration
		// want maps a quantile to the exact value of rank ⌈q·n⌉.
		want map[float64]time.Duration
	}{
		{
			name:   "empty",
			values: nil,
			want:   map[float64]time.Duration{0: 0, 0.5: 0, 0.99: 0, 1: 0},
		},
		{
			name:   "single value is exact",
			values: []time.Duration{1234567},
			want:   map[float64]time.Duration{0: 1234567, 0.5: 1234567, 0.999: 1234567, 1: 1234567},
		},
		{
			name:   "below 256ns every value has its own bucket",
			values: uniform(200, time.Nanosecond),
			want:   map[float64]time.Duration{0: 1, 0.5: 100, 0.9: 180, 0.99: 198, 1: 200},
		},
		{
			name:   "uniform 1µs to 100ms",
			values: uniform(100000, time.Microsecond),
			want: map[float64]time.Duration{
				0:     time.Microsecond,
				0.5:   50 * time.Millisecond,
				0.9:   90 * time.Millisecond,
				0.99:  99 * time.Millisecond,
				0.999: 99900 * time.Microsecond,
				1:     100 * time.Millisecond,
			},
		},
		{
			name:   "one percent slow",
			values: bimodal,
			want: map[float64]time.Duration{
				0.5:   100 * time.Microsecond,
				0.99:  100 * time.Microsecond,
				0.991: 10 * time.Millisecond,
				0.999: 10 * time.Millisecond,
			},
		},
		{
			name:   "hours",
			values: []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour},
			want:   map[float64]time.Duration{0.5: 2 * time.Hour, 1: 3 * time.Hour},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tc.values {
				h.Record(v)
			}
			if got := h.Count(); got != uint64(len(tc.values)) {
				t.Errorf("Count() = %d, want %d", got, len(tc.values))
			}
			for q, want := range tc.want {
				got := h.Quantile(q)
				// Quantiles err on the slow side, by at most one bucket.
				if got < want || float64(got-want) > relErr*float64(want) {
					t.Errorf("Quantile(%v) = %v, want %v (+%.2f%% at most)", q, got, want, 100*relErr)
				}
			}
		})
	}
}

func TestHistogramMinMaxMean(t *testing.T) {
	var h Histogram
	for _, v := range []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond} {
		h.Record(v)
	}
	if h.Min() != time.Millisecond || h.Max() != 3*time.Millisecond || h.Mean() != 2*time.Millisecond {
		t.Errorf("min/max/mean = %v/%v/%v, want 1ms/3ms/2ms", h.Min(), h.Max(), h.Mean())
	}
	h.Record(-time.Second)
	if h.Min() != 0 || h.Count() != 4 {
		t.Errorf("after recording a negative value: min %v count %d, want 0 and 4", h.Min(), h.Count())
	}
}

func TestHistogramMerge(t *testing.T) {
	var all, a, b Histogram
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 10000 {
		v := time.Duration(r.ExpFloat64() * float64(time.Millisecond))
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	var empty Histogram
	a.Merge(&empty)
	a.Merge(&b)
	if a.Count() != all.Count() || a.Min() != all.Min() || a.Max() != all.Max() {
		t.Fatalf("merged count/min/max %d/%v/%v, want %d/%v/%v", a.Count(), a.Min(), a.Max(), all.Count(), all.Min(), all.Max())
	}
	if math.Abs(float64(a.Mean()-all.Mean())) > 1 {
		t.Errorf("merged mean %v, want %v", a.Mean(), all.Mean())
	}
	for _, q := range []float64{0.1, 0.5, 0.9, 0.99, 0.999} {
		if got, want := a.Quantile(q), all.Quantile(q); got != want {
			t.Errorf("merged Quantile(%v) = %v, want %v", q, got, want)
		}
	}
	// Merging into an empty histogram takes the other's min.
	var into Histogram
	into.Merge(&all)
	if into.Min() != all.Min() {
		t.Errorf("merge into empty: min %v, want %v", into.Min(), all.Min())
	}
}

// FuzzBucketBounds checks the bucket layout: every value falls in a bucket
// whose bounds contain it, buckets are contiguous, and none is wider than
// the promised relative error.
func FuzzBucketBounds(f *testing.F) {
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 123456789, 1 << 40, math.MaxInt64 - 1, math.MaxInt64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v uint64) {
		v &= math.MaxInt64 // durations are non-negative int64
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0, %d)", v, i, numBuckets)
		}
		lo, hi := bucketBounds(i)
		if v < lo || v > hi {
			t.Fatalf("bucketOf(%d) = %d with bounds [%d, %d]", v, i, lo, hi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d bounds [%d, %d] map to %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if width := hi - lo + 1; width > 1 && float64(width) > relErr*float64(lo) {
			t.Fatalf("bucket %d [%d, %d] is wider than 1/%d of its lower bound", i, lo, hi, subBuckets)
		}
		if hi < math.MaxInt64 && bucketOf(hi+1) != i+1 {
			t.Fatalf("bucketOf(%d) = %d, want the next bucket %d", hi+1, bucketOf(hi+1), i+1)
		}
	})
}
