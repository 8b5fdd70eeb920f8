package collector

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tollgate/tollgate/internal/clickhousetest"
	"github.com/tollgate/tollgate/internal/logrecord"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

const testTopic = "tollgate.requests"

// env is one test's Kafka (kfake, in-process, over sockets) and ClickHouse
// database, migrated.
type env struct {
	t         *testing.T
	brokers   []string
	kafka     *kfake.Cluster
	kafkaOpts []kfake.Opt // what kafka was started with
	ch        *clickhousetest.Server
	db        string
	conn      driver.Conn
	now       time.Time // records start around it
	// perMessage is how many records produce puts in one message, as a
	// logrecord batch the way gateways write; 0 writes each record as a
	// message of its own, without the batch header, as gateways did
	// before batches.
	perMessage int
}

// testPerMessage is the records of a test message: small, so that tests
// see many messages, batches that end in the middle of a fetch, and
// batches of the collector's that hold several records more than
// BatchRows.
const testPerMessage = 10

// newEnv starts kfake with the topic and its dead-letter topic (and opts)
// and migrates a fresh database on ch (the shared server when nil).
func newEnv(t *testing.T, partitions int32, ch *clickhousetest.Server, opts ...kfake.Opt) *env {
	t.Helper()
	if ch == nil {
		ch = sharedCH.Server(t)
	}
	opts = append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, testTopic, testTopic+".dead"),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}, opts...)
	kc, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(kc.Close)
	db := ch.Database(t)
	conn := ch.Conn(t, db)
	if _, err := clickhousemigrate.Up(t.Context(), conn, db, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return &env{t: t, brokers: kc.ListenAddrs(), kafka: kc, kafkaOpts: opts, ch: ch, db: db, conn: conn, now: time.Now(),
		perMessage: testPerMessage}
}

// config is a collector configuration for tests: small batches and short
// timeouts so that the tests see many batches and recover fast.
func (e *env) config() Config {
	cfg := DefaultConfig()
	cfg.Brokers = e.brokers
	cfg.Topic = testTopic
	cfg.ClickHouseAddr = e.ch.Addr()
	cfg.ClickHouseDatabase = e.db
	cfg.BatchRows = 200
	cfg.BatchInterval = 100 * time.Millisecond
	cfg.SessionTimeout = 6 * time.Second
	cfg.HeartbeatInterval = 500 * time.Millisecond
	cfg.RebalanceTimeout = 10 * time.Second
	cfg.InsertTimeout = 5 * time.Second
	cfg.DrainTimeout = 5 * time.Second
	cfg.RetryBackoff = 50 * time.Millisecond
	cfg.MaxRetryBackoff = 500 * time.Millisecond
	return cfg
}

// loader returns a Loader into e's database, closed when the test ends.
func (e *env) loader() *Loader {
	l := NewLoader(e.conn, e.db, e.config().insertOptions())
	e.t.Cleanup(func() { _ = l.Close() })
	return l
}

// running is a collector running in the background.
type running struct {
	c    *Collector
	done chan error
}

func (e *env) start(cfg Config) *running {
	e.t.Helper()
	return e.startWith(cfg, nil)
}

// startWith runs a collector after setup has set its test hooks.
func (e *env) startWith(cfg Config, setup func(*Collector)) *running {
	e.t.Helper()
	return e.startHooks(cfg, Hooks{}, setup)
}

// startHooks runs a collector reporting to hooks.
func (e *env) startHooks(cfg Config, hooks Hooks, setup func(*Collector)) *running {
	e.t.Helper()
	c, err := New(cfg, testLogger(e.t), hooks)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	if setup != nil {
		setup(c)
	}
	r := &running{c: c, done: make(chan error, 1)}
	go func() { r.done <- c.Run(context.Background()) }()
	e.t.Cleanup(func() { _ = r.stop() })
	return r
}

// stop closes the collector gracefully and returns Run's result.
func (r *running) stop() error {
	if err := r.c.Close(); err != nil {
		return err
	}
	select {
	case err := <-r.done:
		r.done <- nil // a second stop returns at once
		return err
	case <-time.After(time.Minute):
		return fmt.Errorf("Run did not return after Close")
	}
}

// testRecord returns the i-th test record: unique request id, started a
// few minutes ago, fields varied enough to land in several rollup rows.
func testRecord(i int, now time.Time) logrecord.Record {
	status := 200
	switch i % 10 {
	case 0:
		status = 502
	case 1:
		status = 404
	}
	return logrecord.Record{
		RequestID:         fmt.Sprintf("req-%07d", i),
		TraceID:           fmt.Sprintf("trace-%d", i),
		StartedAt:         now.Add(-time.Duration(i%120) * time.Second).UnixMilli(),
		NodeID:            fmt.Sprintf("node-%d", i%3),
		Workspace:         "default",
		ServiceID:         fmt.Sprintf("svc-%d", i%2),
		RouteID:           "route-1",
		RoutePath:         "/v1/items",
		ConsumerID:        fmt.Sprintf("consumer-%d", i%5),
		CredentialID:      "cred-1",
		Method:            "GET",
		Protocol:          "https",
		Host:              "api.example.com",
		Path:              fmt.Sprintf("/v1/items/%d", i),
		ClientIP:          "203.0.113.7",
		UserAgent:         "curl/8.0",
		Status:            status,
		UpstreamStatus:    status,
		Responder:         "upstream",
		UpstreamTries:     1,
		UpstreamAddr:      "10.0.0.1:8080",
		LatencyTotalMs:    float64(i%100) + 0.5,
		LatencyGatewayMs:  0.25,
		LatencyUpstreamMs: float64(i % 100),
		RequestBytes:      100,
		ResponseBytes:     int64(1000 + i),
		AuthOutcome:       "authenticated",
		RateLimitOutcome:  "allowed",
		Billable:          i%2 == 0,
		BillingUnits:      2,
	}
}

// producer writes encoded records to the topic with franz-go, spread
// over the partitions in turn unless opts say otherwise.
func (e *env) producer(opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(e.brokers...), kgo.DefaultProduceTopic(testTopic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner())}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		e.t.Fatalf("kgo: %v", err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}

// produce writes records [from, to).
func (e *env) produce(cl *kgo.Client, from, to int) {
	e.t.Helper()
	if err := e.tryProduce(cl, from, to); err != nil {
		e.t.Fatalf("produce: %v", err)
	}
}

// tryProduce writes records [from, to); other goroutines than the test's
// may call it.
func (e *env) tryProduce(cl *kgo.Client, from, to int) error {
	return e.produceMessages(cl, e.messages(from, to))
}

// messages are the messages that hold records [from, to): batches of
// e.perMessage records, each batch the records of one multiple of
// perMessage to the next (so records sent again make the same batches),
// keyed by its first record's request id; or one message per record,
// keyed by its request id.
func (e *env) messages(from, to int) []*kgo.Record {
	var msgs []*kgo.Record
	for i := from; i < to; {
		r := testRecord(i, e.now)
		m := &kgo.Record{Key: []byte(r.RequestID), Value: logrecord.Append(nil, &r)}
		i++
		if e.perMessage > 0 {
			m.Value = logrecord.AppendToBatch(nil, m.Value)
			for ; i < to && i%e.perMessage != 0; i++ {
				r := testRecord(i, e.now)
				m.Value = logrecord.AppendToBatch(m.Value, logrecord.Append(nil, &r))
			}
			m.Headers = []kgo.RecordHeader{{Key: logrecord.HeaderBatch, Value: []byte("1")}}
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func (e *env) produceMessages(cl *kgo.Client, msgs []*kgo.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, msgs...).FirstErr()
}

func (e *env) produceRaw(cl *kgo.Client, values ...[]byte) {
	e.t.Helper()
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Value: v})
	}
	if err := cl.ProduceSync(e.t.Context(), recs...).FirstErr(); err != nil {
		e.t.Fatalf("produce: %v", err)
	}
}

func (e *env) count(query string) uint64 {
	e.t.Helper()
	var n uint64
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.conn.QueryRow(ctx, strings.ReplaceAll(query, "{db}", e.db)).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// waitRows waits until the requests table holds at least n rows.
func (e *env) waitRows(n uint64, within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := e.count("SELECT count() FROM {db}.requests")
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d rows after %v; want %d", got, within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkExactlyOnce checks that requests and every minute and hour rollup
// count each of the n records once: no row missing, none twice, without
// FINAL. The day rollups are left to checkExactlyOnceFinal: Reconcile
// repairs a day only once it has settled.
func (e *env) checkExactlyOnce(n uint64) {
	e.t.Helper()
	checks := []struct{ name, query string }{
		{"raw rows", "SELECT count() FROM {db}.requests"},
		{"distinct request ids", "SELECT uniqExact(request_id) FROM {db}.requests"},
	}
	for _, r := range clickhousemigrate.Rollups {
		if r.Step < clickhousemigrate.Day {
			checks = append(checks, struct{ name, query string }{r.Table, "SELECT " + r.Requests() + " FROM {db}." + r.Table})
		}
	}
	for _, c := range checks {
		if got := e.count(c.query); got != n {
			e.t.Errorf("%s = %d; want %d", c.name, got, n)
		}
	}
}

func testLogger(t *testing.T) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// tWriter logs to t until the test ends; the collector's goroutines may
// log a little after that, which testing forbids.
type tWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// awaitReports waits for n reports of a hook on ch, each within a minute.
func awaitReports[T any](t *testing.T, ch <-chan T, n int, what string) {
	t.Helper()
	for range n {
		select {
		case <-ch:
		case <-time.After(time.Minute):
			t.Fatalf("no %s within a minute", what)
		}
	}
}

func contextWithDeadline(d time.Time) (context.Context, context.CancelFunc) {
	return context.WithDeadline(context.Background(), d)
}
