package cassandra

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/storetest"
	icass "github.com/tollgate/tollgate/internal/cassandra"
	"github.com/tollgate/tollgate/internal/cqlserver"
	"github.com/tollgate/tollgate/internal/cqlserver/cqlservertest"
	"github.com/tollgate/tollgate/internal/entity"
	"github.com/tollgate/tollgate/internal/lockedbuffer"
	cassandramigrate "github.com/tollgate/tollgate/schema/cassandra"
)

// cluster is a CQL server (or a real Cassandra, TOLLGATE_TEST_CASSANDRA)
// that tests make keyspaces in.
type cluster struct {
	addr string
	srv  *cqlserver.Server // nil against a real Cassandra
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	addr, srv := cqlservertest.Start(t)
	return &cluster{addr: addr, srv: srv}
}

// keyspace creates a fresh keyspace with the schema and returns the
// settings that reach it.
func (c *cluster) keyspace(t *testing.T) icass.Config {
	t.Helper()
	cfg := icass.DefaultConfig()
	cfg.Hosts = []string{c.addr}
	cfg.Keyspace = cqlservertest.Keyspace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cassandramigrate.Up(ctx, cfg, cassandramigrate.DefaultReplication(), nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if c.srv == nil {
		t.Cleanup(func() {
			noKS := cfg
			noKS.Keyspace = ""
			s, err := icass.Connect(context.Background(), noKS)
			if err != nil {
				t.Logf("drop keyspace %s: %v", cfg.Keyspace, err)
				return
			}
			defer s.Close()
			if err := s.Query("DROP KEYSPACE IF EXISTS " + cfg.Keyspace).Exec(); err != nil {
				t.Logf("drop keyspace %s: %v", cfg.Keyspace, err)
			}
		})
	}
	return cfg
}

// session opens a raw session on the keyspace, for what tests do behind
// the stores' backs.
func session(t *testing.T, cfg icass.Config) *gocql.Session {
	t.Helper()
	s, err := icass.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// textLogger is a logger writing to w.
func textLogger(w *lockedbuffer.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// node opens a store on cfg; it is closed when the test ends.
func node(t *testing.T, cfg icass.Config, opts Options) *Store {
	t.Helper()
	opts.Cassandra = cfg
	if opts.NodeID == "" {
		opts.NodeID = t.Name()
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// eventually polls cond; the deadline only bounds a broken store.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func receive(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(15 * time.Second):
		t.Fatalf("no change signal: %s", what)
	}
}

var ctx = context.Background()

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func service(name string) *entity.Service {
	return svc(newID(), entity.DefaultWorkspace, name)
}

// contents is a snapshot as comparable strings.
func contents(t *testing.T, s store.Store) (uint64, []string) {
	t.Helper()
	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range snap.Entities {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s/%s/%s", e.Kind(), e.GetMeta().Workspace, b))
	}
	slices.Sort(out)
	return snap.Version, out
}

// sameConfig fails unless a and b serve the same config at the same
// version.
func sameConfig(t *testing.T, a, b store.Store) {
	t.Helper()
	va, ca := contents(t, a)
	vb, cb := contents(t, b)
	if va != vb || !slices.Equal(ca, cb) {
		t.Fatalf("configs differ:\nversion %d: %v\nversion %d: %v", va, ca, vb, cb)
	}
}

// logVersions returns every version in config_changes up to head, failing
// on a hole.
func logVersions(t *testing.T, sess *gocql.Session, head uint64) []uint64 {
	t.Helper()
	rows, err := readLogFrom(ctx, sess, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for i, r := range rows {
		if r.version != uint64(i)+1 {
			t.Fatalf("change log has version %d at position %d", r.version, i)
		}
		out = append(out, r.version)
	}
	if uint64(len(out)) != head {
		t.Fatalf("change log holds %d versions, head is %d", len(out), head)
	}
	return out
}

func TestConformance(t *testing.T) {
	c := startCluster(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return node(t, c.keyspace(t), Options{CachePath: filepath.Join(t.TempDir(), "cache.json")})
	})
}

// TestTwoNodes: a write on one node is seen by the other's reads at once
// and by its subscribers within a poll, whatever the operation.
func TestTwoNodes(t *testing.T) {
	cfg := startCluster(t).keyspace(t)
	a := node(t, cfg, Options{NodeID: "a"})
	var (
		mu      sync.Mutex
		applied []uint64
	)
	b := node(t, cfg, Options{NodeID: "b", OnApply: func(v uint64) {
		mu.Lock()
		applied = append(applied, v)
		mu.Unlock()
	}})
	ch, stop := b.Subscribe()
	defer stop()

	s := service("one")
	if err := a.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	receive(t, ch, "create on the other node")
	got, err := b.Get(ctx, entity.KindService, s.Workspace, s.ID)
	if err != nil {
		t.Fatalf("Get on the other node: %v", err)
	}
	if got.(*entity.Service).Name != "one" {
		t.Fatalf("got %+v", got)
	}

	upd := *s
	upd.Host = "changed.example.com"
	if err := a.Update(ctx, &upd); err != nil {
		t.Fatal(err)
	}
	// The read catches up by itself, before any poll.
	got, err = b.GetByKey(ctx, entity.KindService, s.Workspace, "name", "one")
	if err != nil || got.(*entity.Service).Host != "changed.example.com" {
		t.Fatalf("GetByKey after update on the other node = %+v, %v", got, err)
	}
	// The other node's unique keys follow: b refuses what a holds.
	if err := b.Create(ctx, service("one")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Create of a taken name on the other node: %v", err)
	}
	if err := b.Delete(ctx, entity.KindService, s.Workspace, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, entity.KindService, s.Workspace, s.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after delete on the other node: %v", err)
	}

	// Subscribers hear of changes without reading: the poll applies them.
	for range 3 {
		select {
		case <-ch:
		default:
		}
		if err := a.Create(ctx, service("sub-"+newID())); err != nil {
			t.Fatal(err)
		}
		receive(t, ch, "create seen by polling")
		eventually(t, "b applies a's version", func() bool {
			return b.SyncState().AppliedVersion == a.SyncState().AppliedVersion
		})
	}
	sameConfig(t, a, b)
	mu.Lock()
	hooked := slices.Clone(applied)
	mu.Unlock()
	if len(hooked) == 0 || !slices.IsSorted(hooked) || hooked[len(hooked)-1] != a.SyncState().AppliedVersion {
		t.Fatalf("OnApply saw versions %v, want increasing ones up to %d", hooked, a.SyncState().AppliedVersion)
	}
	st := b.SyncState()
	if st.Stale || st.LastError != "" || st.FromCache || st.Resyncs != 1 || st.HeadVersion < st.AppliedVersion {
		t.Fatalf("sync state of a healthy node: %+v (one resync: the first open, without a cache)", st)
	}
}

// TestConcurrentNodes: writers on three nodes race for the same names and
// create distinct ones: exactly one wins each name, nothing is lost, and
// the change log has every version once.
func TestConcurrentNodes(t *testing.T) {
	cfg := startCluster(t).keyspace(t)
	var nodes []*Store
	for i := range 3 {
		nodes = append(nodes, node(t, cfg, Options{NodeID: fmt.Sprintf("n%d", i)}))
	}
	const rounds, perNode = 4, 3
	var (
		mu      sync.Mutex
		created []string // ids of the entities whose Create succeeded
	)
	for r := range rounds {
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, len(nodes)*perNode*2)
		for _, n := range nodes {
			for range perNode {
				same := service(fmt.Sprintf("contended-%d", r))
				own := service("own-" + newID())
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					for _, e := range []*entity.Service{same, own} {
						err := n.Create(ctx, e)
						if err == nil {
							mu.Lock()
							created = append(created, e.ID)
							mu.Unlock()
						}
						errs <- err
					}
				}()
			}
		}
		close(start)
		wg.Wait()
		close(errs)
		conflicts := 0
		for err := range errs {
			switch {
			case err == nil:
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Fatalf("concurrent Create: %v", err)
			}
		}
		if want := len(nodes)*perNode - 1; conflicts != want {
			t.Fatalf("round %d: %d creators lost, want %d (exactly one winner per name)", r, conflicts, want)
		}
	}

	wantIDs := slices.Sorted(slices.Values(created))
	if len(wantIDs) != rounds*(1+len(nodes)*perNode) {
		t.Fatalf("%d creates succeeded, want %d", len(wantIDs), rounds*(1+len(nodes)*perNode))
	}
	for _, n := range nodes {
		snap, err := n.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range snap.Entities {
			if e.Kind() == entity.KindService {
				ids = append(ids, e.GetMeta().ID)
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, wantIDs) {
			t.Fatalf("node %s holds %d services, want the %d created", n.opts.NodeID, len(ids), len(wantIDs))
		}
		sameConfig(t, nodes[0], n)
	}
	v, _ := nodes[0].Version(ctx)
	logVersions(t, session(t, cfg), v)

	// The entities table agrees: a node that starts without a cache
	// rebuilds the same config from it.
	fresh := node(t, cfg, Options{NodeID: "fresh"})
	sameConfig(t, nodes[0], fresh)
	eventually(t, "config head to reach the last version", func() bool {
		h, err := readHead(ctx, session(t, cfg))
		return err == nil && h == v
	})
}

func TestReplacePropagates(t *testing.T) {
	cfg := startCluster(t).keyspace(t)
	a := node(t, cfg, Options{NodeID: "a"})
	b := node(t, cfg, Options{NodeID: "b"})
	ws := &entity.Workspace{Meta: entity.Meta{ID: newID()}, Name: "team"}
	old := svc(newID(), "team", "old")
	if err := a.Create(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if err := a.Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	ch, stop := b.Subscribe()
	defer stop()
	next := []entity.Entity{svc(newID(), "", "new"),
		&entity.Consumer{Meta: entity.Meta{ID: newID()}, Username: "alice"}}
	if err := a.Replace(ctx, "team", next); err != nil {
		t.Fatal(err)
	}
	receive(t, ch, "replace")
	eventually(t, "b applies the replace", func() bool {
		return b.SyncState().AppliedVersion == a.SyncState().AppliedVersion
	})
	sameConfig(t, a, b)
	if _, err := b.Get(ctx, entity.KindService, "team", old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replaced entity still on the other node: %v", err)
	}
	if _, err := b.GetByKey(ctx, entity.KindConsumer, "team", "username", "alice"); err != nil {
		t.Fatalf("replacing entity not on the other node: %v", err)
	}
	// The entities table holds the replace as well.
	sameConfig(t, a, node(t, cfg, Options{NodeID: "fresh"}))
}

// deleteChanges removes versions from the change log, as expiry would.
func deleteChanges(t *testing.T, sess *gocql.Session, versions ...uint64) {
	t.Helper()
	for _, v := range versions {
		if err := sess.Query(`DELETE FROM config_changes WHERE bucket = ? AND version = ?`, bucketOf(v), int64(v)).Exec(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExpiredLog: a node whose next change has left the log resyncs from
// the entities table, says so, and ends with the writer's config.
func TestExpiredLog(t *testing.T) {
	tests := []struct {
		name string
		// expire picks the versions to drop from the log after b's last
		// applied version and up to the head.
		expire func(applied, head uint64) []uint64
		// notice makes b notice: a read when a later change is still in
		// the log; a write (which reads config_head) when none is.
		notice func(t *testing.T, b *Store)
		reason string
	}{
		{
			name: "later change retained",
			expire: func(applied, head uint64) []uint64 {
				var vs []uint64
				for v := applied + 1; v < head; v++ {
					vs = append(vs, v)
				}
				return vs
			},
			notice: func(t *testing.T, b *Store) {
				if _, err := b.Snapshot(ctx); err != nil {
					t.Fatal(err)
				}
			},
			reason: "change log expired after version",
		},
		{
			name: "whole stretch expired",
			expire: func(applied, head uint64) []uint64 {
				var vs []uint64
				for v := applied + 1; v <= head; v++ {
					vs = append(vs, v)
				}
				return vs
			},
			notice: func(t *testing.T, b *Store) {
				if err := b.Create(ctx, service("after-resync")); err != nil {
					t.Fatal(err)
				}
			},
			reason: "config head is",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := startCluster(t).keyspace(t)
			a := node(t, cfg, Options{NodeID: "a"})
			var logs lockedbuffer.Buffer
			// b does not poll during the test: only its own reads and
			// writes sync it.
			b := node(t, cfg, Options{NodeID: "b", PollInterval: time.Hour, Logger: textLogger(&logs)})
			if err := a.Create(ctx, service("before")); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Version(ctx); err != nil {
				t.Fatal(err)
			}
			applied := b.SyncState().AppliedVersion
			resyncs := b.SyncState().Resyncs
			s := service("changed")
			if err := a.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
			upd := *s
			upd.Host = "updated.example.com"
			if err := a.Update(ctx, &upd); err != nil {
				t.Fatal(err)
			}
			if err := a.Delete(ctx, entity.KindService, entity.DefaultWorkspace, s.ID); err != nil {
				t.Fatal(err)
			}
			if err := a.Create(ctx, service("last")); err != nil {
				t.Fatal(err)
			}
			head := a.SyncState().AppliedVersion
			deleteChanges(t, session(t, cfg), tt.expire(applied, head)...)

			tt.notice(t, b)
			if got := b.SyncState().Resyncs; got != resyncs+1 {
				t.Fatalf("resyncs = %d, want %d", got, resyncs+1)
			}
			out := logs.String()
			if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "resynchronising the whole config") ||
				!strings.Contains(out, tt.reason) {
				t.Fatalf("the resync is not logged at WARN with its reason %q:\n%s", tt.reason, out)
			}
			sameConfig(t, a, b)
		})
	}
}

// TestHeadRepair: a writer that committed a change and died before
// writing its entities rows leaves config_head behind; a poller writes
// the rows and moves the head, so that the entities table stays whole.
func TestHeadRepair(t *testing.T) {
	cfg := startCluster(t).keyspace(t)
	a := node(t, cfg, Options{NodeID: "a", headRepairAfter: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err := a.Create(ctx, service("first")); err != nil {
		t.Fatal(err)
	}
	sess := session(t, cfg)
	// The dead writer's change: in the log, nowhere else.
	s := service("orphan")
	c := &change{version: 2, op: opCreate, kind: s.Kind(), ws: s.Workspace, id: s.ID, body: mustBody(t, s), node: "dead", at: time.Now()}
	if ok, err := a.commit(ctx, sess, c); err != nil || !ok {
		t.Fatalf("commit: %v, %v", ok, err)
	}
	if _, err := a.Get(ctx, entity.KindService, s.Workspace, s.ID); err != nil {
		t.Fatalf("the committed change is not served: %v", err)
	}
	eventually(t, "config head to be repaired", func() bool {
		h, err := readHead(ctx, sess)
		return err == nil && h == 2
	})
	rows, err := readPartition(ctx, sess, entity.KindService, entity.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("entities table holds %d services, want 2", len(rows))
	}
}

// TestCassandraAway: while the CQL server is down a node keeps serving its
// config, says it is stale and refuses writes; it catches up once the
// server is back.
func TestCassandraAway(t *testing.T) {
	c := startCluster(t)
	if c.srv == nil {
		t.Skip("needs the in-process CQL server to stop it")
	}
	cfg := c.keyspace(t)
	a := node(t, cfg, Options{NodeID: "a"})
	b := node(t, cfg, Options{NodeID: "b", CachePath: filepath.Join(t.TempDir(), "cache.json")})
	if err := a.Create(ctx, service("kept")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Version(ctx); err != nil {
		t.Fatal(err)
	}
	_, want := contents(t, b)

	c.srv.Stop()
	eventually(t, "b to report itself stale", func() bool {
		st := b.SyncState()
		return st.Stale && st.LastError != ""
	})
	_, got := contents(t, b) // served from the mirror
	if !slices.Equal(got, want) {
		t.Fatalf("config while cassandra is away: %v, want %v", got, want)
	}
	if _, err := b.GetByKey(ctx, entity.KindService, entity.DefaultWorkspace, "name", "kept"); err != nil {
		t.Fatalf("GetByKey while cassandra is away: %v", err)
	}
	err := a.Create(ctx, service("refused"))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("write while cassandra is away: err = %v, want ErrUnavailable", err)
	}

	if err := c.srv.Listen(c.addr); err != nil {
		t.Fatal(err)
	}
	ch, stop := b.Subscribe()
	defer stop()
	eventually(t, "a write to go through again", func() bool {
		return a.Create(ctx, service("after")) == nil
	})
	receive(t, ch, "the write made after the server returned")
	eventually(t, "b to catch up", func() bool {
		st := b.SyncState()
		return !st.Stale && st.AppliedVersion == a.SyncState().AppliedVersion
	})
	sameConfig(t, a, b)
}

// TestStartFromCache: a node started while Cassandra is down serves the
// config of its cache file and catches up when Cassandra returns; without
// a cache it cannot start, and says what to do.
func TestStartFromCache(t *testing.T) {
	c := startCluster(t)
	if c.srv == nil {
		t.Skip("needs the in-process CQL server to stop it")
	}
	cfg := c.keyspace(t)
	cache := filepath.Join(t.TempDir(), "data", "config-cache.json")
	a := node(t, cfg, Options{NodeID: "a", CachePath: cache})
	if err := a.Create(ctx, service("cached")); err != nil {
		t.Fatal(err)
	}
	wantVersion, want := contents(t, a)
	if err := a.Close(); err != nil { // writes the cache
		t.Fatal(err)
	}
	writer := node(t, cfg, Options{NodeID: "writer"})

	c.srv.Stop()
	_, err := Open(ctx, Options{Cassandra: cfg, CachePath: filepath.Join(t.TempDir(), "none.json")})
	if err == nil || !strings.Contains(err.Error(), "no cached config") || !strings.Contains(err.Error(), "start Cassandra") {
		t.Fatalf("Open without cassandra nor cache: err = %v, want one that says what to do", err)
	}

	var logs lockedbuffer.Buffer
	b := node(t, cfg, Options{NodeID: "a", CachePath: cache, Logger: textLogger(&logs)})
	st := b.SyncState()
	if !st.FromCache || !st.Stale || st.AppliedVersion != wantVersion {
		t.Fatalf("sync state of a node started from its cache: %+v", st)
	}
	if v, got := contents(t, b); v != wantVersion || !slices.Equal(got, want) {
		t.Fatalf("cached config: version %d %v, want %d %v", v, got, wantVersion, want)
	}
	if !strings.Contains(logs.String(), "starting from the cached config") {
		t.Fatalf("start from the cache not logged:\n%s", logs.String())
	}
	if err := b.Create(ctx, service("refused")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("write while cassandra is away: err = %v, want ErrUnavailable", err)
	}

	if err := c.srv.Listen(c.addr); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a write to go through again", func() bool {
		return writer.Create(ctx, service("while-b-was-cached")) == nil
	})
	eventually(t, "b to catch up", func() bool {
		st := b.SyncState()
		return !st.FromCache && !st.Stale && st.AppliedVersion == writer.SyncState().AppliedVersion
	})
	sameConfig(t, writer, b)
}

// TestCacheWritten: the cache file follows the config, and a node whose
// cache is ahead of the cluster (a recreated keyspace) follows the
// cluster.
func TestCacheWritten(t *testing.T) {
	c := startCluster(t)
	cfg := c.keyspace(t)
	cache := filepath.Join(t.TempDir(), "cache.json")
	a := node(t, cfg, Options{NodeID: "a", CachePath: cache})
	for i := range 3 {
		if err := a.Create(ctx, service(fmt.Sprintf("s%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	v := a.SyncState().AppliedVersion
	eventually(t, "the cache to hold the last version", func() bool {
		m, _, err := loadCache(cache)
		return err == nil && m.version == v
	})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	other := c.keyspace(t) // a cluster that never saw that config
	var logs lockedbuffer.Buffer
	b := node(t, other, Options{NodeID: "a", CachePath: cache, Logger: textLogger(&logs)})
	if got := b.SyncState(); got.AppliedVersion != 0 || got.Resyncs != 1 || got.FromCache {
		t.Fatalf("node whose cache is ahead of the cluster: %+v", got)
	}
	if _, got := contents(t, b); len(got) != 0 {
		t.Fatalf("node serves %v from a cache the cluster does not know", got)
	}
	if !strings.Contains(logs.String(), "ahead of the cluster") {
		t.Fatalf("resync reason not logged:\n%s", logs.String())
	}
}

// TestBucketBoundary: changes spill from one config_changes partition
// into the next every 1024 versions; catching up and resyncing both cross
// the boundary.
func TestBucketBoundary(t *testing.T) {
	cfg := startCluster(t).keyspace(t)
	behind := node(t, cfg, Options{NodeID: "behind", PollInterval: time.Hour})
	sess := session(t, cfg)
	const last = bucketSize + 5
	for v := uint64(1); v <= last; v++ {
		e := service(fmt.Sprintf("s%d", v))
		c := &change{version: v, op: opCreate, kind: e.Kind(), ws: e.Workspace, id: e.ID, body: mustBody(t, e), node: "w", at: time.Now()}
		if ok, err := behind.commit(ctx, sess, c); err != nil || !ok {
			t.Fatalf("commit %d: %v, %v", v, ok, err)
		}
	}
	if v, err := behind.Version(ctx); err != nil || v != last {
		t.Fatalf("version after catching up = %d, %v; want %d", v, err, last)
	}
	// No entities rows and no head were written: a new node replays the
	// whole log.
	fresh := node(t, cfg, Options{NodeID: "fresh", PollInterval: time.Hour})
	sameConfig(t, behind, fresh)
	if _, got := contents(t, fresh); len(got) != last {
		t.Fatalf("resynced config holds %d entities, want %d", len(got), last)
	}
}

// TestOneQueryPerSync: when nothing changed, a sync is one read of the
// change log, with config_head read every headCheckEvery-th.
func TestOneQueryPerSync(t *testing.T) {
	c := startCluster(t)
	if c.srv == nil {
		t.Skip("needs the in-process CQL server to count requests")
	}
	s := node(t, c.keyspace(t), Options{PollInterval: time.Hour})
	if err := s.Create(ctx, service("x")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{headCheckEvery - 1, headCheckEvery} {
		s.idlePolls = 0 // no round runs between reads: the sync goroutine waits for a kick
		c.srv.ResetStats()
		for range n {
			if _, err := s.Version(ctx); err != nil {
				t.Fatal(err)
			}
		}
		st := c.srv.Stats()
		want := int64(n)
		if n == headCheckEvery {
			want++ // config_head
		}
		if got := st.Queries + st.Executes + st.Batches; got != want {
			t.Fatalf("%d idle syncs made %d requests (%+v), want %d", n, got, st, want)
		}
	}
}

// TestChangeTTL: changes leave the log after ChangeTTL; a node that was
// behind for longer resyncs.
func TestChangeTTL(t *testing.T) {
	if os.Getenv(cqlservertest.EnvCassandra) != "" {
		t.Skip("needs the in-process CQL server's clock")
	}
	var (
		mu  sync.Mutex
		now = time.Now()
	)
	srv := cqlserver.New(cqlserver.Options{Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cfg := (&cluster{addr: srv.Addr(), srv: srv}).keyspace(t)
	a := node(t, cfg, Options{NodeID: "a", ChangeTTL: time.Minute})
	b := node(t, cfg, Options{NodeID: "b", ChangeTTL: time.Minute, PollInterval: time.Hour})
	if err := a.Create(ctx, service("one")); err != nil {
		t.Fatal(err)
	}
	if err := a.Create(ctx, service("two")); err != nil {
		t.Fatal(err)
	}
	if rows, err := readLogFrom(ctx, session(t, cfg), 0); err != nil || len(rows) != 2 {
		t.Fatalf("log before expiry: %d rows, %v", len(rows), err)
	}
	mu.Lock()
	now = now.Add(time.Minute + time.Second)
	mu.Unlock()
	if rows, err := readLogFrom(ctx, session(t, cfg), 0); err != nil || len(rows) != 0 {
		t.Fatalf("log after ChangeTTL: %d rows, %v; want none", len(rows), err)
	}
	resyncs := b.SyncState().Resyncs
	if err := b.Create(ctx, service("three")); err != nil {
		t.Fatal(err)
	}
	if b.SyncState().Resyncs != resyncs+1 {
		t.Fatalf("resyncs = %d, want %d", b.SyncState().Resyncs, resyncs+1)
	}
	sameConfig(t, a, b)
	if _, got := contents(t, b); len(got) != 3 {
		t.Fatalf("config after the resync: %v, want three services", got)
	}
}

func TestOpenErrors(t *testing.T) {
	bad := icass.DefaultConfig()
	bad.Hosts = nil
	if _, err := Open(ctx, Options{Cassandra: bad}); err == nil || !strings.Contains(err.Error(), "cassandra_hosts") {
		t.Fatalf("Open with no hosts: %v", err)
	}
	noKS := icass.DefaultConfig()
	noKS.Keyspace = ""
	if _, err := Open(ctx, Options{Cassandra: noKS}); err == nil || !strings.Contains(err.Error(), "cassandra_keyspace") {
		t.Fatalf("Open with no keyspace: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Open(canceled, Options{Cassandra: icass.DefaultConfig()}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a canceled context: %v", err)
	}
	// A cache that cannot be read is ignored, not trusted.
	dir := t.TempDir()
	garbage := filepath.Join(dir, "cache.json")
	if err := os.WriteFile(garbage, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startCluster(t)
	cfg := c.keyspace(t)
	missing := cfg
	missing.Keyspace = cqlservertest.Keyspace(t)
	if _, err := Open(ctx, Options{Cassandra: missing}); err == nil || !strings.Contains(err.Error(), "tollgate migrate cassandra up") {
		t.Fatalf("Open on a keyspace that does not exist: %v, want an error that says to migrate", err)
	}
	var logs lockedbuffer.Buffer
	s := node(t, cfg, Options{CachePath: garbage, Logger: textLogger(&logs)})
	if st := s.SyncState(); st.FromCache || st.Resyncs != 1 {
		t.Fatalf("sync state after an unreadable cache: %+v", st)
	}
	if !strings.Contains(logs.String(), "ignoring unreadable cache file") {
		t.Fatalf("unreadable cache not logged:\n%s", logs.String())
	}
}
