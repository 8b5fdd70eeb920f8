package collector

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tollgate/tollgate/internal/clickhousetest"
	"github.com/tollgate/tollgate/internal/logrecord"
)

// TestClickHouseOutage takes ClickHouse away while records flow and
// brings it back: the collector retries, holds its batch (lag grows in
// Kafka) and loads every record once.
//
// A restart (SIGTERM) lets ClickHouse finish the INSERT in flight, with
// its materialized views: every table counts every record once. A crash
// (SIGKILL) can stop ClickHouse between the views of one INSERT, which
// ClickHouse does not make atomic: the raw table still holds every record
// once, and the rollups are off by at most the interrupted batch (see
// README.md, "What a ClickHouse crash can cost") until Reconcile rebuilds
// them: after it, every table counts every record once either way.
func TestClickHouseOutage(t *testing.T) {
	tests := []struct {
		name  string
		stop  func(*clickhousetest.Server) error
		exact bool
	}{
		{name: "restart", stop: (*clickhousetest.Server).Stop, exact: true},
		{name: "crash", stop: (*clickhousetest.Server).Kill, exact: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := clickhousetest.Start(t)
			clickhousetest.SkipIfExternal(t, ch)
			e := newEnv(t, 3, ch)
			// Records started two hours ago, so that Reconcile (which
			// leaves the last settle time alone) checks them.
			e.now = time.Now().Add(-2 * time.Hour)
			const n = 4000
			cfg := e.config()
			p := e.producer()
			r := e.start(cfg)

			e.produce(p, 0, 1000)
			e.waitRows(1000, time.Minute)
			stopped := make(chan error, 1)
			go func() { stopped <- tc.stop(ch) }()
			// Records keep coming while ClickHouse goes away.
			for i := 1000; i < 3000; i += 500 {
				e.produce(p, i, i+500)
				time.Sleep(200 * time.Millisecond)
			}
			if err := <-stopped; err != nil {
				t.Fatalf("stop clickhouse: %v", err)
			}
			time.Sleep(500 * time.Millisecond)
			if err := ch.Start(); err != nil {
				t.Fatalf("start clickhouse: %v", err)
			}
			e.produce(p, 3000, n)
			e.waitRows(n, 2*time.Minute)
			if err := r.stop(); err != nil {
				t.Fatal(err)
			}
			if st := r.c.Stats(); st.InsertErrors == 0 {
				t.Errorf("stats = %+v; want failed inserts during the outage", st)
			}
			if !tc.exact {
				e.checkCrashCost(n, cfg.BatchRows)
			}
			rep := e.reconcile(e.now.Add(-time.Hour), time.Now())
			t.Logf("reconcile: %d hours, mismatches %v, rebuilt %v", len(rep.Hours), rep.Mismatches, rep.Rebuilt)
			if tc.exact && (len(rep.Mismatches) != 0 || len(rep.Rebuilt) != 0) {
				t.Errorf("after a graceful restart Reconcile found %v and rebuilt %v; want nothing", rep.Mismatches, rep.Rebuilt)
			}
			e.checkExactlyOnce(n)
		})
	}
}

// checkCrashCost checks what a ClickHouse crash may leave: every record
// once in the raw table, the minute rollup off by at most one batch.
func (e *env) checkCrashCost(n uint64, batch int) {
	e.t.Helper()
	if rows, ids := e.count("SELECT count() FROM {db}.requests"), e.count("SELECT uniqExact(request_id) FROM {db}.requests"); rows != n || ids != n {
		e.t.Errorf("raw table has %d rows for %d request ids; want %d", rows, ids, n)
	}
	minute := int(e.count("SELECT sumMerge(requests) FROM {db}.requests_by_minute"))
	if d := minute - int(n); d < -batch || d > batch {
		e.t.Errorf("minute rollup counts %d; want %d give or take one batch", minute, n)
	} else if d != 0 {
		e.t.Logf("the crash cut a batch's materialized views short: minute rollup off by %d", d)
	}
}

// TestDeadLetters sends undecodable, invalid and out-of-window records to
// the dead-letter topic with their reason and origin, loads the rest, and
// does not dead-letter them again after a restart.
//
// The messages hold one record each, as gateways wrote them before
// batches; TestBatchDeadLetters covers batches.
func TestDeadLetters(t *testing.T) {
	e := newEnv(t, 1, nil)
	e.perMessage = 0
	p := e.producer()
	e.produce(p, 0, 100)
	invalid := testRecord(1000, e.now)
	invalid.RequestID = ""
	old := testRecord(1001, e.now)
	old.StartedAt = e.now.Add(-30 * 24 * time.Hour).UnixMilli()
	future := testRecord(1002, e.now)
	future.StartedAt = e.now.Add(2 * time.Hour).UnixMilli()
	tail := testRecord(1003, e.now)
	tail.Status = 1000
	e.produceRaw(p,
		[]byte{0xff, 0xff, 0xff}, // offset 100
		logrecord.Append(nil, &invalid),
		logrecord.Append(nil, &old),
		logrecord.Append(nil, &future), // offset 103
	)
	e.produce(p, 100, 150)                        // offsets 104..153
	e.produceRaw(p, logrecord.Append(nil, &tail)) // offset 154, the last: marked loaded

	r := e.start(e.config())
	e.waitRows(150, time.Minute)
	deadline := time.Now().Add(time.Minute)
	for r.c.Stats().DeadLettered < 5 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	e.checkExactlyOnce(150)
	if got := e.count("SELECT toUInt64(max(max_offset)) FROM {db}.loaded_offsets"); got != 154 {
		t.Errorf("loaded offset = %d; want 154 (the dead-lettered tail)", got)
	}

	want := []struct {
		offset int
		reason string
	}{
		{100, ReasonMalformed}, {101, ReasonInvalid}, {102, ReasonOutOfWindow}, {103, ReasonOutOfWindow}, {154, ReasonInvalid},
	}
	got := e.readDead(len(want))
	for i, w := range want {
		h := got[i]
		if h[HeaderReason] != w.reason || h[HeaderOriginalOffset] != strconv.Itoa(w.offset) ||
			h[HeaderOriginalTopic] != testTopic || h[HeaderOriginalPartition] != "0" || h[HeaderError] == "" {
			t.Errorf("dead letter %d headers = %v; want reason %s from %s/0/%d", i, h, w.reason, testTopic, w.offset)
		}
	}

	// A new group has no commits: it starts after the loaded offsets and
	// finds nothing to do.
	cfg := e.config()
	cfg.GroupID = "another-group"
	r2 := e.start(cfg)
	time.Sleep(2 * time.Second)
	if err := r2.stop(); err != nil {
		t.Fatal(err)
	}
	if st := r2.c.Stats(); st.Consumed != 0 || st.DeadLettered != 0 {
		t.Errorf("second run stats = %+v; want nothing consumed", st)
	}
	e.checkExactlyOnce(150)
}

// readDead reads n dead letters and returns their headers.
func (e *env) readDead(n int) []map[string]string {
	e.t.Helper()
	var out []map[string]string
	for _, r := range e.readDeadRecords(n) {
		out = append(out, headers(r))
	}
	return out
}

func headers(r *kgo.Record) map[string]string {
	h := map[string]string{}
	for _, kv := range r.Headers {
		h[kv.Key] = string(kv.Value)
	}
	return h
}

// readDeadRecords reads n dead letters.
func (e *env) readDeadRecords(n int) []*kgo.Record {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(testTopic+".dead"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		ctx, cancel := contextWithDeadline(deadline)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	if len(out) != n {
		e.t.Fatalf("%d dead letters; want %d", len(out), n)
	}
	return out
}

// TestBatchDeadLetters: the records of a batch that cannot be loaded go to
// the dead-letter topic one by one, each with its place in the batch, and
// the batch's other records are loaded; a batch whose framing is broken
// goes there whole. A message of one record without the batch header, as
// gateways wrote before batches, still loads between batches.
func TestBatchDeadLetters(t *testing.T) {
	e := newEnv(t, 1, nil)
	p := e.producer()
	e.produce(p, 0, 100) // offsets 0..9
	enc := func(i int, change func(*logrecord.Record)) []byte {
		r := testRecord(i, e.now)
		if change != nil {
			change(&r)
		}
		return logrecord.Append(nil, &r)
	}
	batch := func(recs ...[]byte) *kgo.Record {
		var v []byte
		for _, r := range recs {
			v = logrecord.AppendToBatch(v, r)
		}
		return &kgo.Record{Value: v, Headers: []kgo.RecordHeader{{Key: logrecord.HeaderBatch, Value: []byte("1")}}}
	}
	malformed := []byte{0xff, 0xff, 0xff}
	invalid := enc(1000, func(r *logrecord.Record) { r.RequestID = "" })
	old := enc(1001, func(r *logrecord.Record) { r.StartedAt = e.now.Add(-30 * 24 * time.Hour).UnixMilli() })
	broken := batch(enc(102, nil))
	broken.Value = append(broken.Value, 0x0a, 0x05, 0x01) // a record cut short
	tail := enc(1003, func(r *logrecord.Record) { r.Status = 1000 })
	msgs := []*kgo.Record{
		batch(enc(100, nil), malformed, invalid, enc(101, nil), old), // offset 10
		broken,                 // offset 11
		{Value: enc(103, nil)}, // offset 12
	}
	if err := e.produceMessages(p, msgs); err != nil {
		t.Fatal(err)
	}
	e.produce(p, 200, 250)                                                   // offsets 13..17
	if err := e.produceMessages(p, []*kgo.Record{batch(tail)}); err != nil { // offset 18, the last: marked loaded
		t.Fatal(err)
	}

	r := e.start(e.config())
	const loaded = 100 + 2 + 1 + 50
	e.waitRows(loaded, time.Minute)
	deadline := time.Now().Add(time.Minute)
	for r.c.Stats().DeadLettered < 5 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	e.checkExactlyOnce(loaded)
	for _, id := range []string{"req-0000100", "req-0000101", "req-0000103"} {
		if n := e.count("SELECT count() FROM {db}.requests WHERE request_id = '" + id + "'"); n != 1 {
			t.Errorf("%s: %d rows; want 1", id, n)
		}
	}
	if n := e.count("SELECT count() FROM {db}.requests WHERE request_id = 'req-0000102'"); n != 0 {
		t.Errorf("req-0000102, in the broken batch: %d rows; want none", n)
	}
	if got := e.count("SELECT toUInt64(max(max_offset)) FROM {db}.loaded_offsets"); got != 18 {
		t.Errorf("loaded offset = %d; want 18 (the dead-lettered tail)", got)
	}
	if st := r.c.Stats(); st.Consumed != loaded+5 || st.DeadLettered != 5 || st.Inserted != loaded {
		t.Errorf("stats = %+v; want %d consumed, %d inserted, 5 dead-lettered", st, loaded+5, loaded)
	}

	want := []struct {
		offset int
		index  string // "" for a whole message
		reason string
		value  []byte
	}{
		{10, "1", ReasonMalformed, malformed},
		{10, "2", ReasonInvalid, invalid},
		{10, "4", ReasonOutOfWindow, old},
		{11, "", ReasonMalformed, broken.Value},
		{18, "0", ReasonInvalid, tail},
	}
	for i, d := range e.readDeadRecords(len(want)) {
		w, h := want[i], headers(d)
		index, indexed := h[HeaderOriginalIndex]
		_, batched := h[logrecord.HeaderBatch]
		if h[HeaderReason] != w.reason || h[HeaderOriginalOffset] != strconv.Itoa(w.offset) || index != w.index ||
			indexed != (w.index != "") || batched != (w.index == "") || h[HeaderError] == "" {
			t.Errorf("dead letter %d headers = %v; want reason %s from offset %d, index %q", i, h, w.reason, w.offset, w.index)
		}
		if !bytes.Equal(d.Value, w.value) {
			t.Errorf("dead letter %d value = %x; want %x", i, d.Value, w.value)
		}
	}
}

// TestRebalance runs two collectors in one group: the second joins while
// the first loads, then the first leaves; every record is loaded once.
func TestRebalance(t *testing.T) {
	e := newEnv(t, 4, nil)
	const n = 6000
	p := e.producer()
	cfg := e.config()
	a := e.start(cfg)
	e.produce(p, 0, 2000)
	e.waitRows(500, time.Minute)
	b := e.start(cfg)
	e.produce(p, 2000, 4000)
	e.waitRows(3000, time.Minute)
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	e.produce(p, 4000, n)
	e.waitRows(n, time.Minute)
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	e.checkExactlyOnce(n)
	sa, sb := a.c.Stats(), b.c.Stats()
	if sa.Inserted == 0 || sb.Inserted == 0 || sb.Generations < 2 {
		t.Errorf("stats a = %+v, b = %+v; want both to load and b to see the rebalance", sa, sb)
	}
}
