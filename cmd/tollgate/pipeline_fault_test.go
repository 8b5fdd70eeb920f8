package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/lockedbuffer"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// broker is a Kafka-protocol broker (kfake) that persists its log under a
// directory, so that it can be stopped and started again on the same port
// with the records it had: an outage, not a new cluster.
type broker struct {
	t    *testing.T
	dir  string
	port int
	kc   *kfake.Cluster
}

func startBroker(t *testing.T) *broker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	b := &broker{t: t, dir: t.TempDir(), port: port}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *broker) start() {
	b.t.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(b.port), kfake.DataDir(b.dir),
		kfake.SeedTopics(3, "tollgate.requests", "tollgate.requests.dead"),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		b.t.Fatalf("start the broker on port %d: %v", b.port, err)
	}
	b.kc = kc
}

func (b *broker) stop() {
	if b.kc != nil {
		b.kc.Close()
		b.kc = nil
	}
}

func (b *broker) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// Kafka goes away while a cluster node serves traffic, the node restarts
// with records in its spool, Kafka comes back, and a malformed record
// lands in the topic: every request served is in ClickHouse exactly once,
// in the raw table and in the rollups, the node answered every request
// throughout, and the malformed record is in the dead-letter topic.
func TestPipelineSurvivesKafkaOutageAndGatewayRestart(t *testing.T) {
	ch := sharedClickHouse.Server(t)
	db := ch.Database(t)
	b := startBroker(t)
	env := map[string]string{
		"TOLLGATE_CLICKHOUSE_ADDR": ch.Addr(), "TOLLGATE_CLICKHOUSE_DATABASE": db,
		"TOLLGATE_KAFKA_BROKERS": b.addr(), "TOLLGATE_LOG_LEVEL": "error",
		"TOLLGATE_STATUS_LISTEN": "127.0.0.1:0", "TOLLGATE_COLLECTOR_BATCH_TIME": "100ms",
	}
	if code, out, errOut := runCLI(t, env, "migrate", "clickhouse", "up"); code != 0 {
		t.Fatalf("migrate clickhouse up: %d %q %q", code, out, errOut)
	}
	ctx, stopCollector := context.WithCancel(context.Background())
	done := make(chan int, 1)
	collectorLog := &lockedbuffer.Buffer{}
	go func() {
		done <- run(ctx, []string{"collector"}, io.Discard, collectorLog, func(k string) string { return env[k] })
	}()
	defer func() {
		stopCollector()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Error("collector did not stop within a minute")
		}
	}()

	c, _ := newTestCluster(t)
	dataDir := t.TempDir()
	nodeLog := &lockedbuffer.Buffer{}
	defer func() {
		if t.Failed() {
			t.Logf("node log:\n%s", nodeLog.String())
		}
	}()
	start := func() *node {
		s := DefaultSettings()
		s.ProxyListen, s.AdminListen, s.StatusListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		s.DataDir = dataDir
		s.NodeID = "gw-1"
		s.Cluster.CassandraHosts, s.Cluster.CassandraKeyspace = c.addr, c.keyspace
		s.Pipeline.KafkaBrokers = b.addr()
		n, err := startGateway(context.Background(), s, slog.New(slog.NewTextHandler(nodeLog, &slog.HandlerOptions{Level: slog.LevelInfo})))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := start()
	up := echoUpstream(t, "logged")
	adminDo(t, n, "POST", "/services", `{"name":"logged","url":"`+up.URL+`"}`, 201)
	adminDo(t, n, "POST", "/services/logged/routes", `{"name":"logged","paths":["/logged"]}`, 201)
	eventually(t, "the route served", func() bool { return proxyStatus(n, "/logged/0") == 200 })

	var ids []string
	ids = append(ids, sendRequests(t, n, "/logged", 100)...)

	// Kafka goes away: the node keeps answering, its records go to the
	// spool.
	b.stop()
	ids = append(ids, sendRequests(t, n, "/logged", 200)...)
	eventually(t, "records spooled while Kafka is away", func() bool {
		return n.reqlog.sink.Stats().SpoolRecords > 0
	})
	// The node restarts with its spool; Kafka is still away.
	if err := n.Close(); err != nil {
		t.Fatalf("close the node: %v", err)
	}
	n = start()
	defer n.Close()
	eventually(t, "the restarted node serves", func() bool { return proxyStatus(n, "/logged/0") == 200 })
	ids = append(ids, sendRequests(t, n, "/logged", 100)...)
	if st := n.reqlog.sink.Stats(); st.SpoolRecords == 0 || !st.Spooling {
		t.Errorf("restarted node: %+v, want its spool replaying", st)
	}

	// Kafka returns with the records it had.
	b.start()
	back := time.Now()
	for deadline := back.Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st := n.reqlog.sink.Stats()
		if st.SpoolRecords == 0 && !st.Spooling && st.Queued == 0 {
			t.Logf("the spool drained %s after Kafka returned", time.Since(back).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the spool did not drain within 60s of Kafka's return: %+v", st)
		}
	}

	conn := ch.Conn(t, db)
	count := func(query string) uint64 {
		var v uint64
		if err := conn.QueryRow(context.Background(), query).Scan(&v); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return v
	}
	idList := "'" + strings.Join(ids, "','") + "'"
	deadline := time.Now().Add(90 * time.Second)
	for count("SELECT count() FROM requests WHERE request_id IN ("+idList+")") < uint64(len(ids)) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests in ClickHouse after 90s; collector log:\n%s",
				count("SELECT count() FROM requests WHERE request_id IN ("+idList+")"), len(ids), collectorLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := count("SELECT count() FROM requests WHERE request_id IN (" + idList + ")"); got != uint64(len(ids)) {
		t.Errorf("%d rows for %d requests", got, len(ids))
	}
	// Requests of the route checks are logged too: the totals compare
	// the whole table with itself and with the rollups.
	total := count("SELECT count() FROM requests")
	if uniq := count("SELECT uniqExact(request_id) FROM requests"); uniq != total {
		t.Errorf("%d rows, %d request ids: duplicates reached ClickHouse", total, uniq)
	}
	eventually(t, "the rollups to count every request once", func() bool {
		return count("SELECT toUInt64(sumMerge(requests)) FROM requests_by_minute") == total &&
			count("SELECT toUInt64(sumMerge(requests)) FROM requests_by_hour") == total
	})
	if d := n.reqlog.sink.Stats().Dropped; d != 0 {
		t.Errorf("the node dropped %d records", d)
	}

	// A malformed record in the stream goes to the dead-letter topic and
	// blocks nothing.
	w := &kafka.Writer{Addr: kafka.TCP(b.addr()), Topic: "tollgate.requests", RequiredAcks: kafka.RequireAll}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), kafka.Message{Value: []byte("not a record")}); err != nil {
		t.Fatal(err)
	}
	more := sendRequests(t, n, "/logged", 10)
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.addr()}, Topic: "tollgate.requests.dead", Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	rctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, err := r.ReadMessage(rctx)
	if err != nil {
		t.Fatalf("no dead letter within 60s: %v", err)
	}
	if string(m.Value) != "not a record" {
		t.Errorf("dead letter %q", m.Value)
	}
	reason := ""
	for _, h := range m.Headers {
		if h.Key == "tollgate-dead-reason" {
			reason = string(h.Value)
		}
	}
	if reason == "" {
		t.Errorf("dead letter without a reason header: %v", m.Headers)
	}
	moreList := "'" + strings.Join(more, "','") + "'"
	eventually(t, "requests after the malformed record loaded", func() bool {
		return count("SELECT count() FROM requests WHERE request_id IN ("+moreList+")") == uint64(len(more))
	})
}
