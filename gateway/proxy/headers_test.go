package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
	"github.com/valyala/fasthttp"
)

// rawConn sends hand-written requests, so that tests control every byte.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, httpURL string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(httpURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) roundTrip(raw string) (*http.Response, []byte) {
	r.t.Helper()
	_ = r.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(r.c, raw); err != nil {
		r.t.Fatal(err)
	}
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp, b
}

func TestForwardedHeaders(t *testing.T) {
	up := echoServer(t, "up")
	spoofing := "GET /fwd/p?q=1 HTTP/1.1\r\nHost: api.example.com:8000\r\n" +
		"X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: front.example.com\r\n" +
		"X-Forwarded-Port: 443\r\nX-Forwarded-Path: /front\r\nX-Forwarded-Prefix: /pre\r\nX-Real-IP: 203.0.113.1\r\n" +
		"Via: 1.0 fred\r\n\r\n"
	tests := []struct {
		name    string
		trusted []netip.Prefix
		want    map[string]string // "" means absent
		client  string
	}{
		{
			name: "untrusted peer: replaced",
			want: map[string]string{
				"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "api.example.com",
				"X-Forwarded-Port": "<port>", "X-Forwarded-Path": "/fwd/p", "X-Forwarded-Prefix": "",
				"X-Real-Ip": "127.0.0.1", "Via": "1.0 fred, 1.1 tollgate",
			},
			client: "127.0.0.1",
		},
		{
			name:    "trusted peer: kept and appended",
			trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			want: map[string]string{
				"X-Forwarded-For": "203.0.113.9, 127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "front.example.com",
				"X-Forwarded-Port": "443", "X-Forwarded-Path": "/front", "X-Forwarded-Prefix": "/pre",
				"X-Real-Ip": "203.0.113.9", "Via": "1.0 fred, 1.1 tollgate",
			},
			client: "203.0.113.9",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{trusted: tc.trusted})
			e.route(e.service("svc", up.URL), func(r *entity.Route) { r.Paths = []string{"/fwd"} })
			e.sync()
			resp, b := dialRaw(t, e.http).roundTrip(spoofing)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			got := decodeEcho(t, b)
			_, port := hostPort(t, e.http)
			for name, want := range tc.want {
				if want == "<port>" {
					want = itoa(port)
				}
				if v := strings.Join(got.Header.Values(name), ","); v != want {
					t.Errorf("%s = %q, want %q", name, v, want)
				}
			}
			if got.Header.Get("X-Request-Id") != resp.Header.Get("X-Request-Id") {
				t.Errorf("upstream X-Request-Id %q, client got %q", got.Header.Get("X-Request-Id"), resp.Header.Get("X-Request-Id"))
			}
			if v := resp.Header.Get("Via"); v != "1.1 tollgate" {
				t.Errorf("response Via = %q", v)
			}
			rec := e.sink.byRequestID(t, resp.Header.Get("X-Request-Id"))
			if rec.ClientIP != tc.client {
				t.Errorf("record client IP = %q, want %q", rec.ClientIP, tc.client)
			}
		})
	}
}

func TestTrustedProtoRoutesHTTPS(t *testing.T) {
	up := echoServer(t, "up")
	e := newEnv(t, envOptions{trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	e.route(e.service("svc", up.URL), func(r *entity.Route) { r.Paths = []string{"/s"}; r.Protocols = []string{"https"} })
	e.sync()
	if resp, b := e.get("/s", "X-Forwarded-Proto", "https"); resp.StatusCode != 200 {
		t.Fatalf("https via a trusted proxy: status %d: %s", resp.StatusCode, b)
	}
	if resp, _ := e.get("/s"); resp.StatusCode != 426 {
		t.Fatalf("plain http: status %d, want 426", resp.StatusCode)
	}
}

func TestHopByHopHeaders(t *testing.T) {
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Connection", "X-Resp-Hop, close")
		h.Set("X-Resp-Hop", "1")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Authenticate", "Basic")
		h.Set("Via", "1.1 backend")
		h.Set("X-End-To-End", "yes")
		echoHandler("up")(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go up.Serve(ln)
	defer up.Close()

	e := newEnv(t, envOptions{})
	e.route(e.service("svc", "http://"+ln.Addr().String()), func(r *entity.Route) { r.Paths = []string{"/hop"} })
	e.sync()

	rc := dialRaw(t, e.http)
	req := "GET /hop HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n" +
		"Proxy-Authorization: Basic Zm9vOmJhcg==\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n" +
		"Upgrade: h2c\r\nX-End-To-End: yes\r\n\r\n"
	for i := 0; i < 2; i++ { // the upstream's Connection: close must not close the client's
		resp, b := rc.roundTrip(req)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d: %s", i, resp.StatusCode, b)
		}
		got := decodeEcho(t, b)
		for _, h := range []string{"X-Hop", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Te", "Upgrade"} {
			if v := got.Header.Get(h); v != "" {
				t.Errorf("upstream received %s: %q", h, v)
			}
		}
		if c := got.Header.Get("Connection"); c != "" && !strings.EqualFold(c, "keep-alive") {
			t.Errorf("upstream received Connection: %q", c)
		}
		if got.Header.Get("X-End-To-End") != "yes" {
			t.Error("end-to-end request header lost")
		}
		for _, h := range []string{"X-Resp-Hop", "Keep-Alive", "Proxy-Authenticate"} {
			if v := resp.Header.Get(h); v != "" {
				t.Errorf("client received %s: %q", h, v)
			}
		}
		if resp.Close {
			t.Error("client connection closed because the upstream's was")
		}
		if resp.Header.Get("X-End-To-End") != "yes" {
			t.Error("end-to-end response header lost")
		}
		if v := resp.Header.Get("Via"); v != "1.1 backend, 1.1 tollgate" {
			t.Errorf("response Via = %q", v)
		}
	}
}

func TestReceivedRequestHopByHop(t *testing.T) {
	cases := []struct {
		raw  string
		want int
	}{
		{"", hopAll},
		{"Host: x\r\nUser-Agent: a\r\n\r\n", hopNone},
		{"Host: x\r\nConnection: keep-alive\r\n\r\n", hopConnection},
		{"Host: x\r\nconnection:  Close \r\n\r\n", hopConnection},
		{"Host: x\r\nConnection: keep-alive, X-Hop\r\n\r\n", hopAll},
		{"Host: x\r\nConnection: keep-alive\r\n X-Hop\r\n\r\n", hopAll},
		{"Host: x\r\nKeep-Alive: timeout=5\r\n\r\n", hopAll},
		{"Host: x\r\nte: trailers\r\n\r\n", hopAll},
		{"Host: x\r\nTransfer-Encoding: chunked\r\n\r\n", hopAll},
		{"Host: x\r\nProxy-Authorization: Basic eA==\r\n\r\n", hopAll},
		{"Host: x\r\nProxy-Connection: keep-alive\r\n\r\n", hopAll},
		{"Host: x\r\nUPGRADE: websocket\r\n\r\n", hopAll},
		{"Host: x\r\nX-Connection: 1\r\nTeapot: 1\r\n\r\n", hopNone},
	}
	for _, c := range cases {
		if got := rawRequestHopByHop([]byte(c.raw)); got != c.want {
			t.Errorf("%q: got %d, want %d", c.raw, got, c.want)
		}
	}

	// Both ways of stripping leave the same request.
	for _, raw := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Keep: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Keep: 1\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: x\r\nX-Keep: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX-Keep: 1\r\n\r\n",
	} {
		var a, b fasthttp.RequestHeader
		for _, h := range []*fasthttp.RequestHeader{&a, &b} {
			if err := h.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
				t.Fatal(err)
			}
		}
		stripRequestHopByHop(&a)
		stripReceivedRequestHopByHop(&b)
		if string(a.Header()) != string(b.Header()) || a.ConnectionClose() != b.ConnectionClose() {
			t.Errorf("%q:\nfull pass %q (close %v)\nfast pass %q (close %v)", raw, a.Header(), a.ConnectionClose(), b.Header(), b.ConnectionClose())
		}
	}
}
