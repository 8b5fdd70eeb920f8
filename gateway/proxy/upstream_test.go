package proxy

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

func TestReadTimeoutIs504(t *testing.T) {
	release := make(chan struct{})
	slow := echoServerFunc(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	e := newEnv(t, envOptions{})
	svc := e.service("slow", slow.URL, func(s *entity.Service) { s.ReadTimeout = 100 })
	e.route(svc, func(r *entity.Route) { r.Paths = []string{"/slow"} })
	e.sync()

	start := time.Now()
	resp, b := e.get("/slow")
	if resp.StatusCode != 504 {
		t.Fatalf("status = %d, want 504: %s", resp.StatusCode, b)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the timeout did not apply")
	}
	k := decodeKongError(t, resp, b)
	if k.Message != "The upstream server is timing out" {
		t.Errorf("message = %q", k.Message)
	}
	rec := e.sink.byRequestID(t, k.RequestID)
	if rec.Status != 504 || rec.ErrorClass != "timeout" || rec.UpstreamTries != 1 || rec.Responder != "gateway" {
		t.Errorf("record = status %d, class %q, tries %d, responder %q", rec.Status, rec.ErrorClass, rec.UpstreamTries, rec.Responder)
	}
}

func TestUnreachableUpstreamRetries(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		name      string
		retries   int
		wantTries int
	}{
		{name: "no retries", retries: 0, wantTries: 1},
		{name: "two retries", retries: 2, wantTries: 3},
		{name: "kong default", retries: 5, wantTries: 6},
	}
	for i, tc := range tests {
		svc := e.service("dead-"+itoa(i), "http://"+deadAddr(t), func(s *entity.Service) { s.Retries = new(tc.retries) })
		e.route(svc, func(r *entity.Route) { r.Paths = []string{"/dead" + itoa(i)} })
	}
	e.sync()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.get("/dead" + itoa(i))
			if resp.StatusCode != 502 {
				t.Fatalf("status = %d, want 502: %s", resp.StatusCode, b)
			}
			k := decodeKongError(t, resp, b)
			if k.Message != "An invalid response was received from the upstream server" {
				t.Errorf("message = %q", k.Message)
			}
			rec := e.sink.byRequestID(t, k.RequestID)
			if rec.UpstreamTries != tc.wantTries || rec.ErrorClass != "connect" {
				t.Errorf("record: tries %d (want %d), class %q", rec.UpstreamTries, tc.wantTries, rec.ErrorClass)
			}
		})
	}
}

func TestRetryGoesToAnotherTarget(t *testing.T) {
	alive := echoServer(t, "alive")
	e := newEnv(t, envOptions{})
	e.create(&entity.Upstream{Meta: entity.Meta{ID: "u1"}, Name: "pool", Algorithm: "round-robin", Slots: 100,
		HashOn: "none", HashFallback: "none"})
	dead := deadAddr(t)
	e.create(&entity.Target{Target: dead, Weight: new(100), Upstream: &entity.Ref{ID: "u1"}})
	e.create(&entity.Target{Target: strings.TrimPrefix(alive.URL, "http://"), Weight: new(100), Upstream: &entity.Ref{ID: "u1"}})
	svc := e.service("pooled", "http://pool:80", func(s *entity.Service) { s.Retries = new(1) })
	e.route(svc, func(r *entity.Route) { r.Paths = []string{"/pool"} })
	e.sync()

	retried := 0
	for i := 0; i < 6; i++ {
		resp, b := e.get("/pool")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d: %s", i, resp.StatusCode, b)
		}
		if got := decodeEcho(t, b); got.Name != "alive" || got.Host != "pool" {
			t.Fatalf("served by %q with Host %q", got.Name, got.Host)
		}
		rec := e.sink.byRequestID(t, resp.Header.Get("X-Request-Id"))
		if rec.UpstreamTries == 2 {
			retried++
		}
		if rec.UpstreamAddr != strings.TrimPrefix(alive.URL, "http://") {
			t.Errorf("record upstream addr = %q", rec.UpstreamAddr)
		}
	}
	if retried == 0 {
		t.Fatal("no request went to the dead target first: the test proves nothing")
	}
}

func TestAllTargetsDownIs503(t *testing.T) {
	up := echoServer(t, "up")
	e := newEnv(t, envOptions{})
	e.create(&entity.Upstream{Meta: entity.Meta{ID: "u2"}, Name: "down", Algorithm: "round-robin", Slots: 100})
	a, b := strings.TrimPrefix(up.URL, "http://"), deadAddr(t)
	e.create(&entity.Target{Target: a, Weight: new(100), Upstream: &entity.Ref{ID: "u2"}})
	e.create(&entity.Target{Target: b, Weight: new(100), Upstream: &entity.Ref{ID: "u2"}})
	e.route(e.service("down-svc", "http://down:80"), func(r *entity.Route) { r.Paths = []string{"/down"} })
	e.sync()
	for _, tg := range []string{a, b} {
		if err := e.ups.SetHealth("default", "down", tg, false); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := e.get("/down")
	if resp.StatusCode != 503 {
		t.Fatalf("status = %d, want 503: %s", resp.StatusCode, body)
	}
	k := decodeKongError(t, resp, body)
	if k.Message != "failure to get a peer from the ring-balancer" {
		t.Errorf("message = %q", k.Message)
	}
	rec := e.sink.byRequestID(t, k.RequestID)
	if rec.ErrorClass != "no_healthy_target" || rec.UpstreamTries != 0 {
		t.Errorf("record: class %q, tries %d", rec.ErrorClass, rec.UpstreamTries)
	}
	if n := metricValue(t, e, "tollgate_no_healthy_target_total"); n != 1 {
		t.Errorf("no-healthy-target count = %v, want 1", n)
	}
}

func TestBrokenResponseIs502(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			_, _ = c.Write([]byte("NOT HTTP AT ALL\r\n\r\n"))
			c.Close()
		}
	}()
	defer func() { ln.Close(); <-done }()
	e := newEnv(t, envOptions{})
	e.route(e.service("broken", "http://"+ln.Addr().String()), func(r *entity.Route) { r.Paths = []string{"/broken"} })
	e.sync()
	resp, b := e.get("/broken")
	if resp.StatusCode != 502 {
		t.Fatalf("status = %d, want 502: %s", resp.StatusCode, b)
	}
	rec := e.sink.byRequestID(t, decodeKongError(t, resp, b).RequestID)
	if rec.ErrorClass != "bad_response" || rec.UpstreamTries != 1 {
		t.Errorf("record: class %q, tries %d", rec.ErrorClass, rec.UpstreamTries)
	}
}

func echoServerFunc(t testing.TB, h http.HandlerFunc) *httptestServer {
	t.Helper()
	return newHTTPTestServer(t, h)
}
