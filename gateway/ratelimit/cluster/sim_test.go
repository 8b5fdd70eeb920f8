package cluster

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
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

// simNode is one simulated gateway node: a Manual store whose rounds the
// simulation runs as the background loop would, at multiples of the
// interval on the node's own clock (the shared clock plus offset), Pull
// starting pullDelay after Flush returns.
type simNode struct {
	s         *Store
	offset    time.Duration
	pullDelay time.Duration
	// be, when set, is the store's database: each call waits for the
	// simulation to apply it (land) and answer it (ack) at later times.
	// When nil, calls reach the database at once.
	be *simBackend
}

// simMsg is what a node's round goroutine tells the simulation: a database
// call to carry out, or that the round's phase (Flush or Pull) returned.
type simMsg struct {
	done  bool
	write bool
	node  string
	rows  []slotWrite
	key   string
	per   string
	start int64
	reply chan simReply
}

type simReply struct {
	rows []slotRow
	err  error
}

// simBackend hands every call of one store to the simulation.
type simBackend struct {
	db   *memDB
	msgs chan simMsg
	// stop, closed when the test ends, fails the calls the simulation
	// left unanswered (a test that failed half way).
	stop chan struct{}
}

var errSimStopped = errors.New("simulation stopped")

func (b *simBackend) call(m simMsg) simReply {
	m.reply = make(chan simReply)
	select {
	case b.msgs <- m:
	case <-b.stop:
		return simReply{err: errSimStopped}
	}
	select {
	case r := <-m.reply:
		return r
	case <-b.stop:
		return simReply{err: errSimStopped}
	}
}

// done tells the simulation a phase returned.
func (b *simBackend) done() {
	select {
	case b.msgs <- simMsg{done: true}:
	case <-b.stop:
	}
}

func (b *simBackend) writeSlots(_ context.Context, node string, rows []slotWrite) error {
	return b.call(simMsg{write: true, node: node, rows: append([]slotWrite(nil), rows...)}).err
}

func (b *simBackend) readSlots(_ context.Context, key, period string, start int64) ([]slotRow, error) {
	r := b.call(simMsg{key: key, per: period, start: start})
	return r.rows, r.err
}

func (b *simBackend) casQuota(ctx context.Context, key, period string, start int64, used, expect int64, ttl int) (bool, int64, error) {
	return b.db.casQuota(ctx, key, period, start, used, expect, ttl)
}

// simulation drives several nodes that share one limit of one key, with
// requests evenly spaced in time at each node's rate, and explicit rounds.
type simulation struct {
	nodes    []*simNode
	rates    []float64 // requests per second per node
	limit    int64
	w        ratelimit.Window
	interval time.Duration
	sliding  bool // admit against the sliding-window estimate
	// rateAt, when set, gives node i's rate at a time since the start
	// instead of rates.
	rateAt func(i int, since time.Duration) float64
	// latency draws the delays of one database call of nodes with a
	// simBackend: from the call until it takes effect, and from then until
	// the node has the answer.
	latency func() (land, ack time.Duration)
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

// simEvent is something the simulation does at a time: start a node's
// Flush or Pull, apply a database call (land), or answer it (ack).
type simEvent struct {
	at   time.Time
	seq  int
	node int
	kind int
	msg  simMsg
	res  simReply
	ack  time.Duration // for evLand: from landing to the answer
}

const (
	evFlush = iota
	evPull
	evLand
	evAck
)

type eventQueue []*simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simRun is the state of one run of a simulation.
type simRun struct {
	*simulation
	ctx      context.Context
	clk      *clock
	db       *memDB
	q        eventQueue
	seq      int
	stopping bool
	errs     atomic.Int64
}

func (r *simRun) push(e *simEvent) {
	r.seq++
	e.seq = r.seq
	heap.Push(&r.q, e)
}

// nextRound returns when node i, whose phase ended at at, starts its next
// round: the next multiple of the interval on its clock, as the loop does.
func (r *simRun) nextRound(i int, at time.Time) time.Time {
	local := at.Add(r.nodes[i].offset)
	return local.Truncate(r.interval).Add(r.interval).Add(-r.nodes[i].offset)
}

// begin starts node i's Flush or Pull at at.
func (r *simRun) begin(i, kind int, at time.Time) {
	n := r.nodes[i]
	phase := func() {
		var err error
		if kind == evFlush {
			err = n.s.Flush(r.ctx)
		} else {
			err = n.s.Pull(r.ctx)
		}
		if err != nil {
			r.errs.Add(1)
		}
	}
	if n.be == nil {
		phase()
		r.ended(i, kind, at)
		return
	}
	go func() {
		phase()
		n.be.done()
	}()
	r.await(i, kind, at)
}

// await waits until node i's phase asks for a database call, which it
// schedules, or returns.
func (r *simRun) await(i, kind int, at time.Time) {
	m := <-r.nodes[i].be.msgs
	if m.done {
		r.ended(i, kind, at)
		return
	}
	var land, ack time.Duration
	if r.latency != nil {
		land, ack = r.latency()
	}
	r.push(&simEvent{at: at.Add(land), node: i, kind: evLand, msg: m, ack: ack})
}

// ended schedules what follows node i's phase.
func (r *simRun) ended(i, kind int, at time.Time) {
	if r.stopping {
		return
	}
	if kind == evFlush {
		r.push(&simEvent{at: at.Add(r.nodes[i].pullDelay), node: i, kind: evPull})
	} else {
		r.push(&simEvent{at: r.nextRound(i, at), node: i, kind: evFlush})
	}
}

// process carries out one event; phase holds each node's phase begun last.
func (r *simRun) process(e *simEvent, phase []int) {
	r.clk.Set(e.at)
	switch e.kind {
	case evFlush, evPull:
		if r.stopping {
			return
		}
		phase[e.node] = e.kind
		r.begin(e.node, e.kind, e.at)
	case evLand:
		var res simReply
		if e.msg.write {
			res.err = r.db.writeSlots(r.ctx, e.msg.node, e.msg.rows)
		} else {
			res.rows, res.err = r.db.readSlots(r.ctx, e.msg.key, e.msg.per, e.msg.start)
		}
		r.push(&simEvent{at: e.at.Add(e.ack), node: e.node, kind: evAck, msg: e.msg, res: res})
	case evAck:
		e.msg.reply <- e.res
		r.await(e.node, phase[e.node], e.at)
	}
}

// run simulates windows of sim.w from start (the first is cold: no node
// has seen the key) and returns what was admitted in each, by the windows
// of the admitting node's clock. Node clocks run ahead of the shared one by
// their offsets (never behind), so every node covers every window.
func (sim *simulation) run(t *testing.T, clk *clock, db *memDB, start time.Time, windows int) simResult {
	t.Helper()
	const step = time.Millisecond
	_, end := ratelimit.Start(sim.w, start)
	for range windows - 1 {
		_, end = ratelimit.Start(sim.w, end)
	}
	r := &simRun{simulation: sim, ctx: context.Background(), clk: clk, db: db}
	var (
		res    simResult
		phase  = make([]int, len(sim.nodes))
		perWin = map[int64]int64{}
		due    = make([]float64, len(sim.nodes))
		ops0   int64
	)
	for i, n := range sim.nodes {
		ops0 += n.s.Stats().Ops
		local := start.Add(n.offset)
		first := local.Truncate(sim.interval)
		if first.Before(local) {
			first = first.Add(sim.interval)
		}
		r.push(&simEvent{at: first.Add(-n.offset), node: i, kind: evFlush})
	}
	for now := start; now.Before(end); now = now.Add(step) {
		for r.q.Len() > 0 && !r.q[0].at.After(now) {
			r.process(heap.Pop(&r.q).(*simEvent), phase)
		}
		clk.Set(now)
		for i, n := range sim.nodes {
			rate := 0.0
			if sim.rateAt != nil {
				rate = sim.rateAt(i, now.Sub(start))
			} else {
				rate = sim.rates[i]
			}
			due[i] += rate * step.Seconds()
			local := now.Add(n.offset)
			for due[i] >= 1 {
				due[i]--
				res.requests++
				if !sim.admit(t, n.s, local) {
					continue
				}
				ws, we := ratelimit.Start(sim.w, local)
				perWin[ws.UnixNano()]++
				prevStart, _ := ratelimit.Start(sim.w, ws.Add(-time.Nanosecond))
				frac := float64(local.Sub(ws)) / float64(we.Sub(ws))
				est := float64(perWin[ws.UnixNano()]) + float64(perWin[prevStart.UnixNano()])*(1-frac)
				if est > res.maxSliding {
					res.maxSliding, res.maxSlidingAt = est, now.Sub(start)
				}
			}
		}
	}
	// Let the calls in flight finish, so that no goroutine outlives run.
	r.stopping = true
	for r.q.Len() > 0 {
		r.process(heap.Pop(&r.q).(*simEvent), phase)
	}
	res.syncErrs = r.errs.Load()
	ws := start
	for range windows {
		w0, w1 := ratelimit.Start(sim.w, ws)
		res.admitted = append(res.admitted, perWin[w0.UnixNano()])
		ws = w1
	}
	for _, n := range sim.nodes {
		res.ops += n.s.Stats().Ops
	}
	res.ops -= ops0
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

// newNode returns a manual store named node<i+1> on the simulation's clock
// (plus offset), over db directly or, with async, through a simBackend.
func newNode(t *testing.T, db *memDB, clk *clock, i, n int, interval, offset, pullDelay time.Duration, async bool) *simNode {
	sn := &simNode{offset: offset, pullDelay: pullDelay}
	var be backend = db
	if async {
		sn.be = &simBackend{db: db, msgs: make(chan simMsg), stop: make(chan struct{})}
		be = sn.be
	}
	sn.s = newStore(Options{
		NodeID: fmt.Sprintf("node%d", i+1), Manual: true,
		Now:          func() time.Time { return clk.Now().Add(offset) },
		SyncInterval: interval, LiveNodes: func() int { return n },
	}, be)
	sn.s.readers = 1 // one call at a time, so that runs are deterministic
	// Slow rounds must not make the store fall back to local counting,
	// which no bound covers.
	sn.s.unsyncedAfter = int64(time.Hour)
	t.Cleanup(func() {
		if sn.be != nil {
			close(sn.be.stop)
		}
		sn.s.Close() // through a stopped backend: writes nothing
	})
	return sn
}

// alignedNodes are n nodes whose clocks agree, whose calls take no time
// and which read delay after they write: every node's write of a round
// lands before any node's read of it.
func alignedNodes(t *testing.T, db *memDB, clk *clock, n int, interval, delay time.Duration) []*simNode {
	var out []*simNode
	for i := range n {
		out = append(out, newNode(t, db, clk, i, n, interval, 0, delay, false))
	}
	return out
}

// staggeredNodes are n nodes whose rounds (a write then at once a read)
// are spread evenly over the interval: the views of a round differ as
// much as the order of rounds allows.
func staggeredNodes(t *testing.T, db *memDB, clk *clock, n int, interval time.Duration) []*simNode {
	var out []*simNode
	for i := range n {
		out = append(out, newNode(t, db, clk, i, n, interval, time.Duration(i)*interval/time.Duration(n), 0, false))
	}
	return out
}

// skewedNodes are n nodes with random clock offsets within an interval and
// random delays between write and read, whose database calls take random
// times to land and to be answered (see skewLatency): writes of a round
// land after other nodes' reads of it, in any order.
func skewedNodes(t *testing.T, db *memDB, clk *clock, n int, interval time.Duration, rng *rand.Rand) []*simNode {
	var out []*simNode
	for i := range n {
		offset := time.Duration(rng.Int64N(int64(interval)))
		pullDelay := time.Duration(rng.Int64N(int64(interval / 2)))
		out = append(out, newNode(t, db, clk, i, n, interval, offset, pullDelay, true))
	}
	return out
}

// skewLatency draws call latencies: usually up to 20ms to land and as much
// again to be answered, one call in twenty up to 150ms (a GC pause, a slow
// replica), so that a node may read rows a whole round old.
func skewLatency(rng *rand.Rand) func() (time.Duration, time.Duration) {
	draw := func() time.Duration {
		if rng.IntN(20) == 0 {
			return time.Duration(rng.Int64N(int64(150 * time.Millisecond)))
		}
		return time.Duration(rng.Int64N(int64(20 * time.Millisecond)))
	}
	return func() (time.Duration, time.Duration) { return draw(), draw() }
}

// stores returns the nodes' stores.
func stores(nodes []*simNode) []*Store {
	var out []*Store
	for _, n := range nodes {
		out = append(out, n.s)
	}
	return out
}
