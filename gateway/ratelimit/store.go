// Package ratelimit counts requests in time windows for the rate-limiting
// plugin. It owns the window arithmetic and the counter store interface; the
// local store keeps counters in memory, the cluster store (Cassandra) syncs
// them in the background. No implementation may do I/O on the request path.
package ratelimit

import "time"

// Window is a fixed rate-limit period.
type Window string

// The windows Kong's rate-limiting plugin offers.
const (
	Second Window = "second"
	Minute Window = "minute"
	Hour   Window = "hour"
	Day    Window = "day"
	Month  Window = "month"
	Year   Window = "year"
)

// Store keeps counters of hits per key and window. Implementations are safe
// for concurrent use and never block on the network.
type Store interface {
	// Add counts n hits for key in the window of w containing now, and
	// returns the total of that window including them.
	Add(key string, w Window, now time.Time, n int64) (int64, error)
	// Get returns the current total without counting.
	Get(key string, w Window, now time.Time) (int64, error)
}

// Start returns the start of the window of w containing t (UTC; months are
// calendar months), and its end.
func Start(w Window, t time.Time) (start, end time.Time) {
	t = t.UTC()
	switch w {
	case Second:
		start = t.Truncate(time.Second)
		return start, start.Add(time.Second)
	case Minute:
		start = t.Truncate(time.Minute)
		return start, start.Add(time.Minute)
	case Hour:
		start = t.Truncate(time.Hour)
		return start, start.Add(time.Hour)
	case Day:
		start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1)
	case Month:
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	case Year:
		start = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(1, 0, 0)
	}
	return t, t
}
