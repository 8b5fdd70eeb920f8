package query

import "time"

// fill returns the series of a normalized q from the buckets that have
// records, keyed by their start in Unix seconds: one point per bucket from
// q.From to q.To, zeros where got has none, error rates computed. Keys
// outside the range are ignored.
func fill(q SeriesQuery, got map[int64]Metrics) Series {
	s := Series{From: q.From, To: q.To, Bucket: q.Bucket}
	n := int(q.To.Sub(q.From) / q.Bucket)
	s.Points = make([]Point, 0, n)
	for t := q.From; t.Before(q.To); t = t.Add(q.Bucket) {
		m := got[t.Unix()]
		m.Finish()
		s.Points = append(s.Points, Point{Start: t, Metrics: m})
	}
	return s
}

// Finish computes the fields derived from the counters (ErrorRate).
func (m *Metrics) Finish() {
	m.ErrorRate = ErrorRate(m.Requests, m.Errors4xx+m.Errors5xx)
}

// Totals adds up the counters of points (percentiles are not additive and
// stay zero).
func Totals(ms ...Metrics) Metrics {
	var t Metrics
	for _, m := range ms {
		t.Requests += m.Requests
		t.Errors4xx += m.Errors4xx
		t.Errors5xx += m.Errors5xx
		t.BytesIn += m.BytesIn
		t.BytesOut += m.BytesOut
	}
	t.Finish()
	return t
}

// Seconds returns d in whole seconds, as stores bind bucket sizes.
func Seconds(d time.Duration) int64 { return int64(d / time.Second) }
