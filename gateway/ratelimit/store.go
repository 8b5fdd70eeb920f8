// Package ratelimit counts requests in time windows for the rate-limiting
// plugin. It owns the window arithmetic and the counter store interface; the
// local store keeps counters in memory, the cluster store (Cassandra) syncs
// them in the background. No implementation may do I/O on the request path.
package ratelimit

import (
	"context"
	"errors"
	"time"
)

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

// Shared is a Store whose windows are shared by every node of a cluster:
// the rate-limiting plugin's "cluster" policy. Add and Get count this node's
// hits and report the cluster-wide total as last synced plus this node's
// hits since. Counts are synced in the background; Add, Get and Budget never
// do I/O.
type Shared interface {
	Store
	// Budget returns how many more hits this node may admit now for key in
	// the window of w containing now, when the whole cluster may admit limit
	// hits in it. Nodes split what remains of limit in proportion to their
	// recent rates, so that together they stay close to limit between
	// syncs.
	Budget(key string, w Window, now time.Time, limit int64) (int64, error)
	// TakeExact counts one hit for key against limit synchronously with the
	// cluster (one compare-and-set per call): admitted says whether it
	// fitted; total is the window's total after the call. This is I/O on the
	// request path, for low quotas configured to be exact.
	TakeExact(ctx context.Context, key string, w Window, now time.Time, limit int64) (total int64, admitted bool, err error)
}

// ErrUnsynced is returned (wrapped) by a Shared store whose counters could
// not be synced with the cluster recently: the value returned with it is
// this node's local answer, which a fault-tolerant caller may use.
var ErrUnsynced = errors.New("ratelimit: cluster counters unreachable, counting locally")
