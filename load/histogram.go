package load

import (
	"math"
	"math/bits"
	"time"
)

// Histogram layout: log-linear buckets in the manner of HdrHistogram. Values
// below 2·subBuckets nanoseconds each get a bucket of their own; above that,
// every power-of-two range [2^k, 2^(k+1)) is split into subBuckets equal
// buckets, so a bucket's width is at most 1/subBuckets of its lower bound and
// a reported quantile is within 1/128 (0.8 %) of the recorded value, from
// nanoseconds up to the largest time.Duration.
const (
	subBucketBits = 7
	subBuckets    = 1 << subBucketBits // 128
	// shiftRanges is the number of power-of-two ranges above the linear
	// start: a 63-bit value shifted right by up to 63-(subBucketBits+1).
	shiftRanges = 63 - subBucketBits
	numBuckets  = (shiftRanges + 1) * subBuckets
)

// Histogram records durations with a bounded relative error and answers
// quantile queries. The zero value is empty and ready to use. It is not safe
// for concurrent use: give each goroutine its own and Merge them.
type Histogram struct {
	counts [numBuckets]uint64
	count  uint64
	sum    float64 // nanoseconds; float so that a long run cannot overflow
	min    time.Duration
	max    time.Duration
}

// bucketOf returns the index of the bucket holding v (v ≥ 0).
func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	// shift keeps the top subBucketBits+1 bits of v, so v>>shift lies in
	// [subBuckets, 2·subBuckets).
	shift := bits.Len64(v) - (subBucketBits + 1)
	return shift*subBuckets + int(v>>uint(shift))
}

// bucketBounds returns the smallest and largest value that bucketOf maps to
// index i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < 2*subBuckets {
		return uint64(i), uint64(i)
	}
	shift := i/subBuckets - 1
	q := uint64(i%subBuckets + subBuckets)
	lo = q << uint(shift)
	hi = lo + (uint64(1) << uint(shift)) - 1
	return lo, hi
}

// Record adds one observation. Negative durations, which a clock step could
// produce, are recorded as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.count == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.count++
	h.sum += float64(d)
}

// Merge adds every observation of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.count == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.count == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.count += o.count
	h.sum += o.sum
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.count }

// Min returns the smallest observation, exactly; zero when empty.
func (h *Histogram) Min() time.Duration { return h.min }

// Max returns the largest observation, exactly; zero when empty.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean returns the arithmetic mean; zero when empty.
func (h *Histogram) Mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.count))
}

// Quantile returns the value below or at which a fraction q (0 ≤ q ≤ 1) of
// the observations lie: the observation of rank ⌈q·count⌉, reported as the
// upper bound of its bucket (never above Max and never below Min), so that
// the answer errs on the slow side, as HdrHistogram's does. It returns zero
// when the histogram is empty; q outside [0, 1] is clamped.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.count == 0 {
		return 0
	}
	if q <= 0 || math.IsNaN(q) {
		return h.min
	}
	if q >= 1 {
		return h.max
	}
	// The small subtraction keeps float error in q·count (0.07·100 is
	// 7.000…01) from moving the rank up by one.
	rank := uint64(math.Ceil(q*float64(h.count) - 1e-9))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketBounds(i)
			v := time.Duration(hi)
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}
