package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/ratelimit"
	"github.com/tollgate/tollgate/gateway/ratelimit/storetest"
)

func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ratelimit.Store {
		clk := &clock{t: time.Now()}
		s := newStore(Options{NodeID: "n1", Manual: true, Now: clk.Now}, newMemDB())
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestDegradedAndRecovery(t *testing.T) {
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	db := newMemDB()
	var mu sync.Mutex
	var gauge []bool
	locals := 0
	s := newStore(Options{
		NodeID: "n1", Manual: true, Now: clk.Now, LiveNodes: func() int { return 1 },
		Metrics: Metrics{
			Degraded:      func(d bool) { mu.Lock(); gauge = append(gauge, d); mu.Unlock() },
			LocalDecision: func() { mu.Lock(); locals++; mu.Unlock() },
		},
	}, db)
	defer s.Close()
	// Another node has counted 7 hits of the limit of 10.
	other := newStore(Options{NodeID: "n2", Manual: true, Now: clk.Now}, db)
	defer other.Close()
	ctx := context.Background()
	for range 7 {
		other.Add("k", ratelimit.Minute, start, 1)
	}
	for range 100 {
		s.Budget("k", ratelimit.Minute, start, 10) // this node's demand dominates
	}
	must(t, other.Sync(ctx))
	must(t, s.Sync(ctx))
	if b, err := s.Budget("k", ratelimit.Minute, start, 10); err != nil || b != 3 {
		t.Fatalf("synced Budget = %d, %v; want 3", b, err)
	}

	db.setDown(true)
	for i := 1; i <= 3; i++ {
		clk.Set(start.Add(time.Duration(i) * 100 * time.Millisecond))
		if err := s.Sync(ctx); err == nil {
			t.Fatal("Sync succeeded with the database down")
		}
	}
	// Three intervals without a sync: still trusted.
	if _, err := s.Budget("k", ratelimit.Minute, clk.Now(), 10); err != nil {
		t.Fatalf("Budget after 3 failed intervals: %v", err)
	}
	clk.Set(start.Add(301 * time.Millisecond))
	must(t, errorsIsNot(s.Sync(ctx)))
	b, err := s.Budget("k", ratelimit.Minute, clk.Now(), 10)
	if !errors.Is(err, ratelimit.ErrUnsynced) || b != 10 {
		t.Fatalf("degraded Budget = %d, %v; want the local answer 10 with ErrUnsynced", b, err)
	}
	if n, err := s.Add("k", ratelimit.Minute, clk.Now(), 2); !errors.Is(err, ratelimit.ErrUnsynced) || n != 2 {
		t.Fatalf("degraded Add = %d, %v; want 2 (local) with ErrUnsynced", n, err)
	}
	if n, err := s.Get("k", ratelimit.Minute, clk.Now()); !errors.Is(err, ratelimit.ErrUnsynced) || n != 2 {
		t.Fatalf("degraded Get = %d, %v; want 2", n, err)
	}
	if st := s.Stats(); !st.Degraded || st.LocalDecisions != 1 {
		t.Errorf("stats %+v, want degraded with 1 local decision", st)
	}

	db.setDown(false)
	clk.Set(start.Add(400 * time.Millisecond))
	must(t, s.Sync(ctx))
	if n, err := s.Get("k", ratelimit.Minute, clk.Now()); err != nil || n != 9 {
		t.Fatalf("recovered Get = %d, %v; want 9 (7 + 2)", n, err)
	}
	if st := s.Stats(); st.Degraded {
		t.Errorf("still degraded after a good sync: %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(gauge) != "[true false]" || locals != 1 {
		t.Errorf("degraded gauge %v, local decisions %d", gauge, locals)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// errorsIsNot turns an expected sync failure into nil and an unexpected
// success into an error.
func errorsIsNot(err error) error {
	if err == nil {
		return errors.New("sync succeeded with the database down")
	}
	return nil
}

func TestCloseIsIdempotentAndPublishesZeroRate(t *testing.T) {
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	db := newMemDB()
	s := newStore(Options{NodeID: "n1", Manual: true, Now: clk.Now}, db)
	s.Budget("k", ratelimit.Minute, start, 10)
	s.Add("k", ratelimit.Minute, start, 4)
	must(t, s.Sync(context.Background()))
	must(t, s.Close())
	must(t, s.Close())
	rows, _ := db.readSlots(context.Background(), "k", "minute", start.UnixMilli())
	if len(rows) != 1 || rows[0].hits != 4 || rows[0].rate != 0 {
		t.Errorf("rows after Close = %+v, want 4 hits at rate 0", rows)
	}
}

func TestLoopSyncsInBackground(t *testing.T) {
	db := newMemDB()
	s := newStore(Options{NodeID: "n1", SyncInterval: 5 * time.Millisecond}, db)
	defer s.Close()
	s.Add("k", ratelimit.Minute, time.Now(), 3)
	deadline := time.Now().Add(10 * time.Second)
	for {
		db.mu.Lock()
		n := len(db.slots)
		db.mu.Unlock()
		if n > 0 && s.Stats().Syncs > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the loop wrote nothing in 10s")
		}
		time.Sleep(time.Millisecond)
	}
	if st := s.Stats(); st.Syncs == 0 || st.Ops == 0 {
		t.Errorf("stats %+v", st)
	}
}

// Three nodes with several takers each admit exactly the limit.
func TestTakeExactConcurrent(t *testing.T) {
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	db := newMemDB()
	nodes := stores(alignedNodes(t, db, clk, 3, simInterval, simDelay))
	testTakeExact(t, nodes, start, 100)
}

func testTakeExact(t *testing.T, nodes []*Store, now time.Time, limit int64) {
	t.Helper()
	const takers, each = 4, 60
	var (
		mu       sync.Mutex
		admitted int64
		totals   = map[int64]bool{}
		wg       sync.WaitGroup
	)
	for _, n := range nodes {
		for range takers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					total, ok, err := n.TakeExact(context.Background(), "quota", ratelimit.Day, now, limit)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						mu.Lock()
						admitted++
						if totals[total] {
							t.Errorf("total %d admitted twice", total)
						}
						totals[total] = true
						mu.Unlock()
					}
				}
			}()
		}
	}
	wg.Wait()
	if admitted != limit {
		t.Errorf("admitted %d of %d attempts, want exactly %d", admitted, len(nodes)*takers*each, limit)
	}
}

func TestTakeExactFallsBackLocally(t *testing.T) {
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	db := newMemDB()
	db.setDown(true)
	s := newStore(Options{NodeID: "n1", Manual: true}, db)
	defer s.Close()
	for i, want := range []bool{true, true, false} {
		total, ok, err := s.TakeExact(context.Background(), "q", ratelimit.Month, start, 2)
		if !errors.Is(err, ratelimit.ErrUnsynced) || ok != want || total != min(int64(i+1), 2) {
			t.Fatalf("take %d = %d, %v, %v", i, total, ok, err)
		}
	}
}

// Cassandra requests per request at 1,667 requests per second per node on
// three nodes with a 100ms interval, when the limit is never reached (every
// round writes and reads) and when it is.
func TestOpsPerRequest(t *testing.T) {
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	for _, limit := range []int64{1000, 1 << 40} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			clk := &clock{t: start}
			db := newMemDB()
			sim := &simulation{
				nodes: alignedNodes(t, db, clk, 3, simInterval, simDelay),
				rates: []float64{1667, 1667, 1667}, limit: limit, w: ratelimit.Minute,
				interval: simInterval,
			}
			res := sim.run(t, clk, db, start, 2)
			perRequest := float64(res.ops) / float64(res.requests)
			t.Logf("%d Cassandra requests for %d requests: %.5f each", res.ops, res.requests, perRequest)
			db.mu.Lock()
			calls := db.calls
			db.mu.Unlock()
			if int64(calls) != res.ops {
				t.Errorf("stores counted %d Cassandra requests, the database saw %d", res.ops, calls)
			}
			if perRequest > 0.01 {
				t.Errorf("%.5f Cassandra requests per request, want at most 0.01", perRequest)
			}
		})
	}
}

// A key far from its limit is not refused while a node waits for its
// claim to grow: neither a key the node has never seen nor one it serves
// again after an idle spell. (Refusing them would answer 429 with a limit
// of a billion unused.)
func TestNoRefusalFarFromTheLimit(t *testing.T) {
	start := time.Date(2024, 7, 1, 10, 0, 30, 0, time.UTC)
	clk := &clock{t: start}
	db := newMemDB()
	nodes := stores(alignedNodes(t, db, clk, 3, simInterval, simDelay))
	ctx := context.Background()
	const limit = 1_000_000_000
	round := func() {
		for _, n := range nodes {
			must(t, n.Flush(ctx))
		}
		for _, n := range nodes {
			must(t, n.Pull(ctx))
		}
		clk.Set(clk.Now().Add(simInterval))
	}
	// admit takes up to want hits on node 0 now and returns how many it
	// admitted.
	admit := func(want int) int {
		got := 0
		for range want {
			b, err := nodes[0].Budget("k", ratelimit.Minute, clk.Now(), limit)
			if err != nil {
				t.Fatal(err)
			}
			if b <= 0 {
				break
			}
			nodes[0].Add("k", ratelimit.Minute, clk.Now(), 1)
			got++
		}
		return got
	}
	// A new key, 2,000 requests before the first round: all admitted.
	if got := admit(2000); got != 2000 {
		t.Fatalf("new key: admitted %d of 2000 before the first round, far from a limit of %d", got, limit)
	}
	for range 5 {
		round()
		admit(1000)
	}
	// Idle for longer than IdleAfter (rounds go on), then busy again.
	for range 120 {
		round()
	}
	if got := admit(2000); got != 2000 {
		t.Errorf("after an idle spell: admitted %d of 2000 before the next round, far from a limit of %d", got, limit)
	}
}
