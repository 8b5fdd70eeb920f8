package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/lockedbuffer"
)

func (n *node) analyticsURL() string { return "http://" + n.analytics.Addr().String() }

// analyticsGet sends a GET with the bearer token (none when "") and
// decodes the JSON answer into v; it returns the status.
func analyticsGet(t *testing.T, url, token string, v any) int {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v in %s", url, err, body)
		}
	}
	return resp.StatusCode
}

// analyticsRows is the part of a breakdown or top answer the tests read.
type analyticsRows struct {
	Rows []struct {
		Key      string `json:"key"`
		Name     string `json:"name"`
		Deleted  bool   `json:"deleted"`
		Requests int64  `json:"requests"`
	} `json:"rows"`
}

// A standalone node serves the analytics API and the dashboard over its
// embedded store: requests show up counted by service and consumer with
// their configured names, a provider token reads its workspace, and a
// consumer token reads only that consumer's usage.
func TestStandaloneAnalytics(t *testing.T) {
	n := startTestNode(t)
	up := echoUpstream(t, "shop")
	adminDo(t, n, "POST", "/services", `{"name":"shop","url":"`+up.URL+`"}`, 201)
	adminDo(t, n, "POST", "/services/shop/routes", `{"name":"shop","paths":["/shop"]}`, 201)
	adminDo(t, n, "POST", "/services/shop/plugins", `{"name":"key-auth"}`, 201)
	for _, c := range []string{"alice", "bob"} {
		adminDo(t, n, "POST", "/consumers", `{"username":"`+c+`"}`, 201)
		adminDo(t, n, "POST", "/consumers/"+c+"/key-auth", `{"key":"`+c+`-key"}`, 201)
	}
	waitForConfig(t, n)
	send := func(key string, count int) {
		for i := range count {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/shop/%d", n.proxyURL(), i), nil)
			req.Header.Set("apikey", key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	send("alice-key", 7)
	send("bob-key", 3)
	send("wrong-key", 2) // 401s, by no consumer
	eventually(t, "every request loaded", func() bool { return n.reqlog.load.Stats().Loaded >= 12 })

	// From loopback with no admin token set, the caller is the admin.
	var byConsumer analyticsRows
	if code := analyticsGet(t, n.analyticsURL()+"/v1/top?group_by=consumer&range=1h", "", &byConsumer); code != 200 {
		t.Fatalf("top consumers: status %d", code)
	}
	got := map[string]int64{}
	for _, r := range byConsumer.Rows {
		got[r.Name] = r.Requests
	}
	if got["alice"] != 7 || got["bob"] != 3 || got[""] != 2 {
		t.Errorf("requests by consumer name = %v, want alice 7, bob 3, anonymous 2", got)
	}

	// A provider token reads its workspace.
	created := adminDo(t, n, "POST", "/analytics-tokens", `{"name":"provider"}`, 201)
	provider := jsonField(t, created, "token")
	eventually(t, "the provider token to work", func() bool {
		return analyticsGet(t, n.analyticsURL()+"/v1/whoami", provider, nil) == 200
	})
	var whoami struct {
		Scope     string `json:"scope"`
		Workspace string `json:"workspace"`
	}
	if code := analyticsGet(t, n.analyticsURL()+"/v1/whoami", provider, &whoami); code != 200 || whoami.Scope != "workspace" || whoami.Workspace != "default" {
		t.Errorf("provider token: status %d, scope %+v", code, whoami)
	}
	var series struct {
		Totals struct {
			Requests  int64 `json:"requests"`
			Errors4xx int64 `json:"errors_4xx"`
		} `json:"totals"`
	}
	if code := analyticsGet(t, n.analyticsURL()+"/v1/series?range=1h", provider, &series); code != 200 || series.Totals.Requests != 12 || series.Totals.Errors4xx != 2 {
		t.Errorf("provider series: status %d, totals %+v; want 12 requests, 2 errors", code, series.Totals)
	}

	// A consumer token reads only its consumer.
	created = adminDo(t, n, "POST", "/consumers/bob/analytics-tokens", `{"name":"bob-usage"}`, 201)
	bob := jsonField(t, created, "token")
	eventually(t, "bob's new token to work", func() bool {
		return analyticsGet(t, n.analyticsURL()+"/v1/whoami", bob, nil) == 200
	})
	var usage struct {
		Rows []struct {
			ConsumerName string `json:"consumer_name"`
			Requests     int64  `json:"requests"`
		} `json:"rows"`
	}
	if code := analyticsGet(t, n.analyticsURL()+"/v1/usage?range=24h", bob, &usage); code != 200 {
		t.Fatalf("bob's usage: status %d", code)
	}
	var bobs int64
	for _, r := range usage.Rows {
		if r.ConsumerName != "bob" {
			t.Errorf("bob's token sees the usage of %q", r.ConsumerName)
		}
		bobs += r.Requests
	}
	if bobs != 3 {
		t.Errorf("bob's usage counts %d requests, want 3", bobs)
	}
	if code := analyticsGet(t, n.analyticsURL()+"/v1/top?group_by=consumer&range=1h&consumer=alice", bob, nil); code != 403 {
		t.Errorf("bob's token asking for alice: status %d, want 403", code)
	}
	if code := analyticsGet(t, n.analyticsURL()+"/v1/series?range=1h", "not-a-token", nil); code != 401 {
		t.Errorf("unknown token: status %d, want 401", code)
	}

	// The dashboard is served from the binary.
	resp, err := http.Get(n.analyticsURL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(strings.ToLower(string(page)), "<html") {
		t.Errorf("dashboard: status %d, %d bytes", resp.StatusCode, len(page))
	}
}

// freeAddr returns a loopback address no one listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// checkClusterAnalytics runs `tollgate analytics` over the ClickHouse
// database the pipeline loaded and the cluster's config in Cassandra, and
// checks that it counts the requests of serviceID, named as configured,
// for the admin token and for a provider token created on a gateway node.
func checkClusterAnalytics(t *testing.T, env map[string]string, c *testCluster, n *node, serviceID string, want uint64) {
	t.Helper()
	addr, statusAddr := freeAddr(t), freeAddr(t)
	aenv := map[string]string{
		"TOLLGATE_ANALYTICS_LISTEN": addr, "TOLLGATE_STATUS_LISTEN": statusAddr, "TOLLGATE_ADMIN_TOKEN": "analytics-admin-secret",
		"TOLLGATE_CASSANDRA_HOSTS": c.addr, "TOLLGATE_CASSANDRA_KEYSPACE": c.keyspace,
		"TOLLGATE_DATA_DIR": t.TempDir(),
	}
	for k, v := range env {
		if _, ok := aenv[k]; !ok {
			aenv[k] = v
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	errOut := &lockedbuffer.Buffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"analytics"}, io.Discard, errOut, func(k string) string { return aenv[k] })
	}()
	defer func() {
		stop()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("analytics exited %d: %s", code, errOut.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("analytics did not stop within 30 s")
		}
	}()
	base := "http://" + addr
	eventually(t, "tollgate analytics to serve", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	if code := analyticsGet(t, base+"/v1/series?range=1h", "", nil); code != 401 {
		t.Errorf("no token with an admin token set: status %d, want 401", code)
	}
	check := func(who, token string) {
		var b analyticsRows
		if code := analyticsGet(t, base+"/v1/breakdown?group_by=service&range=1h", token, &b); code != 200 {
			t.Fatalf("%s: breakdown by service: status %d: %s", who, code, errOut.String())
		}
		for _, r := range b.Rows {
			if r.Key == serviceID {
				if r.Name != "logged" || uint64(r.Requests) != want {
					t.Errorf("%s: service %s named %q with %d requests, want \"logged\" with %d", who, r.Key, r.Name, r.Requests, want)
				}
				return
			}
		}
		t.Errorf("%s: service %s missing from %+v", who, serviceID, b.Rows)
	}
	check("admin", "analytics-admin-secret")

	// A token created through a gateway node's Admin API reaches the
	// analytics service through Cassandra.
	created := adminDo(t, n, "POST", "/analytics-tokens", `{"name":"provider"}`, 201)
	provider := jsonField(t, created, "token")
	eventually(t, "the new provider token to work", func() bool {
		return analyticsGet(t, base+"/v1/whoami", provider, nil) == 200
	})
	check("provider", provider)

	// The status listener: ready while ClickHouse answers, and the
	// requests above counted by endpoint and code.
	resp, err := http.Get("http://" + statusAddr + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/ready: status %d, want 200", resp.StatusCode)
	}
	resp, err = http.Get("http://" + statusAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`tollgate_analytics_requests_total{code="200",endpoint="/v1/breakdown"} 2`,
		`tollgate_analytics_requests_total{code="401",endpoint="/v1/series"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}
