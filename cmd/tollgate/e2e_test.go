package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// startTestNode runs a standalone node on loopback ports chosen by the
// kernel, over a store in a temporary data dir.
func startTestNode(t *testing.T) *node {
	t.Helper()
	s := DefaultSettings()
	s.ProxyListen = "127.0.0.1:0"
	s.AdminListen = "127.0.0.1:0"
	s.StatusListen = "127.0.0.1:0"
	s.AnalyticsListen = "127.0.0.1:0"
	s.DataDir = t.TempDir()
	s.NodeID = "test-node"
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	st, err := openBoltStore(s.DataDir, log)
	if err != nil {
		t.Fatal(err)
	}
	n, err := startNode(context.Background(), s, st, log, standaloneParts(context.Background(), s, log))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	return n
}

func (n *node) proxyURL() string  { return "http://" + n.proxy.Addrs()[0].String() }
func (n *node) adminURL() string  { return "http://" + n.adminLn.Addr().String() }
func (n *node) statusURL() string { return "http://" + n.statusLn.Addr().String() }

// echoUpstream answers with what it received, so tests can see what the
// gateway sent upstream.
func echoUpstream(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"upstream": name,
			"path":     r.URL.Path,
			"host":     r.Host,
			"headers":  r.Header,
			"body":     string(body),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

type echoed struct {
	Upstream string              `json:"upstream"`
	Path     string              `json:"path"`
	Host     string              `json:"host"`
	Headers  map[string][]string `json:"headers"`
}

func do(t *testing.T, method, url string, headers map[string]string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if strings.EqualFold(k, "host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestKongDeclarativeConfigEndToEnd imports a Kong user's kong.yml through
// the Admin API and drives requests through the proxy: routing, strip_path and
// preserve_host, key-auth, ACL, rate limiting, CORS and request size limits.
func TestKongDeclarativeConfigEndToEnd(t *testing.T) {
	n := startTestNode(t)
	a, b := echoUpstream(t, "a"), echoUpstream(t, "b")
	bHost, bPort, _ := net.SplitHostPort(strings.TrimPrefix(b.URL, "http://"))
	raw, err := os.ReadFile("testdata/kong.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer(
		"UPSTREAM_A", strings.TrimPrefix(a.URL, "http://"),
		"UPSTREAM_B_HOST", bHost,
		"UPSTREAM_B_PORT", bPort,
	).Replace(string(raw))

	resp, body := do(t, "POST", n.adminURL()+"/config", map[string]string{"Content-Type": "application/yaml"}, []byte(cfg))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /config: %d %s", resp.StatusCode, body)
	}
	waitForConfig(t, n)

	t.Run("strip_path and key-auth with hidden credentials", func(t *testing.T) {
		resp, body := do(t, "GET", n.proxyURL()+"/orders/42", map[string]string{"apikey": "alice-key"}, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var e echoed
		json.Unmarshal(body, &e)
		if e.Upstream != "a" || e.Path != "/v1/42" {
			t.Errorf("upstream %q path %q, want a /v1/42", e.Upstream, e.Path)
		}
		if _, ok := e.Headers["Apikey"]; ok {
			t.Error("hide_credentials: the key reached the upstream")
		}
		if got := e.Headers["X-Consumer-Username"]; len(got) != 1 || got[0] != "alice" {
			t.Errorf("X-Consumer-Username = %v", got)
		}
		if resp.Header.Get("X-Correlation-ID") == "" {
			t.Error("correlation-id not echoed downstream")
		}
	})
	t.Run("preserve_host", func(t *testing.T) {
		resp, body := do(t, "GET", n.proxyURL()+"/x", map[string]string{"Host": "orders.example.com", "apikey": "alice-key"}, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var e echoed
		json.Unmarshal(body, &e)
		if e.Host != "orders.example.com" || e.Path != "/v1/x" {
			t.Errorf("host %q path %q, want orders.example.com /v1/x", e.Host, e.Path)
		}
	})
	t.Run("no key is 401 with Kong's body", func(t *testing.T) {
		resp, body := do(t, "GET", n.proxyURL()+"/orders/1", nil, nil)
		if resp.StatusCode != 401 || !strings.Contains(string(body), "No API key found in request") {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Error("no WWW-Authenticate header")
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Error("gateway response without X-Request-Id")
		}
	})
	t.Run("wrong key is 401", func(t *testing.T) {
		resp, body := do(t, "GET", n.proxyURL()+"/orders/1", map[string]string{"apikey": "nope"}, nil)
		if resp.StatusCode != 401 || !strings.Contains(string(body), "Unauthorized") {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
	})
	t.Run("acl denies a consumer outside the group", func(t *testing.T) {
		resp, body := do(t, "GET", n.proxyURL()+"/orders/1", map[string]string{"apikey": "bob-key"}, nil)
		if resp.StatusCode != 403 || !strings.Contains(string(body), "You cannot consume this service") {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
	})
	t.Run("rate limit answers 429 with headers", func(t *testing.T) {
		// alice has used 2 of her 3 requests a minute above; the window may
		// have turned since, so send until limited, at most 4 more.
		var last *http.Response
		var lastBody []byte
		for i := 0; i < 5; i++ {
			last, lastBody = do(t, "GET", n.proxyURL()+"/orders/1", map[string]string{"apikey": "alice-key"}, nil)
			if last.StatusCode == 429 {
				break
			}
			if last.Header.Get("X-RateLimit-Limit-Minute") != "3" || last.Header.Get("RateLimit-Limit") != "3" {
				t.Fatalf("missing rate-limit headers: %v", last.Header)
			}
		}
		if last.StatusCode != 429 || !strings.Contains(string(lastBody), "API rate limit exceeded") {
			t.Fatalf("never limited: %d %s", last.StatusCode, lastBody)
		}
		if last.Header.Get("Retry-After") == "" || last.Header.Get("X-RateLimit-Remaining-Minute") != "0" {
			t.Errorf("429 headers: %v", last.Header)
		}
	})
	t.Run("cors preflight", func(t *testing.T) {
		resp, body := do(t, "OPTIONS", n.proxyURL()+"/catalog/items", map[string]string{
			"Origin":                        "https://shop.example.com",
			"Access-Control-Request-Method": "POST",
		}, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("preflight %d %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://shop.example.com" {
			t.Errorf("Access-Control-Allow-Origin = %q", got)
		}
		if got := resp.Header.Get("Access-Control-Max-Age"); got != "600" {
			t.Errorf("Access-Control-Max-Age = %q", got)
		}
	})
	t.Run("routing to the second service without strip_path", func(t *testing.T) {
		resp, body := do(t, "GET", n.proxyURL()+"/catalog/items", map[string]string{"Origin": "https://shop.example.com"}, nil)
		var e echoed
		json.Unmarshal(body, &e)
		if resp.StatusCode != 200 || e.Upstream != "b" || e.Path != "/catalog/items" {
			t.Fatalf("got %d %+v", resp.StatusCode, e)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" {
			t.Errorf("actual request without CORS headers: %v", resp.Header)
		}
	})
	t.Run("request size limit is 413", func(t *testing.T) {
		resp, body := do(t, "POST", n.proxyURL()+"/catalog/items", nil, bytes.Repeat([]byte("x"), 4096))
		if resp.StatusCode != 413 || !strings.Contains(string(body), "Request size limit exceeded") {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
		resp, _ = do(t, "POST", n.proxyURL()+"/catalog/items", nil, bytes.Repeat([]byte("x"), 512))
		if resp.StatusCode != 200 {
			t.Fatalf("small body refused: %d", resp.StatusCode)
		}
	})
	t.Run("no route is 404", func(t *testing.T) {
		resp, body := do(t, "GET", n.proxyURL()+"/nowhere", nil, nil)
		if resp.StatusCode != 404 || !strings.Contains(string(body), "no Route matched") {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
	})
}

// waitForConfig waits until the node serves the latest stored config version.
func waitForConfig(t *testing.T, n *node) {
	t.Helper()
	want, err := n.store.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		if v, _ := n.holder.Applied(); v >= want {
			return
		}
		sleepMs(10)
	}
	t.Fatalf("config version %d not applied", want)
}

// TestReadmeWalkthrough runs the README's curl walkthrough, as written, against
// a node on kernel-chosen ports.
func TestReadmeWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the README walkthrough: apt-get install curl")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := startTestNode(t)
	urls := strings.NewReplacer(
		"http://localhost:8001", n.adminURL(),
		"http://localhost:8000", n.proxyURL(),
		"http://127.0.0.1:8100", n.statusURL(),
		"http://localhost:8002", n.analyticsURL(),
	)
	script := urls.Replace(readmeBlock(t, readme, "walkthrough"))
	// Give the node a moment to apply each change: the walkthrough is typed
	// by a person, not replayed in microseconds.
	script = strings.ReplaceAll(script, "\ncurl -s -i "+n.proxyURL(), "\nsleep 0.2; curl -s -i "+n.proxyURL())
	out, err := exec.Command("bash", "-euo", "pipefail", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough failed: %v\n%s", err, out)
	}
	text := string(out)
	i401 := strings.Index(text, "HTTP/1.1 401")
	i200 := strings.LastIndex(text, "HTTP/1.1 200")
	if i401 < 0 || i200 < i401 {
		t.Fatalf("want a 401 without the key, then a 200 with it; got:\n%s", text)
	}
	if !strings.Contains(text, `"node_id":"test-node"`) {
		t.Errorf("the upstream's answer did not come through:\n%s", text)
	}
	if !strings.Contains(text, `"key":"alice-secret-key"`) {
		t.Errorf("the key is not shown in the response that created it:\n%s", text)
	}

	// The analytics block reads what the walkthrough's requests left.
	eventually(t, "the walkthrough's requests loaded", func() bool { return n.reqlog.load.Stats().Loaded >= 2 })
	script = urls.Replace(readmeBlock(t, readme, "analytics"))
	// A new token works once the analytics service has seen it: a person
	// typing gives it that moment.
	script = strings.ReplaceAll(script, "\ncurl -s '"+n.analyticsURL()+"/v1/usage", "\nsleep 0.5; curl -s '"+n.analyticsURL()+"/v1/usage")
	out, err = exec.Command("bash", "-euo", "pipefail", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("analytics block failed: %v\n%s", err, out)
	}
	text = string(out)
	for _, want := range []string{`"group_by":"consumer"`, `"name":"alice"`, `"token":"tga_`, `"consumer_name":"alice"`} {
		if !strings.Contains(text, want) {
			t.Errorf("analytics block output has no %s:\n%s", want, text)
		}
	}
}

// readmeBlock returns the shell block of the README between the markers
// <!-- name:start --> and <!-- name:end -->.
func readmeBlock(t *testing.T, readme []byte, name string) string {
	t.Helper()
	_, rest, ok := bytes.Cut(readme, []byte("<!-- "+name+":start -->"))
	block, _, ok2 := bytes.Cut(rest, []byte("<!-- "+name+":end -->"))
	if !ok || !ok2 {
		t.Fatalf("README has no %s block", name)
	}
	script := strings.TrimSpace(string(block))
	script = strings.TrimPrefix(script, "```sh")
	return strings.TrimSuffix(script, "```")
}
