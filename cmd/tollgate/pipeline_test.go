package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/lockedbuffer"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tollgate/tollgate/internal/clickhousetest"
	"github.com/tollgate/tollgate/internal/logrecord"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

// clickhouse is this test binary's ClickHouse server (Debian's
// clickhouse-server, started on first use).
var sharedClickHouse clickhousetest.Shared

// The gateway's gocql sessions may leave goroutines ending after the
// tests: no leak check here.
func TestMain(m *testing.M) { os.Exit(sharedClickHouse.Main(m, false)) }

// sendRequests sends n GET requests through the node to path and returns
// the request ids the node answered with (X-Request-Id).
func sendRequests(t *testing.T, n *node, path string, count int) []string {
	t.Helper()
	ids := make([]string, 0, count)
	for i := range count {
		req, _ := http.NewRequest("GET", n.proxyURL()+path+fmt.Sprintf("/%d?secret=s3", i), nil)
		req.Header.Set("User-Agent", "pipeline-test/1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
		id := resp.Header.Get("X-Request-Id")
		if id == "" {
			t.Fatalf("request %d: no X-Request-Id in the response", i)
		}
		ids = append(ids, id)
	}
	return ids
}

// checkRecord checks the fields a user relies on of one stored record.
func checkRecord(t *testing.T, r logrecord.Record, nodeID, serviceID, routeID string) {
	t.Helper()
	switch {
	case r.NodeID != nodeID, r.ServiceID != serviceID, r.RouteID != routeID, r.Workspace != "default":
		t.Errorf("record ids: node %q service %q route %q workspace %q; want %q %q %q default",
			r.NodeID, r.ServiceID, r.RouteID, r.Workspace, nodeID, serviceID, routeID)
	case r.Method != "GET" || r.Status != 200 || r.UpstreamStatus != 200 || r.Responder != "upstream":
		t.Errorf("record: %s status %d upstream %d responder %q", r.Method, r.Status, r.UpstreamStatus, r.Responder)
	case !strings.HasPrefix(r.Path, "/logged/") || strings.Contains(r.Path, "secret"):
		t.Errorf("record path %q: want the path without its query string", r.Path)
	case r.UserAgent != "pipeline-test/1" || r.ClientIP != "127.0.0.1":
		t.Errorf("record client: %q from %q", r.UserAgent, r.ClientIP)
	case r.ResponseBytes <= 0 || r.LatencyTotalMs <= 0 || r.StartedAt <= 0:
		t.Errorf("record measures: %d bytes, %.3f ms, started %d", r.ResponseBytes, r.LatencyTotalMs, r.StartedAt)
	}
}

// A standalone node loads every request it proxies into its embedded
// analytics store, once, with the fields of the request, and keeps them
// across a restart.
func TestStandaloneRequestLog(t *testing.T) {
	n := startTestNode(t)
	up := echoUpstream(t, "logged")
	svc := adminDo(t, n, "POST", "/services", `{"name":"logged","url":"`+up.URL+`"}`, 201)
	route := adminDo(t, n, "POST", "/services/logged/routes", `{"name":"logged","paths":["/logged"]}`, 201)
	waitForConfig(t, n)
	const count = 200
	ids := sendRequests(t, n, "/logged", count)

	ctx := context.Background()
	eventually(t, "every request loaded into the embedded store", func() bool {
		return n.reqlog.load.Stats().Loaded >= count
	})
	tot, err := n.reqlog.store.RawTotals(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if tot.Requests != count {
		t.Errorf("%d requests stored, want exactly %d", tot.Requests, count)
	}
	roll, _ := n.reqlog.store.MinuteTotals(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if roll.Requests != count {
		t.Errorf("per-minute rollup counts %d requests, want %d", roll.Requests, count)
	}
	r, ok, err := n.reqlog.store.Get(ctx, ids[count/2])
	if err != nil || !ok {
		t.Fatalf("request %s not stored: %v", ids[count/2], err)
	}
	checkRecord(t, r, "test-node", jsonField(t, svc, "id"), jsonField(t, route, "id"))

	var st map[string]any
	if err := jsonGet(n.statusURL()+"/status", &st); err != nil {
		t.Fatal(err)
	}
	rl, _ := st["request_log"].(map[string]any)
	if rl["destination"] != "embedded" || rl["loaded"] != float64(count) || rl["dropped"] != float64(0) {
		t.Errorf("/status request_log = %v", rl)
	}
}

// Requests through a cluster node reach ClickHouse through Kafka and the
// collector exactly once, with their fields: the commands run as a user
// runs them (migrate clickhouse up, collector), against Debian's
// ClickHouse and an in-process Kafka-protocol broker.
func TestPipelineToClickHouse(t *testing.T) {
	ch := sharedClickHouse.Server(t)
	db := ch.Database(t)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "tollgate.requests", "tollgate.requests.dead"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	brokers := strings.Join(kc.ListenAddrs(), ",")
	env := map[string]string{
		"TOLLGATE_CLICKHOUSE_ADDR": ch.Addr(), "TOLLGATE_CLICKHOUSE_DATABASE": db,
		"TOLLGATE_KAFKA_BROKERS": brokers, "TOLLGATE_LOG_LEVEL": "warn",
		"TOLLGATE_STATUS_LISTEN": "127.0.0.1:0", "TOLLGATE_COLLECTOR_BATCH_TIME": "100ms",
	}
	code, out, errOut := runCLI(t, env, "migrate", "clickhouse", "up")
	if code != 0 || !strings.Contains(out, "applied 001") {
		t.Fatalf("migrate clickhouse up: %d %q %q", code, out, errOut)
	}
	if code, out, _ := runCLI(t, env, "migrate", "clickhouse", "up"); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate clickhouse up: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, env, "migrate", "clickhouse", "status"); code != 0 || !strings.Contains(out, "applied") {
		t.Fatalf("migrate clickhouse status: %d %q", code, out)
	}

	ctx, stopCollector := context.WithCancel(context.Background())
	collectorErr := &lockedbuffer.Buffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"collector"}, io.Discard, collectorErr, func(k string) string { return env[k] })
	}()
	defer func() {
		stopCollector()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("collector exited %d: %s", code, collectorErr.String())
			}
		case <-time.After(time.Minute):
			t.Error("collector did not stop within a minute")
		}
	}()

	c, _ := newTestCluster(t)
	s := DefaultSettings()
	s.ProxyListen, s.AdminListen, s.StatusListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	s.DataDir = t.TempDir()
	s.NodeID = "gw-1"
	s.Cluster.CassandraHosts, s.Cluster.CassandraKeyspace = c.addr, c.keyspace
	s.Pipeline.KafkaBrokers = brokers
	n, err := startGateway(context.Background(), s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	up := echoUpstream(t, "logged")
	svc := adminDo(t, n, "POST", "/services", `{"name":"logged","url":"`+up.URL+`"}`, 201)
	route := adminDo(t, n, "POST", "/services/logged/routes", `{"name":"logged","paths":["/logged"]}`, 201)
	eventually(t, "the route served", func() bool { return proxyStatus(n, "/logged/0") == 200 })
	const count = 300
	ids := sendRequests(t, n, "/logged", count)

	conn := ch.Conn(t, db)
	countRows := func(query string) uint64 {
		var v uint64
		if err := conn.QueryRow(context.Background(), query).Scan(&v); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return v
	}
	// The route check above logged requests too: count this test's ids.
	idList := "'" + strings.Join(ids, "','") + "'"
	eventually(t, "every request in ClickHouse", func() bool {
		return countRows("SELECT count() FROM requests WHERE request_id IN ("+idList+")") >= count
	})
	total := countRows("SELECT count() FROM requests")
	if rows := countRows("SELECT count() FROM requests WHERE request_id IN (" + idList + ")"); rows != count {
		t.Errorf("%d rows for the %d requests, want exactly %d", rows, count, count)
	}
	if uniq := countRows("SELECT uniqExact(request_id) FROM requests"); uniq != total {
		t.Errorf("%d rows but %d request ids: duplicates", total, uniq)
	}
	eventually(t, "the gateway's spool empty and everything sent", func() bool {
		st := n.reqlog.sink.Stats()
		return st.Queued == 0 && st.SpoolRecords == 0 && uint64(st.Sent) == total
	})
	// An INSERT makes the raw rows visible a moment before its
	// materialized views' rows, and ClickHouse writes the views one
	// after another: wait for every traffic rollup, which the analytics
	// below read.
	for _, r := range clickhousemigrate.Rollups {
		if r.Usage {
			continue
		}
		stmt := "SELECT toUInt64(" + r.Requests() + ") FROM " + r.Table
		eventually(t, r.Table+" to count every request", func() bool { return countRows(stmt) >= total })
		if rolled := countRows(stmt); rolled != total {
			t.Errorf("%s counts %d requests, the raw table %d", r.Table, rolled, total)
		}
	}

	var r logrecord.Record
	var status, upstream uint16
	err = conn.QueryRow(context.Background(),
		`SELECT node_id, workspace, service_id, route_id, method, path, user_agent, client_ip, responder, status, upstream_status
		 FROM requests WHERE request_id = ?`, ids[7]).
		Scan(&r.NodeID, &r.Workspace, &r.ServiceID, &r.RouteID, &r.Method, &r.Path, &r.UserAgent, &r.ClientIP, &r.Responder, &status, &upstream)
	if err != nil {
		t.Fatalf("read request %s: %v", ids[7], err)
	}
	r.Status, r.UpstreamStatus = int(status), int(upstream)
	r.ResponseBytes, r.LatencyTotalMs, r.StartedAt = 1, 1, 1 // checked below in SQL
	checkRecord(t, r, "gw-1", jsonField(t, svc, "id"), jsonField(t, route, "id"))
	if bad := countRows("SELECT count() FROM requests WHERE response_bytes = 0 OR latency_total_ms <= 0"); bad != 0 {
		t.Errorf("%d rows without response bytes or latency", bad)
	}
	svcID := jsonField(t, svc, "id")
	checkClusterAnalytics(t, env, c, n, svcID, countRows("SELECT count() FROM requests WHERE service_id = '"+svcID+"'"))
}

// jsonField returns a string field of a JSON object.
func jsonField(t *testing.T, body []byte, key string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	v, _ := m[key].(string)
	if v == "" {
		t.Fatalf("no %q in %s", key, body)
	}
	return v
}

func jsonGet(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
