package main

import (
	"strings"
	"testing"
)

// TestStatusListener checks /ready, /status and /metrics of a live node, and
// that "tollgate health" reads readiness from it.
func TestStatusListener(t *testing.T) {
	n := startTestNode(t)
	up := echoUpstream(t, "a")
	resp, body := do(t, "POST", n.adminURL()+"/services", map[string]string{"Content-Type": "application/json"},
		[]byte(`{"name":"s","url":"`+up.URL+`"}`))
	if resp.StatusCode != 201 {
		t.Fatalf("create service: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "POST", n.adminURL()+"/services/s/routes", map[string]string{"Content-Type": "application/json"}, []byte(`{"name":"r","paths":["/s"]}`))
	if resp.StatusCode != 201 {
		t.Fatalf("create route: %d %s", resp.StatusCode, body)
	}
	waitForConfig(t, n)
	if resp, _ := do(t, "GET", n.proxyURL()+"/s/x", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("proxied request: %d", resp.StatusCode)
	}

	if resp, body := do(t, "GET", n.statusURL()+"/ready", nil, nil); resp.StatusCode != 200 {
		t.Errorf("/ready = %d %s", resp.StatusCode, body)
	}
	_, body = do(t, "GET", n.statusURL()+"/status", nil, nil)
	for _, want := range []string{`"node_id":"test-node"`, `"config_version":2`, `"total_requests":1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/status lacks %s: %s", want, body)
		}
	}
	// A request is counted when its exchange ends, after the client has
	// the response.
	eventually(t, "/metrics to count the proxied request", func() bool {
		_, body := do(t, "GET", n.statusURL()+"/metrics", nil, nil)
		return strings.Contains(string(body), `tollgate_http_requests_total{code_class="2xx",route="r",service="s",workspace="default"} 1`+"\n")
	})
	_, body = do(t, "GET", n.statusURL()+"/metrics", nil, nil)
	for _, want := range []string{
		`tollgate_http_requests_total{code_class="2xx",route="r",service="s",workspace="default"} 1`,
		`tollgate_config_version 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The request's log record reaches the embedded store; the request
	// log's series say so.
	eventually(t, "the request log's metrics to count the record", func() bool {
		_, body := do(t, "GET", n.statusURL()+"/metrics", nil, nil)
		return strings.Contains(string(body), "tollgate_log_records_sent_total 1\n") &&
			strings.Contains(string(body), "tollgate_log_spool_records 0\n") &&
			strings.Contains(string(body), "tollgate_log_records_dropped_total 0\n")
	})

	addr := strings.TrimPrefix(n.statusURL(), "http://")
	if code, out, errOut := runCLI(t, nil, "health", "--status-listen", addr); code != 0 || !strings.Contains(out, "ready") {
		t.Errorf("health: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "health", "--status-listen", "127.0.0.1:1"); code != 1 || !strings.Contains(errOut, "not reachable") {
		t.Errorf("health of nothing: %d %q", code, errOut)
	}
}
