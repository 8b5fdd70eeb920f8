package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/ratelimit"
)

// clock is a settable clock shared by the simulated nodes.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// schedule is how the simulated nodes run their rounds.
type schedule int

const (
	// aligned: every node writes at each multiple of the interval and
	// reads PullDelay later, as the loop does with clocks that agree.
	aligned schedule = iota
	// staggered: node i runs a whole round (write then read) at i/n of
	// the interval: the worst case of clocks that disagree, or of writes
	// slower than PullDelay.
	staggered
)

// simulation drives several nodes that share one limit of one key, with
// requests evenly spaced in time at each node's rate, and explicit rounds.
type simulation struct {
	nodes    []*Store
	rates    []float64 // requests per second per node
	limit    int64
	w        ratelimit.Window
	interval time.Duration
	delay    time.Duration
	schedule schedule
	sliding  bool // admit against the sliding-window estimate
	// rateAt, when set, gives node i's rate at a time since the start
	// instead of rates.
	rateAt func(i int, since time.Duration) float64
}

// simResult is what one simulated run admitted.
type simResult struct {
	admitted []int64 // per window, in order
	// maxSliding is the highest sliding-window count (current window plus
	// the previous one weighted) of what was admitted, over every
	// admission.
	maxSliding   float64
	maxSlidingAt time.Duration
	requests     int64
	ops          int64
	syncErrs     int64
}

// run simulates from start for the given windows and returns what was
// admitted in each (the first is cold: no node has seen the key).
func (sim *simulation) run(t *testing.T, clk *clock, start time.Time, windows int) simResult {
	t.Helper()
	ctx := context.Background()
	const step = time.Millisecond
	_, end := ratelimit.Start(sim.w, start)
	for range windows - 1 {
		_, end = ratelimit.Start(sim.w, end)
	}
	var res simResult
	perWindow := map[int64]int64{}
	var order []int64
	due := make([]float64, len(sim.nodes))
	opsBefore := int64(0)
	for _, n := range sim.nodes {
		opsBefore += n.Stats().Ops
	}
	n := len(sim.nodes)
	for now := start; now.Before(end); now = now.Add(step) {
		clk.Set(now)
		off := now.Sub(start) % sim.interval
		switch sim.schedule {
		case aligned:
			if off == 0 {
				for _, s := range sim.nodes {
					if err := s.Flush(ctx); err != nil {
						res.syncErrs++
					}
				}
			}
			if off == sim.delay {
				for _, s := range sim.nodes {
					if err := s.Pull(ctx); err != nil {
						res.syncErrs++
					}
				}
			}
		case staggered:
			for i, s := range sim.nodes {
				if off == (time.Duration(i) * sim.interval / time.Duration(n)).Truncate(step) {
					if err := s.Sync(ctx); err != nil {
						res.syncErrs++
					}
				}
			}
		}
		for i, s := range sim.nodes {
			rate := 0.0
			if sim.rateAt != nil {
				rate = sim.rateAt(i, now.Sub(start))
			} else {
				rate = sim.rates[i]
			}
			due[i] += rate * step.Seconds()
			for due[i] >= 1 {
				due[i]--
				res.requests++
				if sim.admit(t, s, now) {
					ws, _ := ratelimit.Start(sim.w, now)
					if _, ok := perWindow[ws.UnixNano()]; !ok {
						order = append(order, ws.UnixNano())
					}
					perWindow[ws.UnixNano()]++
					_, we := ratelimit.Start(sim.w, now)
					prevStart, _ := ratelimit.Start(sim.w, ws.Add(-time.Nanosecond))
					frac := float64(now.Sub(ws)) / float64(we.Sub(ws))
					est := float64(perWindow[ws.UnixNano()]) + float64(perWindow[prevStart.UnixNano()])*(1-frac)
					if est > res.maxSliding {
						res.maxSliding, res.maxSlidingAt = est, now.Sub(start)
					}
				}
			}
		}
	}
	for _, ws := range order {
		res.admitted = append(res.admitted, perWindow[ws])
	}
	for _, s := range sim.nodes {
		res.ops += s.Stats().Ops
	}
	res.ops -= opsBefore
	return res
}

// admit is the rate-limiting plugin's decision for one request.
func (sim *simulation) admit(t *testing.T, s *Store, now time.Time) bool {
	limit := sim.limit
	if sim.sliding {
		ws, we := ratelimit.Start(sim.w, now)
		prev, err := s.Get("k", sim.w, ws.Add(-time.Nanosecond))
		if err != nil {
			t.Fatalf("Get previous: %v", err)
		}
		frac := float64(now.Sub(ws)) / float64(we.Sub(ws))
		limit = int64(float64(sim.limit) - float64(prev)*(1-frac) + 0.999999)
	}
	b, err := s.Budget("k", sim.w, now, limit)
	if err != nil {
		t.Fatalf("Budget: %v", err)
	}
	if b < 1 {
		return false
	}
	if _, err := s.Add("k", sim.w, now, 1); err != nil {
		t.Fatalf("Add: %v", err)
	}
	return true
}

// memNodes returns n manual nodes over one memDB.
func memNodes(t *testing.T, db *memDB, clk *clock, n int, interval time.Duration) []*Store {
	var nodes []*Store
	for i := range n {
		s := newStore(Options{
			NodeID: fmt.Sprintf("node%d", i+1), Manual: true, Now: clk.Now,
			SyncInterval: interval, LiveNodes: func() int { return n },
		}, db)
		t.Cleanup(func() { s.Close() })
		nodes = append(nodes, s)
	}
	return nodes
}
