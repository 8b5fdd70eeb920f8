package cluster

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/tollgate/tollgate/gateway/ratelimit"
	"github.com/tollgate/tollgate/gateway/ratelimit/storetest"
	"github.com/tollgate/tollgate/internal/cassandra"
	"github.com/tollgate/tollgate/internal/cqlserver"
	"github.com/tollgate/tollgate/internal/cqlserver/cqlservertest"
)

// keyspace creates a keyspace of its own with the schema's tables on the
// server at addr and returns the settings of sessions in it.
func keyspace(t *testing.T, addr string) cassandra.Config {
	t.Helper()
	cfg := cassandra.DefaultConfig()
	cfg.Hosts = []string{addr}
	cfg.Consistency = "ONE"
	cfg.Keyspace = ""
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := cassandra.Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	cfg.Keyspace = cqlservertest.Keyspace(t)
	if err := admin.Query(`CREATE KEYSPACE IF NOT EXISTS ` + cfg.Keyspace +
		` WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`).Exec(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := cassandra.Connect(context.Background(), cassandra.Config{Hosts: cfg.Hosts}); err == nil {
			s.Query(`DROP KEYSPACE IF EXISTS ` + cfg.Keyspace).Exec()
			s.Close()
		}
	})
	sess := connect(t, cfg)
	src, err := os.ReadFile("../../../schema/cassandra/001_init.cql")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(src), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if err := sess.Query(stmt).Exec(); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return cfg
}

func connect(t *testing.T, cfg cassandra.Config) *gocql.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := cassandra.Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func sessionOf(s *gocql.Session) func() (*gocql.Session, error) {
	return func() (*gocql.Session, error) { return s, nil }
}

func TestCassandraConformance(t *testing.T) {
	addr, _ := cqlservertest.Start(t)
	cfg := keyspace(t, addr)
	sess := connect(t, cfg)
	storetest.Run(t, func(t *testing.T) ratelimit.Store {
		// The loop runs against the server while the suite counts.
		s := New(Options{Session: sessionOf(sess), NodeID: "n1", SyncInterval: 10 * time.Millisecond})
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}

// cqlNodes returns n manual nodes, each with a session of its own, whose
// clocks agree and which read simDelay after they write.
func cqlNodes(t *testing.T, cfg cassandra.Config, clk *clock, n int) []*simNode {
	var nodes []*simNode
	for i := range n {
		sess := connect(t, cfg)
		s := New(Options{
			Session: sessionOf(sess), NodeID: "node" + string(rune('1'+i)), Manual: true, Now: clk.Now,
			LiveNodes: func() int { return n },
		})
		t.Cleanup(func() { s.Close() })
		nodes = append(nodes, &simNode{s: s, pullDelay: simDelay})
	}
	return nodes
}

func TestCassandraAccuracy(t *testing.T) {
	addr, srv := cqlservertest.Start(t)
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		limit int64
		rates []float64
		max   float64
	}{
		{"even N=100", 100, []float64{1667, 1667, 1667}, 1.01},
		{"even N=1000", 1000, []float64{1667, 1667, 1667}, 1.01},
		{"one node N=1000", 1000, []float64{5000, 0, 0}, 1.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := keyspace(t, addr) // rows of one run must not count in the next
			clk := &clock{t: start}
			sim := &simulation{
				nodes: cqlNodes(t, cfg, clk, 3), rates: tt.rates, limit: tt.limit, w: ratelimit.Minute,
				interval: simInterval,
			}
			var before cqlserver.Stats
			if srv != nil {
				before = srv.Stats()
			}
			res := sim.run(t, clk, nil, start, 3)
			t.Logf("admitted per window %v of N=%d; %d requests, %.5f Cassandra requests per request",
				res.admitted, tt.limit, res.requests, float64(res.ops)/float64(res.requests))
			if srv != nil {
				// The stores' statements all have bound values, so gocql
				// prepares them and sends EXECUTE or BATCH frames; its own
				// control queries are plain QUERY frames.
				after := srv.Stats()
				seen := after.Executes + after.Batches - before.Executes - before.Batches
				if seen != res.ops {
					t.Errorf("stores counted %d Cassandra requests, the server saw %d", res.ops, seen)
				}
			}
			if res.syncErrs > 0 {
				t.Errorf("%d sync errors", res.syncErrs)
			}
			for i, a := range res.admitted {
				if a < tt.limit || float64(a) > tt.max*float64(tt.limit) {
					t.Errorf("window %d admitted %d, want %d … %.0f", i, a, tt.limit, tt.max*float64(tt.limit))
				}
			}
			if per := float64(res.ops) / float64(res.requests); per > 0.01 {
				t.Errorf("%.5f Cassandra requests per request", per)
			}
		})
	}
}

func TestCassandraDegradedAndRecovery(t *testing.T) {
	addr, srv := cqlservertest.Start(t)
	if srv == nil {
		t.Skip("needs the in-process server to stop it")
	}
	cfg := keyspace(t, addr)
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	nodes := stores(cqlNodes(t, cfg, clk, 2))
	ctx := context.Background()
	for range 5 {
		nodes[1].Add("k", ratelimit.Minute, start, 1)
	}
	nodes[0].Get("k", ratelimit.Minute, start)
	must(t, nodes[1].Sync(ctx))
	must(t, nodes[0].Sync(ctx))
	if n, err := nodes[0].Get("k", ratelimit.Minute, start); err != nil || n != 5 {
		t.Fatalf("Get = %d, %v; want 5 from the other node", n, err)
	}

	srv.Stop()
	for i := 1; i <= 4; i++ {
		clk.Set(start.Add(time.Duration(i) * 100 * time.Millisecond))
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		nodes[0].Add("k", ratelimit.Minute, clk.Now(), 1)
		_ = nodes[0].Sync(sctx)
		cancel()
	}
	b, err := nodes[0].Budget("k", ratelimit.Minute, clk.Now(), 10)
	if !errors.Is(err, ratelimit.ErrUnsynced) || b != 6 {
		t.Fatalf("degraded Budget = %d, %v; want 6 (10 less this node's 4) with ErrUnsynced", b, err)
	}
	if !nodes[0].Stats().Degraded {
		t.Error("not reported degraded")
	}

	if err := srv.Listen(addr); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 5; ; i++ {
		clk.Set(start.Add(time.Duration(i) * 100 * time.Millisecond))
		if err := nodes[0].Sync(ctx); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("no recovery: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // gocql reconnects on its own schedule
	}
	// The other node's session reconnects on its own schedule too.
	for deadline := time.Now().Add(20 * time.Second); ; {
		err := nodes[1].Sync(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("other node: no recovery: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, err := nodes[1].Get("k", ratelimit.Minute, clk.Now()); err != nil || n != 9 {
		t.Fatalf("other node's Get after recovery = %d, %v; want 9", n, err)
	}
	if nodes[0].Stats().Degraded {
		t.Error("still degraded")
	}
}

func TestCassandraTakeExact(t *testing.T) {
	addr, _ := cqlservertest.Start(t)
	cfg := keyspace(t, addr)
	clk := &clock{t: time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)}
	testTakeExact(t, stores(cqlNodes(t, cfg, clk, 3)), clk.Now(), 50)
}

// Rows of many keys go out in batches and every one reaches the other node.
func TestCassandraManyKeys(t *testing.T) {
	addr, _ := cqlservertest.Start(t)
	cfg := keyspace(t, addr)
	start := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	nodes := stores(cqlNodes(t, cfg, clk, 2))
	ctx := context.Background()
	const keys = 2*batchSize + 5
	for i := range keys {
		k := "key" + strconv.Itoa(i)
		nodes[0].Add(k, ratelimit.Hour, start, int64(i+1))
		nodes[1].Get(k, ratelimit.Hour, start)
	}
	before := nodes[0].Stats().Ops
	must(t, nodes[0].Flush(ctx))
	if got := nodes[0].Stats().Ops - before; got != 3 {
		t.Errorf("%d rows written in %d requests, want 3 batches", keys, got)
	}
	must(t, nodes[1].Sync(ctx))
	for i := range keys {
		if n, err := nodes[1].Get("key"+strconv.Itoa(i), ratelimit.Hour, start); err != nil || n != int64(i+1) {
			t.Errorf("key%d on the other node = %d, %v; want %d", i, n, err, i+1)
		}
	}
}
