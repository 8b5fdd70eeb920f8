package cqlserver

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fuzzEngine returns an engine holding Tollgate's schema in keyspace ks.
func fuzzEngine(t testing.TB) *engine {
	t.Helper()
	e := newEngine(time.Now)
	x := &execCtx{now: time.Now()}
	run := func(q string) {
		p, err := parse(q)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if _, err := e.exec(x, p); err != nil {
			t.Fatalf("%q: %v", q, err)
		}
	}
	run("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
	x.ks = "ks"
	b, err := os.ReadFile("../../schema/cassandra/001_init.cql")
	if err != nil {
		t.Fatal(err)
	}
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		cur.WriteString(line + "\n")
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			run(cur.String())
			cur.Reset()
		}
	}
	return e
}

var seedStatements = []string{
	"SELECT * FROM system.local WHERE key='local'",
	"SELECT * FROM system.peers",
	"SELECT keyspace_name, replication FROM system_schema.keyspaces WHERE keyspace_name = ?",
	"CREATE KEYSPACE IF NOT EXISTS k2 WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3} AND durable_writes = true",
	"CREATE TABLE IF NOT EXISTS t (a text, b int, c map<text, bigint>, d set<uuid>, e list<double>, PRIMARY KEY ((a), b)) WITH CLUSTERING ORDER BY (b DESC) AND default_time_to_live = 5 AND comment = 'x'",
	"INSERT INTO entities (kind, workspace, id, body, version) VALUES ('a', 'b', 'c', 0xdeadbeef, -3) IF NOT EXISTS USING TTL 10",
	"INSERT INTO config_changes (bucket, version, at) VALUES (?, ?, '2024-01-02T03:04:05Z')",
	"UPDATE ratelimit_quotas USING TTL ? SET used = ? WHERE key = ? AND period = ? AND window_start = ? IF used = ?",
	"UPDATE config_head SET version = 1 WHERE id = 'it''s' IF EXISTS",
	"DELETE FROM config_changes WHERE bucket = 1 AND version >= 3 AND version < 9",
	"DELETE body FROM entities WHERE kind = 'a' AND workspace = 'b' AND id = 'c' IF version IN (1, 2) AND body != null",
	"SELECT version, op AS o FROM config_changes WHERE bucket = ? AND version > ? ORDER BY version DESC LIMIT ?",
	"SELECT count(*) FROM cluster_nodes WHERE cluster IN ('a', 'b')",
	"SELECT ttl(hits) FROM ratelimit_slots WHERE key = 'k' AND period = 'p' AND window_start = 1 AND node IN ?",
	"BEGIN UNLOGGED BATCH INSERT INTO config_head (id, version) VALUES ('a', 1); UPDATE config_head SET version = 2 WHERE id = 'b'; APPLY BATCH",
	"TRUNCATE TABLE config_head",
	"ALTER TABLE config_head ADD (x text, y frozen<list<int>>)",
	"DROP TABLE IF EXISTS ks.nope",
	"SELECT * FROM t WHERE a = 123e4567-e89b-12d3-a456-426614174000 -- comment",
	"/* c */ USE ks;",
	"select * from \"config_head\" where \"id\" = $$x$$ limit 1e3",
}

// FuzzStatement feeds arbitrary text through the parser and, when it
// parses, the engine with random bound values: neither may panic or hang.
func FuzzStatement(f *testing.F) {
	for _, s := range seedStatements {
		f.Add(s, []byte{0, 0, 0, 4, 1, 2, 3, 4})
	}
	e := fuzzEngine(f)
	f.Fuzz(func(t *testing.T, q string, vals []byte) {
		p, err := parse(q)
		if err != nil {
			if _, ok := err.(*parseError); !ok {
				t.Fatalf("parse error of type %T", err)
			}
			return
		}
		x := &execCtx{ks: "ks", now: time.Now(), pageSize: 2}
		for i := 0; i < p.markers; i++ {
			switch {
			case len(vals) == 0:
				x.vals = append(x.vals, boundValue{})
			case vals[0] == 0xff:
				x.vals = append(x.vals, boundValue{unset: true})
				vals = vals[1:]
			default:
				n := min(int(vals[0])%17, len(vals)-1)
				x.vals = append(x.vals, boundValue{b: vals[1 : 1+n]})
				vals = vals[1+n:]
			}
		}
		_, _ = e.prepare(x, p, "")
		res, err := e.exec(x, p)
		if err == nil && res.paging != nil {
			x.paging = res.paging
			_, _ = e.exec(x, p)
		}
	})
}

// FuzzFrame feeds arbitrary request frames to a connection: it must answer
// or drop the connection, never panic.
func FuzzFrame(f *testing.F) {
	query := func(op byte, body []byte) []byte {
		h := []byte{protoVersion, 0, 0, 1, op, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(h[5:], uint32(len(body)))
		return append(h, body...)
	}
	w := wbuf{}
	w.int(int32(len("SELECT * FROM system.local")))
	w.b = append(w.b, "SELECT * FROM system.local"...)
	w.short(1)
	w.byte(qfPageSize | qfValues)
	w.short(1)
	w.bytes([]byte("x"))
	w.int(10)
	startup := query(opStartup, []byte{0, 1, 0, 11, 'C', 'Q', 'L', '_', 'V', 'E', 'R', 'S', 'I', 'O', 'N', 0, 5, '3', '.', '0', '.', '0'})
	f.Add(append(append([]byte{}, startup...), query(opQuery, w.b)...))
	f.Add(append(append([]byte{}, startup...), query(opBatch, []byte{0, 0, 1, 0, 0, 0, 0, 3, 'f', 'o', 'o', 0, 0, 0, 1, 0})...))
	f.Add(append(append([]byte{}, startup...), query(opExecute, []byte{0, 2, 1, 2, 0, 1, 0})...))
	f.Add(query(opOptions, nil))
	panics := &panicCounter{}
	srv := New(Options{Logger: slog.New(panics)})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &conn{srv: srv, w: bufio.NewWriter(io.Discard)}
		r := bufio.NewReader(strings.NewReader(string(in)))
		for i := 0; i < 100; i++ {
			if err := c.handleOne(r); err != nil {
				break
			}
		}
		if msg := panics.last.Load(); msg != nil {
			t.Fatalf("request handling panicked: %s", *msg)
		}
	})
}

// panicCounter is a slog handler that remembers error records: the
// server logs a recovered panic at error level, which a fuzz target must
// report rather than let the recovery hide it.
type panicCounter struct {
	last atomic.Pointer[string]
}

func (h *panicCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h *panicCounter) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.String()
		return true
	})
	h.last.Store(&msg)
	return nil
}

func (h *panicCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *panicCounter) WithGroup(string) slog.Handler      { return h }
