package proxy

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

func TestLogRecordFields(t *testing.T) {
	up := newHTTPTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(201)
		_, _ = w.Write([]byte("created!"))
	}))
	e := newEnv(t, envOptions{})
	svc := e.service("records", up.URL)
	rt := e.route(svc, func(r *entity.Route) { r.Name = "rec-route"; r.Paths = []string{"/rec"} })
	e.sync()

	before := time.Now()
	req := mustRequest(t, "PUT", e.http+"/rec/a%20b?secret=1", strings.NewReader("0123456789"))
	req.Host = "api.example.com"
	req.Header.Set("User-Agent", "records-test/1.0")
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp := e.do(req)
	b := readAll(t, resp)
	if resp.StatusCode != 201 || string(b) != "created!" {
		t.Fatalf("response %d %q", resp.StatusCode, b)
	}
	rec := e.sink.byRequestID(t, resp.Header.Get("X-Request-Id"))
	_, upPort := hostPort(t, up.URL)
	checks := []struct {
		field     string
		got, want any
	}{
		{"TraceID", rec.TraceID, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"NodeID", rec.NodeID, "node-1"},
		{"Workspace", rec.Workspace, "default"},
		{"ServiceID", rec.ServiceID, svc.ID},
		{"RouteID", rec.RouteID, rt.ID},
		{"RoutePath", rec.RoutePath, "/rec"},
		{"Method", rec.Method, "PUT"},
		{"Protocol", rec.Protocol, "http"},
		{"Host", rec.Host, "api.example.com"},
		{"Path", rec.Path, "/rec/a%20b"},
		{"ClientIP", rec.ClientIP, "127.0.0.1"},
		{"UserAgent", rec.UserAgent, "records-test/1.0"},
		{"Status", rec.Status, 201},
		{"UpstreamStatus", rec.UpstreamStatus, 201},
		{"Responder", rec.Responder, "upstream"},
		{"UpstreamTries", rec.UpstreamTries, 1},
		{"UpstreamAddr", rec.UpstreamAddr, "127.0.0.1:" + itoa(upPort)},
		{"RequestBytes", rec.RequestBytes, int64(10)},
		{"ResponseBytes", rec.ResponseBytes, int64(8)},
		{"ErrorClass", rec.ErrorClass, ""},
		{"Billable", rec.Billable, true},
		{"BillingUnits", rec.BillingUnits, int64(1)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.field, c.got, c.want)
		}
	}
	if d := rec.StartedAt - before.UnixMilli(); d < -1000 || d > 5000 {
		t.Errorf("StartedAt is %d ms off", d)
	}
	if rec.LatencyUpstreamMs < 20 || rec.LatencyTotalMs < rec.LatencyUpstreamMs || rec.LatencyGatewayMs < 0 {
		t.Errorf("latencies: total %.2f, upstream %.2f, gateway %.2f", rec.LatencyTotalMs, rec.LatencyUpstreamMs, rec.LatencyGatewayMs)
	}
	if d := rec.LatencyTotalMs - rec.LatencyUpstreamMs - rec.LatencyGatewayMs; d > 0.01 || d < -0.01 {
		t.Errorf("total %.3f != upstream %.3f + gateway %.3f", rec.LatencyTotalMs, rec.LatencyUpstreamMs, rec.LatencyGatewayMs)
	}
}

// TestOneRecordPerRequest sends a mix of requests from several clients and
// counts records and metrics.
func TestOneRecordPerRequest(t *testing.T) {
	up := echoServer(t, "up")
	e := newEnv(t, envOptions{})
	svc := e.service("count", up.URL)
	e.route(svc, func(r *entity.Route) { r.Name = "count-route"; r.Paths = []string{"/count"} })
	dead := e.service("dead", "http://"+deadAddr(t), func(s *entity.Service) { s.Retries = new(1) })
	e.route(dead, func(r *entity.Route) { r.Name = "dead-route"; r.Paths = []string{"/dead"} })
	e.sync()

	const clients, each = 8, 25
	paths := []string{"/count", "/count", "/nowhere", "/dead"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]int{}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				resp, err := e.client.Get(e.http + paths[(c+i)%len(paths)])
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				ids[resp.Header.Get("X-Request-Id")] = resp.StatusCode
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(ids) != clients*each {
		t.Fatalf("%d distinct request ids for %d requests", len(ids), clients*each)
	}
	waitFor(t, "all records", func() bool { return len(e.sink.all()) >= clients*each })
	time.Sleep(20 * time.Millisecond)
	recs := e.sink.all()
	if len(recs) != clients*each {
		t.Fatalf("%d records for %d requests", len(recs), clients*each)
	}
	counts := map[int]int{}
	for _, r := range recs {
		status, ok := ids[r.RequestID]
		if !ok {
			t.Fatalf("record of an unknown request %q", r.RequestID)
		}
		if status != r.Status {
			t.Errorf("request %s: client saw %d, record says %d", r.RequestID, status, r.Status)
		}
		delete(ids, r.RequestID)
		counts[r.Status]++
	}
	want := map[int]int{200: clients * each / 2, 404: clients * each / 4, 502: clients * each / 4}
	for code, n := range want {
		if counts[code] != n {
			t.Errorf("%d records with status %d, want %d", counts[code], code, n)
		}
	}
	metricChecks := []struct {
		labels []string
		want   int
	}{
		{[]string{"service", "count", "route", "count-route", "code_class", "2xx", "workspace", "default"}, want[200]},
		{[]string{"service", "", "route", "", "code_class", "4xx", "workspace", ""}, want[404]},
		{[]string{"service", "dead", "route", "dead-route", "code_class", "5xx", "workspace", "default"}, want[502]},
	}
	for _, mc := range metricChecks {
		if got := metricValue(t, e, "tollgate_http_requests_total", mc.labels...); int(got) != mc.want {
			t.Errorf("tollgate_http_requests_total%v = %v, want %d", mc.labels, got, mc.want)
		}
	}
}
