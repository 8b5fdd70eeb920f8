package cluster

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/ratelimit"
)

// BenchmarkBudgetAdd is the request path of the cluster policy: a budget
// and a count for one of 1,000 keys, with a synced view of three nodes.
func BenchmarkBudgetAdd(b *testing.B) {
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	db := newMemDB()
	var nodes []*Store
	for i := range 3 {
		s := newStore(Options{NodeID: "n" + strconv.Itoa(i), Manual: true, Now: clk.Now}, db)
		defer s.Close()
		nodes = append(nodes, s)
	}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "plugin:consumer-" + strconv.Itoa(i)
		for _, s := range nodes {
			s.Budget(keys[i], ratelimit.Minute, start, 1<<30)
		}
	}
	for _, s := range nodes {
		s.Flush(context.Background())
	}
	for _, s := range nodes {
		s.Pull(context.Background())
	}
	s := nodes[0]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := keys[i%len(keys)]
		if n, _ := s.Budget(k, ratelimit.Minute, start, 1<<30); n > 0 {
			s.Add(k, ratelimit.Minute, start, 1)
		}
	}
}
