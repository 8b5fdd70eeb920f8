package cqlserver_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/internal/cqlserver"
	"github.com/tollgate/tollgate/internal/cqlserver/cqlservertest"
)

// clock is an injectable clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// startWith starts a server with opts and a session in a fresh keyspace
// holding Tollgate's schema.
func startWith(t *testing.T, opts cqlserver.Options) (*gocql.Session, *cqlserver.Server) {
	t.Helper()
	srv := cqlserver.New(opts)
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ks := cqlservertest.Keyspace(t)
	admin := connect(t, srv.Addr(), "")
	if err := admin.Query("CREATE KEYSPACE " + ks + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}").Exec(); err != nil {
		t.Fatal(err)
	}
	s := connect(t, srv.Addr(), ks)
	for _, st := range schemaStatements(t, "../../schema/cassandra/001_init.cql") {
		if err := s.Query(st).Exec(); err != nil {
			t.Fatalf("%q: %v", st, err)
		}
	}
	return s, srv
}

func TestLWTInsertIfNotExists(t *testing.T) {
	s, _, _ := setup(t)
	const q = "INSERT INTO config_changes (bucket, version, op, node) VALUES (?, ?, ?, ?) IF NOT EXISTS"
	got := map[string]any{}
	applied, err := s.Query(q, int64(0), int64(1), "create", "n1").MapScanCAS(got)
	if err != nil || !applied {
		t.Fatalf("first insert: applied=%v err=%v", applied, err)
	}
	got = map[string]any{}
	applied, err = s.Query(q, int64(0), int64(1), "update", "n2").MapScanCAS(got)
	if err != nil {
		t.Fatal(err)
	}
	if applied {
		t.Fatal("second insert applied")
	}
	// Not applied: the existing row comes back, every column of it.
	if got["op"] != "create" || got["node"] != "n1" || got["version"] != int64(1) || got["bucket"] != int64(0) {
		t.Fatalf("existing row = %v", got)
	}
	if _, ok := got["body"]; !ok {
		t.Fatalf("existing row lacks the body column: %v", got)
	}
}

func TestLWTUpdateIf(t *testing.T) {
	s, _, _ := setup(t)
	const upd = "UPDATE ratelimit_quotas USING TTL ? SET used = ? WHERE key = ? AND period = ? AND window_start = ? IF used = ?"
	// No row: a compare against a value fails with [applied] alone.
	var used int64
	applied, err := s.Query(upd, 60, int64(1), "k", "minute", int64(0), int64(0)).ScanCAS(&used)
	if err != nil || applied {
		t.Fatalf("update of a missing row: applied=%v err=%v", applied, err)
	}
	if err := s.Query("INSERT INTO ratelimit_quotas (key, period, window_start, used) VALUES (?, ?, ?, ?) IF NOT EXISTS USING TTL 60",
		"k", "minute", int64(0), int64(0)).Exec(); err != nil {
		t.Fatal(err)
	}
	applied, err = s.Query(upd, 60, int64(1), "k", "minute", int64(0), int64(0)).ScanCAS(&used)
	if err != nil || !applied {
		t.Fatalf("update 0->1: applied=%v err=%v", applied, err)
	}
	applied, err = s.Query(upd, 60, int64(5), "k", "minute", int64(0), int64(0)).ScanCAS(&used)
	if err != nil || applied {
		t.Fatalf("stale update: applied=%v err=%v", applied, err)
	}
	if used != 1 {
		t.Fatalf("current used = %d, want 1", used)
	}
	// UPDATE ... IF EXISTS and DELETE ... IF EXISTS.
	m := map[string]any{}
	if applied, err = s.Query("UPDATE ratelimit_quotas SET used = 7 WHERE key = 'k' AND period = 'minute' AND window_start = 0 IF EXISTS").MapScanCAS(m); err != nil || !applied {
		t.Fatalf("update if exists: applied=%v err=%v", applied, err)
	}
	if applied, err = s.Query("DELETE FROM ratelimit_quotas WHERE key = ? AND period = ? AND window_start = ? IF EXISTS", "k", "minute", int64(0)).MapScanCAS(m); err != nil || !applied {
		t.Fatalf("delete if exists: applied=%v err=%v", applied, err)
	}
	m = map[string]any{}
	if applied, err = s.Query("DELETE FROM ratelimit_quotas WHERE key = ? AND period = ? AND window_start = ? IF EXISTS", "k", "minute", int64(0)).MapScanCAS(m); err != nil || applied || len(m) != 0 {
		t.Fatalf("second delete if exists: applied=%v err=%v row=%v", applied, err, m)
	}
}

func TestUpdateUpserts(t *testing.T) {
	s, _, _ := setup(t)
	if err := s.Query("UPDATE config_head SET version = ? WHERE id = ?", int64(42), "head").Exec(); err != nil {
		t.Fatal(err)
	}
	var v int64
	if err := s.Query("SELECT version FROM config_head WHERE id = ?", "head").Scan(&v); err != nil || v != 42 {
		t.Fatalf("version=%d err=%v", v, err)
	}
	// Setting the only column to null leaves no row behind.
	if err := s.Query("UPDATE config_head SET version = null WHERE id = ?", "head").Exec(); err != nil {
		t.Fatal(err)
	}
	if err := s.Query("SELECT version FROM config_head WHERE id = ?", "head").Scan(&v); err != gocql.ErrNotFound {
		t.Fatalf("after nulling: err=%v, want not found", err)
	}
}

func TestTTLExpiry(t *testing.T) {
	clk := &clock{now: time.Unix(1700000000, 0)}
	s, _ := startWith(t, cqlserver.Options{Now: clk.Now})
	ins := "INSERT INTO cluster_nodes (cluster, node_id, hostname) VALUES (?, ?, ?) USING TTL ?"
	if err := s.Query(ins, "c", "n1", "h1", 10).Exec(); err != nil {
		t.Fatal(err)
	}
	if err := s.Query(ins, "c", "n2", "h2", 30).Exec(); err != nil {
		t.Fatal(err)
	}
	// default_time_to_live applies when no TTL is given.
	if err := s.Query("INSERT INTO config_changes (bucket, version, op) VALUES (0, 1, 'create')").Exec(); err != nil {
		t.Fatal(err)
	}
	nodes := func() []string {
		var out []string
		iter := s.Query("SELECT node_id FROM cluster_nodes WHERE cluster = ?", "c").Iter()
		var id string
		for iter.Scan(&id) {
			out = append(out, id)
		}
		if err := iter.Close(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	var ttl int
	if err := s.Query("SELECT ttl(hostname) FROM cluster_nodes WHERE cluster = ? AND node_id = ?", "c", "n1").Scan(&ttl); err != nil || ttl != 10 {
		t.Fatalf("ttl(hostname) = %d, %v; want 10", ttl, err)
	}
	if got := nodes(); !equal(got, []string{"n1", "n2"}) {
		t.Fatalf("before expiry: %v", got)
	}
	clk.Advance(10 * time.Second)
	if got := nodes(); !equal(got, []string{"n2"}) {
		t.Fatalf("after 10s: %v", got)
	}
	clk.Advance(20 * time.Second)
	if got := nodes(); len(got) != 0 {
		t.Fatalf("after 30s: %v", got)
	}
	count := func() int {
		var n int
		if err := s.Query("SELECT count(*) FROM config_changes WHERE bucket = 0").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("config change gone before its default TTL: %d", n)
	}
	clk.Advance(86400 * time.Second)
	if n := count(); n != 0 {
		t.Fatalf("config change outlived default_time_to_live: %d", n)
	}
}

func TestPaging(t *testing.T) {
	s, _, _ := setup(t)
	const n = 250
	b := s.NewBatch(gocql.UnloggedBatch)
	for v := 0; v < n; v++ {
		b.Query("INSERT INTO config_changes (bucket, version, op) VALUES (?, ?, ?)", int64(3), int64(v), "create")
	}
	if err := s.ExecuteBatch(b); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		query string
		first int64
		step  int64
		want  int
	}{
		{"asc", "SELECT version FROM config_changes WHERE bucket = ?", 0, 1, n},
		{"desc", "SELECT version FROM config_changes WHERE bucket = ? ORDER BY version DESC", n - 1, -1, n},
		{"limit across pages", "SELECT version FROM config_changes WHERE bucket = ? LIMIT 55", 0, 1, 55},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iter := s.Query(tc.query, int64(3)).PageSize(20).Iter()
			var v int64
			got := 0
			for iter.Scan(&v) {
				if want := tc.first + int64(got)*tc.step; v != want {
					t.Fatalf("row %d: version %d, want %d", got, v, want)
				}
				got++
			}
			if err := iter.Close(); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %d rows, want %d", got, tc.want)
			}
		})
	}
	// Manual paging with PageState resumes where the last page ended.
	var state []byte
	seen := 0
	for {
		iter := s.Query("SELECT version FROM config_changes WHERE bucket = ?", int64(3)).PageSize(100).PageState(state).Iter()
		seen += iter.NumRows()
		state = iter.PageState()
		if err := iter.Close(); err != nil {
			t.Fatal(err)
		}
		if len(state) == 0 {
			break
		}
	}
	if seen != n {
		t.Fatalf("manual paging saw %d rows, want %d", seen, n)
	}
}

func TestBatch(t *testing.T) {
	s, _, _ := setup(t)
	b := s.NewBatch(gocql.LoggedBatch)
	b.Query("INSERT INTO entities (kind, workspace, id, body, version) VALUES (?, ?, ?, ?, ?)", "services", "default", "a", []byte("{}"), int64(1))
	b.Query("INSERT INTO entities (kind, workspace, id, body, version) VALUES ('services', 'default', 'b', 0x7b7d, 1)")
	b.Query("UPDATE config_head SET version = ? WHERE id = ?", int64(1), "head")
	if err := s.ExecuteBatch(b); err != nil {
		t.Fatal(err)
	}
	var ids []string
	iter := s.Query("SELECT id, body FROM entities WHERE kind = ? AND workspace = ?", "services", "default").Iter()
	var id string
	var body []byte
	for iter.Scan(&id, &body) {
		if string(body) != "{}" {
			t.Fatalf("body of %s = %q", id, body)
		}
		ids = append(ids, id)
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if !equal(ids, []string{"a", "b"}) {
		t.Fatalf("ids = %v", ids)
	}
	// A batch whose second statement is invalid applies nothing.
	b = s.NewBatch(gocql.LoggedBatch)
	b.Query("INSERT INTO config_head (id, version) VALUES (?, ?)", "other", int64(5))
	b.Query("INSERT INTO config_head (id, nope) VALUES (?, ?)", "other", int64(5))
	if err := s.ExecuteBatch(b); err == nil {
		t.Fatal("invalid batch succeeded")
	}
	if err := s.Query("SELECT version FROM config_head WHERE id = ?", "other").Scan(new(int64)); err != gocql.ErrNotFound {
		t.Fatalf("half of a failed batch applied: %v", err)
	}
	// Conditional batch in one partition.
	b = s.NewBatch(gocql.LoggedBatch)
	b.Query("INSERT INTO entities (kind, workspace, id, version) VALUES (?, ?, ?, ?) IF NOT EXISTS", "routes", "default", "r1", int64(2))
	b.Query("INSERT INTO entities (kind, workspace, id, version) VALUES (?, ?, ?, ?) IF NOT EXISTS", "routes", "default", "r2", int64(2))
	applied, _, err := s.ExecuteBatchCAS(b)
	if err != nil || !applied {
		t.Fatalf("conditional batch: applied=%v err=%v", applied, err)
	}
	m := map[string]any{}
	applied, iter, err = s.MapExecuteBatchCAS(b, m)
	if err != nil || applied {
		t.Fatalf("repeated conditional batch: applied=%v err=%v", applied, err)
	}
	_ = iter.Close()
	if m["id"] != "r1" {
		t.Fatalf("not-applied batch row = %v", m)
	}
}

func TestStopAndListenKeepsData(t *testing.T) {
	s, srv, _ := setup(t)
	if err := s.Query("INSERT INTO config_head (id, version) VALUES (?, ?)", "head", int64(9)).Exec(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	srv.Stop()
	if err := s.Query("SELECT version FROM config_head WHERE id = ?", "head").Exec(); err == nil {
		t.Fatal("query succeeded while the server was stopped")
	}
	if err := srv.Listen(addr); err != nil {
		t.Fatal(err)
	}
	// gocql reconnects on its own schedule; poll until it has.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var v int64
		err := s.Query("SELECT version FROM config_head WHERE id = ?", "head").Scan(&v)
		if err == nil {
			if v != 9 {
				t.Fatalf("version after restart = %d", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session did not reconnect: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConcurrentCAS(t *testing.T) {
	s, _, _ := setup(t)
	if err := s.Query("INSERT INTO ratelimit_quotas (key, period, window_start, used) VALUES ('k', 'day', 0, 0)").Exec(); err != nil {
		t.Fatal(err)
	}
	const workers, each = 16, 25
	var wg sync.WaitGroup
	var failures atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				for {
					var used int64
					if err := s.Query("SELECT used FROM ratelimit_quotas WHERE key = 'k' AND period = 'day' AND window_start = 0").Scan(&used); err != nil {
						failures.Add(1)
						return
					}
					var cur int64
					applied, err := s.Query("UPDATE ratelimit_quotas SET used = ? WHERE key = 'k' AND period = 'day' AND window_start = 0 IF used = ?", used+1, used).ScanCAS(&cur)
					if err != nil {
						failures.Add(1)
						return
					}
					if applied {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d workers failed", f)
	}
	var used int64
	if err := s.Query("SELECT used FROM ratelimit_quotas WHERE key = 'k' AND period = 'day' AND window_start = 0").Scan(&used); err != nil {
		t.Fatal(err)
	}
	if used != workers*each {
		t.Fatalf("used = %d, want %d: increments were lost", used, workers*each)
	}
}

func TestStats(t *testing.T) {
	s, srv, _ := setup(t)
	srv.ResetStats()
	for i := 0; i < 3; i++ {
		if err := s.Query("SELECT version FROM config_head WHERE id = ?", fmt.Sprint(i)).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	b := s.NewBatch(gocql.UnloggedBatch)
	b.Query("INSERT INTO config_head (id, version) VALUES (?, ?)", "x", int64(1))
	if err := s.ExecuteBatch(b); err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	if st.Executes != 3 || st.Batches != 1 {
		t.Fatalf("stats = %+v, want 3 executes and 1 batch", st)
	}
}

func TestErrors(t *testing.T) {
	s, _, ks := setup(t)
	tests := []struct {
		name, query, want string
	}{
		{"secondary index", "CREATE INDEX ON entities (version)", "CREATE INDEX"},
		{"allow filtering", "SELECT * FROM entities WHERE version = 1 ALLOW FILTERING", "ALLOW FILTERING"},
		{"filtering", "SELECT * FROM entities WHERE version = 1", "ALLOW FILTERING"},
		{"partial partition key", "SELECT * FROM entities WHERE kind = 'a'", "ALLOW FILTERING"},
		{"udf", "CREATE FUNCTION f (a int) RETURNS NULL ON NULL INPUT RETURNS int LANGUAGE java AS 'return a;'", "user-defined functions"},
		{"counter arithmetic", "UPDATE config_head SET version = version + 1 WHERE id = 'a'", "arithmetic"},
		{"using timestamp", "INSERT INTO config_head (id, version) VALUES ('a', 1) USING TIMESTAMP 5", "USING TIMESTAMP"},
		{"group by", "SELECT * FROM entities WHERE kind = 'a' AND workspace = 'b' GROUP BY id", "GROUP BY"},
		{"unknown table", "SELECT * FROM nope WHERE id = 'a'", "nope"},
		{"unknown column", "SELECT nope FROM config_head WHERE id = 'a'", "nope"},
		{"syntax", "SELEKT * FROM config_head", "selekt"},
		{"missing key", "INSERT INTO config_head (version) VALUES (1)", "id"},
		{"already exists", "CREATE TABLE config_head (id text PRIMARY KEY)", "already exists"},
		{"drop missing keyspace", "DROP KEYSPACE " + ks + "_nope", "non existing keyspace"},
		{"wrong literal type", "INSERT INTO config_head (id, version) VALUES ('a', 'x')", "version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Query(tc.query).Exec()
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want)) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestDDL(t *testing.T) {
	s, _, ks := setup(t)
	stmts := []string{
		"CREATE TABLE IF NOT EXISTS " + ks + ".schema_migrations (component text, version int, name text, checksum text, applied_at timestamp, PRIMARY KEY (component, version))",
		"INSERT INTO " + ks + ".schema_migrations (component, version, name, checksum, applied_at) VALUES ('core', 1, 'init', 'abc', toTimestamp(now()))",
		"ALTER TABLE schema_migrations ADD note text",
		"UPDATE schema_migrations SET note = 'hi' WHERE component = 'core' AND version = 1",
	}
	for _, st := range stmts {
		if err := s.Query(st).Exec(); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
	var name, note string
	var at time.Time
	if err := s.Query("SELECT name, note, applied_at FROM schema_migrations WHERE component = ? AND version = ?", "core", 1).Scan(&name, &note, &at); err != nil {
		t.Fatal(err)
	}
	if name != "init" || note != "hi" || at.IsZero() {
		t.Fatalf("row = %q %q %v", name, note, at)
	}
	if err := s.Query("TRUNCATE schema_migrations").Exec(); err != nil {
		t.Fatal(err)
	}
	if err := s.Query("SELECT name FROM schema_migrations WHERE component = ?", "core").Scan(&name); err != gocql.ErrNotFound {
		t.Fatalf("after truncate: %v", err)
	}
	for _, st := range []string{"DROP TABLE IF EXISTS schema_migrations", "DROP TABLE IF EXISTS schema_migrations", "DROP KEYSPACE IF EXISTS " + ks} {
		if err := s.Query(st).Exec(); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
}

func TestPreparedMetadata(t *testing.T) {
	s, _, ks := setup(t)
	tests := []struct {
		name  string
		stmt  string
		args  []string
		pkIdx []int
	}{
		{"select", "SELECT version FROM config_changes WHERE bucket = ? AND version > ? LIMIT ?", []string{"bucket", "version", "[limit]"}, []int{0}},
		{"update", "UPDATE ratelimit_quotas USING TTL ? SET used = ? WHERE key = ? AND period = ? AND window_start = ? IF used = ?",
			[]string{"[ttl]", "used", "key", "period", "window_start", "used"}, []int{2, 3, 4}},
		{"insert", "INSERT INTO cluster_nodes (node_id, cluster, hostname) VALUES (?, ?, ?) USING TTL ?", []string{"node_id", "cluster", "hostname", "[ttl]"}, []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var info *gocql.QueryInfo
			err := s.Bind(tc.stmt, func(q *gocql.QueryInfo) ([]any, error) {
				info = q
				return nil, fmt.Errorf("stop here")
			}).Exec()
			if info == nil {
				t.Fatalf("statement was not prepared: %v", err)
			}
			var names []string
			for _, a := range info.Args {
				if a.Keyspace != ks {
					t.Errorf("arg %s keyspace %q, want %q", a.Name, a.Keyspace, ks)
				}
				names = append(names, a.Name)
			}
			if !equal(names, tc.args) {
				t.Fatalf("bind markers %v, want %v", names, tc.args)
			}
			if !equal(info.PKeyColumns, tc.pkIdx) {
				t.Fatalf("partition key indexes %v, want %v", info.PKeyColumns, tc.pkIdx)
			}
		})
	}
}

// TestTokenAware connects the way nodes configured with a local
// datacenter do: token-aware routing reads tokens, the partitioner and
// keyspace metadata.
func TestTokenAware(t *testing.T) {
	_, srv, ks := setup(t)
	cl := cluster(t, srv.Addr(), ks)
	cl.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.DCAwareRoundRobinPolicy("datacenter1"))
	s, err := cl.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 20; i++ {
		if err := s.Query("INSERT INTO config_head (id, version) VALUES (?, ?)", fmt.Sprint(i), int64(i)).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	var v int64
	if err := s.Query("SELECT version FROM config_head WHERE id = ?", "7").Scan(&v); err != nil || v != 7 {
		t.Fatalf("version=%d err=%v", v, err)
	}
}

func TestBatchStatementText(t *testing.T) {
	s, _, _ := setup(t)
	// gocql prepares a BEGIN ... APPLY BATCH text like any DML.
	if err := s.Query("BEGIN BATCH INSERT INTO config_head (id, version) VALUES (?, ?); UPDATE config_head SET version = ? WHERE id = ?; APPLY BATCH",
		"a", int64(1), int64(2), "b").Exec(); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]int64{"a": 1, "b": 2} {
		var v int64
		if err := s.Query("SELECT version FROM config_head WHERE id = ?", id).Scan(&v); err != nil || v != want {
			t.Fatalf("%s: version=%d err=%v, want %d", id, v, err, want)
		}
	}
}

func TestAlterTableReprepares(t *testing.T) {
	s, srv, _ := setup(t)
	if err := s.Query("INSERT INTO config_head (id, version) VALUES (?, ?)", "a", int64(1)).Exec(); err != nil {
		t.Fatal(err)
	}
	const sel = "SELECT * FROM config_head WHERE id = ?"
	if m, err := s.Query(sel, "a").Iter().SliceMap(); err != nil || len(m) != 1 || len(m[0]) != 2 {
		t.Fatalf("before ALTER: %v %v", m, err)
	}
	if err := s.Query("ALTER TABLE config_head ADD note text").Exec(); err != nil {
		t.Fatal(err)
	}
	if err := s.Query("UPDATE config_head SET note = ? WHERE id = ?", "n", "a").Exec(); err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	m, err := s.Query(sel, "a").Iter().SliceMap()
	if err != nil || len(m) != 1 || m[0]["note"] != "n" {
		t.Fatalf("after ALTER: %v %v", m, err)
	}
	if st := srv.Stats(); st.Prepares != 1 {
		t.Fatalf("stats after ALTER = %+v, want the SELECT prepared again", st)
	}
}

func TestTypes(t *testing.T) {
	s, _, _ := setup(t)
	if err := s.Query(`CREATE TABLE typed (
		k text, c1 double, c2 timeuuid,
		i int, b boolean, ts timestamp, u uuid, bl blob, si smallint, ti tinyint, f float, ip inet,
		l list<text>, st set<int>, m map<text, bigint>, fm frozen<map<text, text>>,
		PRIMARY KEY (k, c1, c2)
	) WITH CLUSTERING ORDER BY (c1 DESC, c2 ASC)`).Exec(); err != nil {
		t.Fatal(err)
	}
	t0 := time.UnixMilli(1700000000123).UTC()
	u := gocql.MustRandomUUID()
	tu1 := gocql.UUIDFromTime(t0)
	tu2 := gocql.UUIDFromTime(t0.Add(time.Second))
	ins := "INSERT INTO typed (k, c1, c2, i, b, ts, u, bl, si, ti, f, ip, l, st, m, fm) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	if err := s.Query(ins, "k", 1.5, tu2, -7, true, t0, u, []byte{1, 2}, int16(-3), int8(4), float32(2.5), "10.0.0.1",
		[]string{"b", "a", "b"}, []int{3, 1, 2, 1}, map[string]int64{"z": 1, "a": 2}, map[string]string{"x": "y"}).Exec(); err != nil {
		t.Fatal(err)
	}
	// The same row shape written with literals.
	lit := "INSERT INTO typed (k, c1, c2, i, b, ts, u, bl, si, ti, f, ip, l, st, m, fm) VALUES ('k', -2.25, " + tu1.String() +
		", 7, false, '2023-11-14T22:13:20.123Z', " + u.String() + ", 0x0102, -3, 4, 2.5, '10.0.0.1', ['q'], {5, 4}, {'a': -1}, {})"
	if err := s.Query(lit).Exec(); err != nil {
		t.Fatal(err)
	}
	if err := s.Query("INSERT INTO typed (k, c1, c2) VALUES ('k', 1.5, ?)", tu1).Exec(); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Query("SELECT * FROM typed WHERE k = ?", "k").Iter().SliceMap()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	// Clustering order: c1 DESC, then c2 (timeuuid, by time) ASC.
	order := []struct {
		c1 float64
		c2 gocql.UUID
	}{{1.5, tu1}, {1.5, tu2}, {-2.25, tu1}}
	for i, o := range order {
		if rows[i]["c1"] != o.c1 || rows[i]["c2"] != o.c2 {
			t.Fatalf("row %d: c1=%v c2=%v, want %v %v", i, rows[i]["c1"], rows[i]["c2"], o.c1, o.c2)
		}
	}
	r := rows[1]
	checks := map[string]any{
		"i": -7, "b": true, "u": u, "si": int16(-3), "ti": int8(4), "f": float32(2.5), "ip": "10.0.0.1",
	}
	for col, want := range checks {
		if r[col] != want {
			t.Errorf("%s = %#v, want %#v", col, r[col], want)
		}
	}
	if ts := r["ts"].(time.Time); !ts.Equal(t0) {
		t.Errorf("ts = %v, want %v", ts, t0)
	}
	if got := fmt.Sprint(r["l"], r["st"], r["m"], r["fm"], r["bl"]); got != "[b a b] [1 2 3] map[a:2 z:1] map[x:y] [1 2]" {
		t.Errorf("collections = %s", got)
	}
	lr := rows[2]
	if got := fmt.Sprint(lr["i"], lr["b"], lr["l"], lr["st"], lr["m"], len(lr["fm"].(map[string]string))); got != "7 false [q] [4 5] map[a:-1] 0" {
		t.Errorf("literal row = %s", got)
	}
	if ts := lr["ts"].(time.Time); !ts.Equal(t0) {
		t.Errorf("literal ts = %v, want %v", ts, t0)
	}
	// Range on the second clustering column within an equal first one.
	var n int
	if err := s.Query("SELECT count(*) FROM typed WHERE k = 'k' AND c1 = 1.5 AND c2 > ?", tu1).Scan(&n); err != nil || n != 1 {
		t.Fatalf("count = %d, %v; want 1", n, err)
	}
	// A full scan of a small table is allowed, as in Cassandra.
	if err := s.Query("SELECT count(*) FROM typed").Scan(&n); err != nil || n != 3 {
		t.Fatalf("full count = %d, %v; want 3", n, err)
	}
}

func TestLWTConditions(t *testing.T) {
	s, _, _ := setup(t)
	if err := s.Query("INSERT INTO cluster_nodes (cluster, node_id, hostname, config_version) VALUES ('c', 'n', 'h', 5)").Exec(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cond    string
		args    []any
		applied bool
	}{
		{"config_version = ?", []any{int64(5)}, true},
		{"config_version = ?", []any{int64(4)}, false},
		{"config_version != 4", nil, true},
		{"config_version < 6 AND hostname = 'h'", nil, true},
		{"config_version > 5", nil, false},
		{"config_version >= 5 AND hostname = 'x'", nil, false},
		{"config_version IN (1, 5)", nil, true},
		{"config_version IN ?", []any{[]int64{1, 2}}, false},
		{"version = null", nil, true},
		{"hostname = null", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.cond, func(t *testing.T) {
			m := map[string]any{}
			args := append([]any{"h"}, tc.args...)
			applied, err := s.Query("UPDATE cluster_nodes SET hostname = ? WHERE cluster = 'c' AND node_id = 'n' IF "+tc.cond, args...).MapScanCAS(m)
			if err != nil {
				t.Fatal(err)
			}
			if applied != tc.applied {
				t.Fatalf("applied = %v, want %v (row %v)", applied, tc.applied, m)
			}
			if !applied {
				col := strings.Fields(tc.cond)[0]
				if _, ok := m[col]; !ok {
					t.Fatalf("not applied result lacks the compared column %s: %v", col, m)
				}
				if _, ok := m["cluster"]; ok {
					t.Fatalf("not applied result has key columns: %v", m)
				}
			}
		})
	}
	if err := s.Query("ALTER TABLE cluster_nodes DROP version").Exec(); err != nil {
		t.Fatal(err)
	}
	if err := s.Query("SELECT version FROM cluster_nodes WHERE cluster = 'c'").Exec(); err == nil {
		t.Fatal("dropped column still selectable")
	}
}
