package logship

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/tollgate/tollgate/gateway/spool"
	"github.com/tollgate/tollgate/internal/logrecord"
)

func TestMain(m *testing.M) {
	if runBrokerChild() {
		return
	}
	goleak.VerifyTestMain(m)
}

const topic = "tollgate.requests"

// record returns the i-th test record; BillingUnits carries i so order can
// be checked after the round trip through Kafka.
func record(i int) *logrecord.Record {
	return &logrecord.Record{
		RequestID:        fmt.Sprintf("req-%06d", i),
		StartedAt:        1767225600000 + int64(i),
		NodeID:           "gw-1",
		Workspace:        "default",
		ServiceID:        "0f3a9d52-3c1b-4e7a-8d6f-1a2b3c4d5e6f",
		RouteID:          "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
		RoutePath:        "/v1/orders/{id}",
		Method:           "GET",
		Protocol:         "https",
		Host:             "api.example.com",
		Path:             fmt.Sprintf("/v1/orders/%d", i),
		ClientIP:         "203.0.113.42",
		UserAgent:        "loadgen/1.0",
		Status:           200,
		UpstreamStatus:   200,
		Responder:        "upstream",
		UpstreamTries:    1,
		UpstreamAddr:     "10.0.3.17:8080",
		LatencyTotalMs:   3.5,
		RequestBytes:     312,
		ResponseBytes:    2048,
		AuthOutcome:      "authenticated",
		RateLimitOutcome: "allowed",
		Billable:         true,
		BillingUnits:     int64(i),
	}
}

// freePort returns a port nothing listens on: connections are refused until
// a broker is started on it.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func startBroker(t testing.TB, port, partitions int) *kfake.Cluster {
	t.Helper()
	var c *kfake.Cluster
	var err error
	// The port was just freed (or a previous broker just closed); retry
	// briefly in case the kernel has not released it yet.
	for range 50 {
		c, err = kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(int32(partitions), topic))
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("start kfake on port %d: %v", port, err)
	}
	t.Cleanup(c.Close)
	return c
}

func testSettings(t testing.TB, port int) Settings {
	set := DefaultSettings()
	set.Brokers = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	set.SpoolDir = filepath.Join(t.TempDir(), "spool")
	set.Linger = 5 * time.Millisecond
	set.BatchSize = 200
	set.WriteTimeout = time.Second
	set.RetryBackoffMax = 100 * time.Millisecond
	set.CloseTimeout = 3 * time.Second
	return set
}

func open(t testing.TB, set Settings, hooks Hooks) *Sink {
	t.Helper()
	s, err := Open(set, slog.New(slog.DiscardHandler), hooks)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// readAll waits until the topic holds at least want distinct records and
// returns the BillingUnits of every record, per partition, in offset order.
// At-least-once delivery may have written some twice: offsets alone do not
// say that every record is in.
func readAll(t testing.TB, port, partitions, want int) [][]int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := readTopic(t, port, partitions)
		distinct := map[int]bool{}
		for _, recs := range out {
			for _, i := range recs {
				distinct[i] = true
			}
		}
		if len(distinct) >= want {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic holds %d distinct records, want %d", len(distinct), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readTopic returns the BillingUnits of every record the topic holds now,
// per partition, in offset order, from batches and from messages of one
// record alike.
func readTopic(t testing.TB, port, partitions int) [][]int {
	t.Helper()
	out := make([][]int, partitions)
	var d kafkaDestination
	for p, msgs := range readMessages(t, port, partitions) {
		for _, m := range msgs {
			recs := [][]byte{m.Value}
			if batched(m) {
				n, err := logrecord.CountBatch(m.Value)
				if err != nil {
					t.Fatalf("message %d of partition %d: %v", m.Offset, p, err)
				}
				recs = recs[:0]
				for rest := m.Value; n > 0; n-- {
					var b []byte
					b, rest = logrecord.NextInBatch(rest)
					recs = append(recs, b)
				}
			}
			for _, b := range recs {
				var rec logrecord.Record
				if err := logrecord.Decode(b, &rec); err != nil {
					t.Fatalf("decode: %v", err)
				}
				i := int(rec.BillingUnits)
				if want := record(i); rec != *want {
					t.Fatalf("record %d changed on the way:\n got %+v\nwant %+v", i, rec, *want)
				}
				if want := d.partition([]byte(rec.RequestID), partitions); want != p {
					t.Fatalf("record %d is in partition %d; its request id %q belongs in %d", i, p, rec.RequestID, want)
				}
				if !batched(m) && string(m.Key) != rec.RequestID {
					t.Fatalf("key %q, want the request id %q", m.Key, rec.RequestID)
				}
				out[p] = append(out[p], i)
			}
		}
	}
	return out
}

// batched reports whether m holds a batch of records.
func batched(m kafka.Message) bool {
	return len(m.Headers) > 0 && m.Headers[0].Key == logrecord.HeaderBatch
}

// readMessages returns the messages the topic holds now, per partition,
// in offset order.
func readMessages(t testing.TB, port, partitions int) [][]kafka.Message {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make([][]kafka.Message, partitions)
	for p := range partitions {
		conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, p)
		if err != nil {
			t.Fatalf("dial partition %d: %v", p, err)
		}
		end, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatalf("last offset of partition %d: %v", p, err)
		}
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p, MaxWait: 50 * time.Millisecond})
		for next := int64(0); next < end; {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("read partition %d: %v", p, err)
			}
			next = m.Offset + 1
			out[p] = append(out[p], m)
		}
		r.Close()
	}
	return out
}

// checkOrder asserts every record of from..to-1 arrived and each partition
// holds them in enqueue order. At-least-once delivery may repeat a record;
// only its first appearance counts for the order.
func checkOrder(t testing.TB, parts [][]int, from, to int) {
	t.Helper()
	seen := map[int]bool{}
	for p, recs := range parts {
		last := -1
		for _, i := range recs {
			if seen[i] {
				continue
			}
			seen[i] = true
			if i <= last {
				t.Fatalf("partition %d: record %d after %d", p, i, last)
			}
			last = i
		}
	}
	for i := from; i < to; i++ {
		if !seen[i] {
			t.Fatalf("record %d never arrived (%d distinct arrived)", i, len(seen))
		}
	}
	if len(seen) != to-from {
		t.Fatalf("%d distinct records arrived, want %d", len(seen), to-from)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDeliversInOrder(t *testing.T) {
	tests := []struct {
		name       string
		partitions int
		n          int
		single     bool
	}{
		{"one partition: total order", 1, 3000, false},
		{"three partitions: order per partition", 3, 3000, false},
		{"one record per message", 3, 3000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := freePort(t)
			startBroker(t, port, tt.partitions)
			var observed atomic.Int64
			set := testSettings(t, port)
			set.OneRecordPerMessage = tt.single
			s := open(t, set, Hooks{ObserveSend: func(n int, _ time.Duration, err error) {
				var pe *PartialError
				switch {
				case err == nil:
					observed.Add(int64(n))
				case errors.As(err, &pe):
					observed.Add(int64(n - len(pe.Failed)))
				}
			}})
			for i := range tt.n {
				s.Enqueue(record(i))
			}
			parts := readAll(t, port, tt.partitions, tt.n)
			checkOrder(t, parts, 0, tt.n)
			// Batches hold many records; without them every message
			// holds one.
			msgs, records := 0, 0
			for p, ms := range readMessages(t, port, tt.partitions) {
				msgs += len(ms)
				records += len(parts[p])
				for _, m := range ms {
					if batched(m) == tt.single {
						t.Fatalf("message %d of partition %d: headers %v, one record per message %v", m.Offset, p, m.Headers, tt.single)
					}
				}
			}
			if tt.single && msgs != records || !tt.single && msgs*10 > records {
				t.Errorf("%d messages for %d records, one record per message %v", msgs, records, tt.single)
			}
			if tt.partitions > 1 {
				for p, recs := range parts {
					if len(recs) == 0 {
						t.Errorf("partition %d received nothing: keys do not spread", p)
					}
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			st := s.Stats()
			if st.Sent < int64(tt.n) || st.Dropped != 0 || st.SpoolRecords != 0 || observed.Load() != st.Sent {
				t.Fatalf("stats %+v, observed sends %d", st, observed.Load())
			}
		})
	}
}

func TestBrokerAwayAndBack(t *testing.T) {
	const partitions = 2
	port := freePort(t)
	set := testSettings(t, port)
	set.QueueSize = 256
	broker := startBroker(t, port, partitions)
	s := open(t, set, Hooks{})

	// Phase 1: broker up.
	for i := range 100 {
		s.Enqueue(record(i))
	}
	checkOrder(t, readAll(t, port, partitions, 100), 0, 100)

	// Phase 2: broker gone while records keep flowing. Enqueue keeps
	// returning and memory stays bounded; records go to the spool.
	broker.Close()
	maxQueued := 0
	for i := 100; i < 3000; i++ {
		s.Enqueue(record(i))
		maxQueued = max(maxQueued, s.Stats().Queued)
		if i%20 == 0 {
			// Requests arrive at a rate a disk can absorb; a tight loop
			// would outrun the fsyncs and (rightly) drop records.
			time.Sleep(time.Millisecond)
		}
	}
	// The queue, the overflow backlog and the batch being built.
	if limit := 2*set.QueueSize + set.BatchSize; maxQueued > limit {
		t.Fatalf("%d records in memory, bound is %d", maxQueued, limit)
	}
	waitFor(t, "records to reach the spool", func() bool { st := s.Stats(); return st.Queued == 0 && st.Spooling })
	if st := s.Stats(); st.SpoolRecords == 0 || st.Dropped != 0 {
		t.Fatalf("while the broker is away: %+v", st)
	}

	// Phase 3: a new broker on the same address. It starts empty, so it
	// must receive every record of phase 2 and later, in order.
	startBroker(t, port, partitions)
	for i := 3000; i < 3500; i++ {
		s.Enqueue(record(i))
	}
	waitFor(t, "the spool to drain", func() bool { st := s.Stats(); return !st.Spooling && st.SpoolRecords == 0 })
	parts := readAll(t, port, partitions, 3400)
	// Records of phase 1 may be resent to the new broker only if they were
	// spooled, which they were not: phase 1 ended with them acknowledged.
	checkOrder(t, parts, 100, 3500)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Dropped != 0 || st.SendErrors == 0 {
		t.Fatalf("stats %+v: want no drops and some send errors", st)
	}
}

func TestReplayAfterRestart(t *testing.T) {
	const partitions = 1
	port := freePort(t)
	set := testSettings(t, port)

	// First run: no broker at all; Close leaves everything in the spool.
	s1 := open(t, set, Hooks{})
	for i := range 500 {
		s1.Enqueue(record(i))
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if st := s1.Stats(); st.SpoolRecords != 500 || st.Dropped != 0 {
		t.Fatalf("after close without a broker: %+v", st)
	}
	s1.Enqueue(record(9999))
	if st := s1.Stats(); st.Dropped != 1 {
		t.Fatalf("Enqueue after Close not counted as dropped: %+v", st)
	}

	// Second run: the broker is up; the old spool goes first.
	startBroker(t, port, partitions)
	s2 := open(t, set, Hooks{})
	for i := 500; i < 700; i++ {
		s2.Enqueue(record(i))
	}
	parts := readAll(t, port, partitions, 700)
	checkOrder(t, parts, 0, 700)
	waitFor(t, "the spool to drain", func() bool { return s2.Stats().SpoolRecords == 0 })
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSpoolFullDropsNewest(t *testing.T) {
	port := freePort(t) // no broker: everything goes to the spool
	set := testSettings(t, port)
	set.SpoolMaxBytes = minSpoolBytes
	var hooked atomic.Int64
	s := open(t, set, Hooks{Dropped: func(n int) { hooked.Add(int64(n)) }})
	const n = 1000 // about 400 KiB encoded: several times the spool
	for i := range n {
		s.Enqueue(record(i))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Dropped == 0 || st.Dropped != hooked.Load() {
		t.Fatalf("dropped %d, hook saw %d", st.Dropped, hooked.Load())
	}
	if int64(st.SpoolRecords)+st.Dropped != n || st.Spooled != int64(st.SpoolRecords) {
		t.Fatalf("stats %+v do not account for %d records", st, n)
	}
	// The spool on disk holds exactly the oldest records: drop newest.
	sp, err := spool.Open(set.SpoolDir, spool.Options{MaxBytes: set.SpoolMaxBytes, SegmentBytes: set.SpoolMaxBytes / 4})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	recs, err := sp.Peek(n)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(recs)) != n-st.Dropped {
		t.Fatalf("spool holds %d records, want %d", len(recs), n-st.Dropped)
	}
	for i, b := range recs {
		var r logrecord.Record
		if err := logrecord.Decode(b, &r); err != nil || r.BillingUnits != int64(i) {
			t.Fatalf("spool record %d: units %d, err %v", i, r.BillingUnits, err)
		}
	}
}

func TestValidate(t *testing.T) {
	valid := func() Settings {
		s := DefaultSettings()
		s.SpoolDir = "/var/lib/tollgate/spool"
		return s
	}
	tests := []struct {
		name   string
		modify func(*Settings)
		want   []string
	}{
		{"defaults with a spool dir", func(*Settings) {}, nil},
		{"defaults need a spool dir", func(s *Settings) { s.SpoolDir = "" }, []string{"SpoolDir: required"}},
		{"no brokers", func(s *Settings) { s.Brokers = nil }, []string{"Brokers: at least one"}},
		{"broker without port", func(s *Settings) { s.Brokers = []string{"kafka", "k2:99999"} }, []string{"Brokers[0]", "Brokers[1]"}},
		{"bad topic", func(s *Settings) { s.Topic = "a topic!" }, []string{"Topic:"}},
		{"empty topic", func(s *Settings) { s.Topic = "" }, []string{"Topic: required"}},
		{"sizes and durations", func(s *Settings) {
			s.BatchSize, s.BatchBytes, s.QueueSize, s.Linger = 0, 10, 0, -1
			s.WriteTimeout, s.RetryBackoffMax, s.CloseTimeout, s.SpoolMaxBytes = 0, 0, 0, 10
		}, []string{"BatchSize", "BatchBytes", "QueueSize", "Linger", "WriteTimeout", "RetryBackoffMax", "CloseTimeout", "SpoolMaxBytes"}},
		{"TLS files without TLS", func(s *Settings) { s.TLS.CAFile = "ca.pem" }, []string{"TLS.Enabled"}},
		{"cert without key", func(s *Settings) { s.TLS = TLSSettings{Enabled: true, CertFile: "c.pem"} }, []string{"TLS.CertFile, TLS.KeyFile"}},
		{"unknown SASL", func(s *Settings) { s.SASL = SASLSettings{Mechanism: "gssapi", Username: "u", Password: "p"} }, []string{"SASL.Mechanism"}},
		{"SASL without credentials", func(s *Settings) { s.SASL.Mechanism = SASLScramSHA512 }, []string{"SASL.Username", "SASL.Password"}},
		{"credentials without SASL", func(s *Settings) { s.SASL.Password = "secret" }, []string{"SASL.Mechanism: empty"}},
		{"SASL plain", func(s *Settings) { s.SASL = SASLSettings{Mechanism: SASLPlain, Username: "u", Password: "p"} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.modify(&s)
			err := s.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors naming %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Settings)
		want   string
	}{
		{"invalid settings", func(s *Settings) { s.Topic = "" }, "Topic"},
		{"missing CA file", func(s *Settings) { s.TLS = TLSSettings{Enabled: true, CAFile: "/nonexistent/ca.pem"} }, "TLS.CAFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := testSettings(t, 9)
			tt.modify(&set)
			s, err := Open(set, nil, Hooks{})
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not name %q", err, tt.want)
			}
		})
	}
}

func TestPasswordNeverPrinted(t *testing.T) {
	set := DefaultSettings()
	set.SASL = SASLSettings{Mechanism: SASLScramSHA256, Username: "gw", Password: "hunter2"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("settings", "sasl", set.SASL, "all", set)
	for _, out := range []string{fmt.Sprintf("%v %+v %s", set, set, set.SASL), buf.String()} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("password printed: %s", out)
		}
	}
}

func TestRequestID(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"encoded record", logrecord.Append(nil, record(7)), []byte("req-000007")},
		{"no request id", logrecord.Append(nil, &logrecord.Record{Status: 200}), nil},
		{"garbage", []byte{0xff, 0xff}, nil},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := requestID(tt.in); !bytes.Equal(got, tt.want) {
				t.Fatalf("requestID = %q, want %q", got, tt.want)
			}
		})
	}
}

// BenchmarkEnqueue measures the request path's cost: encoding into a pooled
// buffer and queueing, with a live broker behind. A loop of Enqueue calls
// outruns any broker on a small machine, so the share of records dropped
// because the in-memory backlog was full is reported too.
func BenchmarkEnqueue(b *testing.B) {
	port := freePort(b)
	startBroker(b, port, 3)
	set := testSettings(b, port)
	set.QueueSize = 1 << 18
	set.BatchSize = 1000
	s := open(b, set, Hooks{})
	r := record(1)
	b.ReportAllocs()
	for b.Loop() {
		s.Enqueue(r)
	}
	b.StopTimer()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(s.Stats().Dropped)/float64(b.N), "dropped/op")
}
