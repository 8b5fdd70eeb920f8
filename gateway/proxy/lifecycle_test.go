package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

func TestStartReportsBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv, err := New(Config{
		Listeners: []Listener{{Addr: "127.0.0.1:0"}, {Addr: ln.Addr().String()}},
		Snapshots: nopSnapshots{},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Start()
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("Start = %v, want an error naming %s", err, ln.Addr())
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "no listeners", cfg: Config{Snapshots: nopSnapshots{}}},
		{name: "no snapshots", cfg: Config{Listeners: []Listener{{Addr: "127.0.0.1:0"}}}},
		{name: "bad address", cfg: Config{Listeners: []Listener{{Addr: "nope"}}, Snapshots: nopSnapshots{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
}

func TestShutdownDrainsInFlight(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	up := newHTTPTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = w.Write([]byte("finished"))
	}))
	e := newEnv(t, envOptions{})
	e.route(e.service("slow", up.URL), func(r *entity.Route) { r.Paths = []string{"/slow"} })
	e.sync()

	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := e.client.Get(e.http + "/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-started
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- e.srv.Shutdown(ctx)
	}()
	// New connections are refused while the request drains.
	waitFor(t, "listener closed", func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(e.http, "http://"), time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	close(release)
	r := <-done
	if r.err != nil || r.code != 200 || r.body != "finished" {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := e.srv.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestClientGoneIs499(t *testing.T) {
	up := newHTTPTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", itoa(bigBody))
		_, _ = io.Copy(w, &pattern{size: bigBody})
	}))
	e := newEnv(t, envOptions{})
	e.route(e.service("big", up.URL), func(r *entity.Route) { r.Paths = []string{"/big"} })
	e.sync()

	rc := dialRaw(t, e.http)
	if _, err := io.WriteString(rc.c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	rc.c.Close() // gone, 49 MB early
	rec := e.sink.byRequestID(t, resp.Header.Get("X-Request-Id"))
	if rec.Status != 499 || rec.ErrorClass != "client_closed" || rec.UpstreamStatus != 200 {
		t.Fatalf("record: status %d, class %q, upstream %d", rec.Status, rec.ErrorClass, rec.UpstreamStatus)
	}
	if rec.ResponseBytes >= bigBody {
		t.Errorf("record says %d bytes went out", rec.ResponseBytes)
	}
}

func TestBodilessResponses(t *testing.T) {
	up := newHTTPTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		default:
			w.Header().Set("Content-Length", "1234")
			if r.Method != "HEAD" {
				_, _ = w.Write(make([]byte, 1234))
			}
		}
	}))
	e := newEnv(t, envOptions{})
	e.route(e.service("nobody", up.URL), func(r *entity.Route) { r.Paths = []string{"/"}; r.StripPath = new(bool) })
	e.sync()
	tests := []struct {
		name, method, path string
		code               int
		length             int64
	}{
		{name: "head keeps the length", method: "HEAD", path: "/x", code: 200, length: 1234},
		{name: "204", method: "GET", path: "/204", code: 204, length: 0},
		{name: "304", method: "GET", path: "/304", code: 304, length: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(mustRequest(t, tc.method, e.http+tc.path, nil))
			b := readAll(t, resp)
			if resp.StatusCode != tc.code || len(b) != 0 {
				t.Fatalf("status %d, %d body bytes", resp.StatusCode, len(b))
			}
			if tc.method == "HEAD" && resp.ContentLength != tc.length {
				t.Errorf("Content-Length = %d, want %d", resp.ContentLength, tc.length)
			}
		})
	}
	// The connection is still in sync: a normal request follows.
	if resp, b := e.get("/x"); resp.StatusCode != 200 || len(b) != 1234 {
		t.Fatalf("follow-up: %d, %d bytes", resp.StatusCode, len(b))
	}
}

func TestPluginPanicIs500(t *testing.T) {
	up := echoServer(t, "up")
	f := &plugin.Factory{
		Name: "boom", Priority: 1,
		NewConfig: func() any { return &struct{}{} },
		New:       func(any, plugin.Env) (any, error) { return boom{}, nil },
	}
	e := newEnv(t, envOptions{factories: []*plugin.Factory{f}})
	rt := e.route(e.service("svc", up.URL), func(r *entity.Route) { r.Paths = []string{"/boom"} })
	e.create(&entity.Plugin{Name: "boom", Route: &entity.Ref{ID: rt.ID}, Config: json.RawMessage(`{}`)})
	e.sync()
	resp, b := e.get("/boom")
	if resp.StatusCode != 500 {
		t.Fatalf("status = %d: %s", resp.StatusCode, b)
	}
	if k := decodeKongError(t, resp, b); k.Message != "An unexpected error occurred" {
		t.Errorf("message = %q", k.Message)
	}
	// The node keeps serving.
	if resp, _ := e.get("/boom"); resp.StatusCode != 500 {
		t.Fatalf("second request: %d", resp.StatusCode)
	}
}

type boom struct{}

func (boom) Access(*plugin.Context) { panic("plugin bug") }

func TestHashCookieIsSet(t *testing.T) {
	up := echoServer(t, "up")
	e := newEnv(t, envOptions{})
	e.create(&entity.Upstream{Meta: entity.Meta{ID: "hc"}, Name: "sticky", Algorithm: "consistent-hashing",
		HashOn: "cookie", HashOnCookie: "tg-sticky", HashOnCookiePath: "/", HashFallback: "none", Slots: 100})
	e.create(&entity.Target{Target: strings.TrimPrefix(up.URL, "http://"), Weight: new(100), Upstream: &entity.Ref{ID: "hc"}})
	e.route(e.service("sticky", "http://sticky:80"), func(r *entity.Route) { r.Paths = []string{"/sticky"} })
	e.sync()
	resp, b := e.get("/sticky")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	c := resp.Header.Get("Set-Cookie")
	if !strings.HasPrefix(c, "tg-sticky=") || !strings.Contains(c, "Path=/") {
		t.Fatalf("Set-Cookie = %q", c)
	}
	value := strings.TrimPrefix(strings.SplitN(c, ";", 2)[0], "tg-sticky=")
	if got := decodeEcho(t, b).Header.Get("Cookie"); got != "tg-sticky="+value {
		t.Errorf("upstream Cookie = %q", got)
	}
	// With the cookie, none is set again.
	resp, _ = e.get("/sticky", "Cookie", "tg-sticky="+value)
	if resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("cookie set again: %q", resp.Header.Get("Set-Cookie"))
	}
}

type nopSnapshots struct{}

func (nopSnapshots) Load() *snapshotT { return nil }
