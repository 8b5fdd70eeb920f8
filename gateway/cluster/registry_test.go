package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/internal/cassandra"
	"github.com/tollgate/tollgate/internal/cqlserver/cqlservertest"
	cassandramigrate "github.com/tollgate/tollgate/schema/cassandra"
)

// testCluster is a migrated keyspace of the test's own on a fresh CQL
// server (or TOLLGATE_TEST_CASSANDRA), and one session to it.
type testCluster struct {
	cfg     cassandra.Config
	session *gocql.Session
}

func newTestCluster(t *testing.T) *testCluster {
	t.Helper()
	addr, _ := cqlservertest.Start(t)
	return migrated(t, addr)
}

func migrated(t *testing.T, addr string) *testCluster {
	t.Helper()
	cfg := cassandra.DefaultConfig()
	cfg.Hosts = []string{addr}
	cfg.Keyspace = cqlservertest.Keyspace(t)
	cfg.Timeout = 5 * time.Second
	if _, err := cassandramigrate.Up(t.Context(), cfg, cassandramigrate.DefaultReplication(), nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s, err := cassandra.Connect(t.Context(), cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Query("DROP KEYSPACE IF EXISTS " + cfg.Keyspace).Exec()
		s.Close()
	})
	return &testCluster{cfg: cfg, session: s}
}

func (c *testCluster) provider() func() (*gocql.Session, error) {
	return func() (*gocql.Session, error) { return c.session, nil }
}

// node is a registry under test with a config version the test sets.
type node struct {
	*Registry
	version atomic.Uint64
}

func (c *testCluster) startNode(t *testing.T, cluster, id string, configVersion uint64) *node {
	t.Helper()
	n := &node{}
	n.version.Store(configVersion)
	r, err := NewRegistry(RegistryOptions{
		Session: c.provider(),
		Cluster: cluster,
		Node: NodeInfo{
			ID: id, Hostname: "host-" + id, Version: "0.9.0",
			ProxyListen: "0.0.0.0:8000", AdminListen: "127.0.0.1:8001",
		},
		ConfigVersion: n.version.Load,
		Heartbeat:     50 * time.Millisecond,
		TTL:           time.Second,
	})
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	n.Registry = r
	r.Start()
	t.Cleanup(func() { _ = r.Close() })
	return n
}

// eventually polls cond until it returns nil, failing with its last error
// after a generous deadline (never a timing assertion: a slow machine only
// waits longer).
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err = cond(); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", what, err)
}

func ids(nodes []NodeStatus) string {
	out := ""
	for i, n := range nodes {
		if i > 0 {
			out += ","
		}
		out += n.ID
	}
	return out
}

func TestNodesSeeEachOther(t *testing.T) {
	c := newTestCluster(t)
	started := time.Now()
	nodes := []*node{
		c.startNode(t, "default", "n1", 7),
		c.startNode(t, "default", "n2", 7),
		c.startNode(t, "default", "n3", 7),
	}
	other := c.startNode(t, "other", "x1", 1)

	for _, n := range nodes {
		eventually(t, n.Node().ID+" lists the cluster", func() error {
			got, err := n.List(t.Context())
			if err != nil {
				return err
			}
			if ids(got) != "n1,n2,n3" {
				return fmt.Errorf("nodes %s, want n1,n2,n3", ids(got))
			}
			return nil
		})
	}
	got, err := nodes[0].List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range got {
		if n.Hostname != "host-"+n.ID || n.ProxyListen != "0.0.0.0:8000" || n.AdminListen != "127.0.0.1:8001" ||
			n.Version != "0.9.0" || n.ConfigVersion != 7 || n.Lagging {
			t.Errorf("row %+v does not hold what the node heartbeated", n)
		}
		if n.StartedAt.Before(started.Add(-time.Second)) || n.LastSeen.Before(n.StartedAt.Truncate(time.Millisecond)) {
			t.Errorf("%s: started_at %v, last_seen %v", n.ID, n.StartedAt, n.LastSeen)
		}
	}
	if live := nodes[1].LiveNodes(); live != 3 {
		t.Errorf("LiveNodes %d, want 3", live)
	}

	// Another cluster in the same keyspace sees only itself.
	eventually(t, "the other cluster", func() error {
		got, err := other.List(t.Context())
		if err != nil {
			return err
		}
		if ids(got) != "x1" {
			return fmt.Errorf("nodes %s, want x1", ids(got))
		}
		return nil
	})

	st, err := nodes[2].ClusteringStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.ThisNode != "n3" || st.Cluster != "default" || st.LatestConfigVersion != 7 || len(st.Nodes) != 3 ||
		st.Nodes[0].SyncStatus != SyncNormal || st.Nodes[0].LastSeen == 0 {
		t.Errorf("ClusteringStatus %+v", st)
	}
}

// TestStoppedNodeExpires: a node that stops heartbeating leaves the list
// once its row's TTL runs out, with nothing deleted.
func TestStoppedNodeExpires(t *testing.T) {
	c := newTestCluster(t)
	n1 := c.startNode(t, "default", "n1", 1)
	n2 := c.startNode(t, "default", "n2", 1)
	eventually(t, "both listed", func() error {
		got, err := n1.List(t.Context())
		if err != nil {
			return err
		}
		if ids(got) != "n1,n2" {
			return fmt.Errorf("nodes %s", ids(got))
		}
		return nil
	})
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	// Listed until its TTL runs out: right after Close the row is there.
	got, err := n1.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(stopped) < 500*time.Millisecond && ids(got) != "n1,n2" {
		t.Fatalf("n2 vanished before its TTL: %s", ids(got))
	}
	eventually(t, "n2 expires", func() error {
		got, err := n1.List(t.Context())
		if err != nil {
			return err
		}
		if ids(got) != "n1" {
			return fmt.Errorf("nodes %s, want n1 alone", ids(got))
		}
		return nil
	})
	if live := n1.LiveNodes(); live != 1 {
		t.Errorf("LiveNodes %d, want 1", live)
	}
}

// TestLagging: a node whose config version stays below the others' is
// flagged, and unflagged when it catches up.
func TestLagging(t *testing.T) {
	c := newTestCluster(t)
	n1 := c.startNode(t, "default", "n1", 5)
	n2 := c.startNode(t, "default", "n2", 5)
	n3 := c.startNode(t, "default", "n3", 3)

	lagging := func(want string) func() error {
		return func() error {
			st, err := n1.ClusteringStatus(t.Context())
			if err != nil {
				return err
			}
			got := ""
			for _, n := range st.Nodes {
				if n.Lagging != (n.SyncStatus == SyncLagging) {
					return fmt.Errorf("node %s: lagging %v but sync_status %q", n.ID, n.Lagging, n.SyncStatus)
				}
				if n.Lagging {
					got += n.ID
				}
			}
			if len(st.Nodes) != 3 || got != want {
				return fmt.Errorf("%d nodes, lagging %q, want 3 nodes, lagging %q: %+v", len(st.Nodes), got, want, st)
			}
			return nil
		}
	}
	eventually(t, "n3 lagging", lagging("n3"))
	st, err := n1.ClusteringStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.LatestConfigVersion != 5 {
		t.Errorf("latest_config_version %d, want 5", st.LatestConfigVersion)
	}

	n3.version.Store(5)
	eventually(t, "n3 caught up", lagging(""))

	// A new version on n1 alone: the others are flagged only once they
	// have stayed behind for the grace period, and not at all if they
	// catch up; here they never do.
	n1.version.Store(9)
	eventually(t, "n2 and n3 lagging", lagging("n2n3"))
	n2.version.Store(9)
	n3.version.Store(9)
	eventually(t, "all caught up", lagging(""))
}

// TestStartWhileCassandraDown: a node started while Cassandra is down
// joins the registry when it comes back, through a lazily opened session.
func TestStartWhileCassandraDown(t *testing.T) {
	addr, srv := cqlservertest.Start(t)
	if srv == nil {
		t.Skip("needs the in-memory CQL server to stop and restart Cassandra")
	}
	c := migrated(t, addr)
	srv.Stop()

	lazy := cassandra.NewLazy(c.cfg, 20*time.Millisecond)
	t.Cleanup(func() { _ = lazy.Close() })
	r, err := NewRegistry(RegistryOptions{
		Session:   lazy.Session,
		Node:      NodeInfo{ID: "late"},
		Heartbeat: 50 * time.Millisecond,
		TTL:       time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(func() { _ = r.Close() })
	if _, err := r.List(t.Context()); err == nil {
		t.Fatal("List succeeded with Cassandra down")
	}

	if err := srv.Listen(addr); err != nil {
		t.Fatalf("restart CQL server: %v", err)
	}
	eventually(t, "late node registered", func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		got, err := r.List(ctx)
		if err != nil {
			return err
		}
		if ids(got) != "late" {
			return fmt.Errorf("nodes %q", ids(got))
		}
		// The row is visible as soon as Cassandra applies it; the node
		// records the time when the write's answer arrives, a moment later.
		if r.LastHeartbeat().IsZero() {
			return errors.New("LastHeartbeat zero after a listed heartbeat")
		}
		return nil
	})
}
