package load

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if Run or ClosedLoop leaves a worker or a
// connection's goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// ClosedLoop's fasthttp.HostClient has its idle connections closed
		// when it returns; the client's cleaner notices the pool is empty
		// only after sleeping out its idle period, and then ends.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		// The default dialer's cache of resolved addresses is cleaned by one
		// process-wide goroutine, started by the first dial.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
	)
}

// arrivals is an upstream that records when each request arrived.
type arrivals struct {
	mu    sync.Mutex
	times []time.Time
	bad   atomic.Int64 // requests missing the expected header
}

func (a *arrivals) handler(header string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.times = append(a.times, time.Now())
		a.mu.Unlock()
		if header != "" && r.Header.Get("Apikey") != header {
			a.bad.Add(1)
		}
		_, _ = w.Write([]byte("ok"))
	}
}

func (a *arrivals) snapshot() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.times...)
}

func testConfig(url string, rate float64, d time.Duration) Config {
	cfg := DefaultConfig()
	cfg.URL = url
	cfg.Rate = rate
	cfg.Duration = d
	cfg.Connections = 8
	cfg.Timeout = 2 * time.Second
	return cfg
}

func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// TestRunSendsRateTimesDuration checks the open-loop schedule: the run
// sends ⌊rate·duration⌋ requests spread evenly over the duration, over
// keep-alive connections, with the configured headers.
func TestRunSendsRateTimesDuration(t *testing.T) {
	tests := []struct {
		name        string
		rate        float64
		duration    time.Duration
		connections int
	}{
		{name: "400/s for 1s over 8 connections", rate: 400, duration: time.Second, connections: 8},
		{name: "fractional rate 33.3/s for 0.9s over 1 connection", rate: 33.3, duration: 900 * time.Millisecond, connections: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a arrivals
			srv := httptest.NewServer(a.handler("secret"))
			defer srv.Close()

			cfg := testConfig(srv.URL+"/x", tc.rate, tc.duration)
			cfg.Connections = tc.connections
			cfg.Header = http.Header{"Apikey": {"secret"}}
			res := run(t, cfg)

			want := int64(tc.rate * tc.duration.Seconds())
			if res.Scheduled != want || res.Completed != want {
				t.Errorf("scheduled %d, completed %d; want %d of each", res.Scheduled, res.Completed, want)
			}
			if res.Errors != 0 || res.Non2xx != 0 || res.Unsent != 0 {
				t.Errorf("errors %d (%v), non2xx %d, unsent %d; want none", res.Errors, res.FirstError, res.Non2xx, res.Unsent)
			}
			if res.Dials > int64(tc.connections) {
				t.Errorf("dials %d: want at most %d, the connections being kept alive", res.Dials, tc.connections)
			}
			if n := a.bad.Load(); n != 0 {
				t.Errorf("%d requests arrived without the configured header", n)
			}
			if got := res.Latency.Count(); got != uint64(want) {
				t.Errorf("latency histogram holds %d values, want %d", got, want)
			}

			// Open loop: the requests are spread over the whole duration,
			// not sent as fast as the server answers. Count the arrivals in
			// the first half of the span between first and last.
			times := a.snapshot()
			if int64(len(times)) != want {
				t.Fatalf("server saw %d requests, want %d", len(times), want)
			}
			first, last := times[0], times[len(times)-1]
			if span := last.Sub(first); span < tc.duration/2 {
				t.Fatalf("requests arrived within %v; a schedule over %v was wanted", span, tc.duration)
			}
			mid := first.Add(tc.duration / 2)
			var early int
			for _, at := range times {
				if at.Before(mid) {
					early++
				}
			}
			if frac := float64(early) / float64(len(times)); frac < 0.3 || frac > 0.7 {
				t.Errorf("%.0f%% of requests arrived in the first half of the run, want about half", 100*frac)
			}
		})
	}
}

func TestRunCountsStatusesAndErrors(t *testing.T) {
	var n atomic.Int64
	alternate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer alternate.Close()

	closing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = w.Write([]byte("bye"))
	}))
	defer closing.Close()

	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("part one, "))
		w.(http.Flusher).Flush() // no length known: the body goes out in chunks
		_, _ = w.Write([]byte("part two"))
	}))
	defer chunked.Close()

	// Raw servers answer every request on a connection with the same bytes.
	toEOF := rawServer(t, "HTTP/1.1 200 OK\r\n\r\nthe body runs until the server closes", closeAfterAnswer)
	garbage := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: nine\r\n\r\nnine", keepOpen)

	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until the client gives up
	}))
	defer hanging.Close()

	tests := []struct {
		name    string
		url     string
		timeout time.Duration
		check   func(t *testing.T, r *Result)
	}{
		{
			name: "non-2xx responses are completed but counted",
			url:  alternate.URL,
			check: func(t *testing.T, r *Result) {
				if r.Completed != r.Scheduled || r.Non2xx != n.Load()/2 || r.Errors != 0 {
					t.Errorf("completed %d of %d, non2xx %d (server sent %d), errors %d", r.Completed, r.Scheduled, r.Non2xx, n.Load()/2, r.Errors)
				}
			},
		},
		{
			name: "Connection: close opens a connection per request",
			url:  closing.URL,
			check: func(t *testing.T, r *Result) {
				if r.Completed != r.Scheduled || r.Errors != 0 || r.Dials != r.Scheduled {
					t.Errorf("completed %d of %d, errors %d (%v), dials %d", r.Completed, r.Scheduled, r.Errors, r.FirstError, r.Dials)
				}
			},
		},
		{
			name: "chunked responses keep their connection",
			url:  chunked.URL,
			check: func(t *testing.T, r *Result) {
				if r.Completed != r.Scheduled || r.Errors != 0 || r.Dials > 8 {
					t.Errorf("completed %d of %d, errors %d (%v), dials %d", r.Completed, r.Scheduled, r.Errors, r.FirstError, r.Dials)
				}
			},
		},
		{
			name: "a body without a length ends with the connection",
			url:  toEOF,
			check: func(t *testing.T, r *Result) {
				if r.Completed != r.Scheduled || r.Errors != 0 || r.Dials != r.Scheduled {
					t.Errorf("completed %d of %d, errors %d (%v), dials %d", r.Completed, r.Scheduled, r.Errors, r.FirstError, r.Dials)
				}
			},
		},
		{
			name: "malformed responses are errors",
			url:  garbage,
			check: func(t *testing.T, r *Result) {
				if r.Errors != r.Scheduled || r.Completed != 0 || !errors.Is(r.FirstError, errMalformed) || !strings.Contains(r.FirstError.Error(), "Content-Length") {
					t.Errorf("errors %d of %d, completed %d, first error %v; want every response refused naming its Content-Length", r.Errors, r.Scheduled, r.Completed, r.FirstError)
				}
			},
		},
		{
			name: "nothing listening",
			url:  "http://" + closedAddr(t) + "/",
			check: func(t *testing.T, r *Result) {
				if r.Errors != r.Scheduled || r.Completed != 0 || r.FirstError == nil || !strings.Contains(r.FirstError.Error(), "connect") {
					t.Errorf("errors %d of %d, completed %d, first error %v", r.Errors, r.Scheduled, r.Completed, r.FirstError)
				}
				if r.Latency.Count() != 0 {
					t.Errorf("failed requests recorded %d latencies", r.Latency.Count())
				}
			},
		},
		{
			name:    "no answer within the timeout",
			url:     hanging.URL,
			timeout: 100 * time.Millisecond,
			check: func(t *testing.T, r *Result) {
				if r.Errors != r.Scheduled || r.Timeouts != r.Errors || !isTimeout(r.FirstError) {
					t.Errorf("errors %d of %d, timeouts %d, first error %v; want every request timed out", r.Errors, r.Scheduled, r.Timeouts, r.FirstError)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(tc.url, 100, 200*time.Millisecond)
			if tc.timeout > 0 {
				cfg.Timeout = tc.timeout
			}
			res := run(t, cfg)
			if res.Scheduled != 20 {
				t.Fatalf("scheduled %d, want 20", res.Scheduled)
			}
			tc.check(t, res)
		})
	}
}

// TestRunMeasuresFromDueTime stalls the server once. Every request due
// during the stall waits for the one connection, and that wait is part of
// its latency: a closed-loop client would have sent nothing during the
// stall and recorded a single slow request.
func TestRunMeasuresFromDueTime(t *testing.T) {
	const stall = 300 * time.Millisecond
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 20 {
			time.Sleep(stall)
		}
	}))
	defer srv.Close()

	cfg := testConfig(srv.URL, 200, time.Second)
	cfg.Connections = 1
	res := run(t, cfg)
	if res.Completed != 200 || res.Errors != 0 {
		t.Fatalf("completed %d, errors %d (%v); want 200 and 0", res.Completed, res.Errors, res.FirstError)
	}
	// About 60 requests fall due during the stall, waiting from 300 ms
	// down to nearly nothing: more than 10% of all wait over 50 ms.
	if p90 := res.Latency.Quantile(0.9); p90 < 50*time.Millisecond {
		t.Errorf("p90 latency %v: the stall was not charged to the requests that waited for it", p90)
	}
	if max := res.Latency.Max(); max < stall {
		t.Errorf("max latency %v, want at least the %v stall", max, stall)
	}
	if lag := res.SendLag.Quantile(0.9); lag < 50*time.Millisecond {
		t.Errorf("p90 send lag %v: the wait for the busy connection should show as send lag", lag)
	}
	// The scheduler itself was not held up by the stall.
	if n := res.ScheduleLag.Count(); n != 200 {
		t.Errorf("schedule lag recorded for %d requests, want 200", n)
	}
	if sched, send := res.ScheduleLag.Quantile(0.9), res.SendLag.Quantile(0.9); sched > send/2 {
		t.Errorf("p90 schedule lag %v against p90 send lag %v: the scheduler waited for the server", sched, send)
	}
}

// TestRunRetriesStaleKeepAlive uses a server that answers one request per
// connection without saying it will close, then closes on the next request
// unanswered. That request never reached the server's handler, so it is
// retried on a new connection.
func TestRunRetriesStaleKeepAlive(t *testing.T) {
	url := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", closeOnNextRequest)

	cfg := testConfig(url, 100, 300*time.Millisecond)
	cfg.Connections = 2
	res := run(t, cfg)
	if res.Completed != res.Scheduled || res.Errors != 0 {
		t.Errorf("completed %d of %d, errors %d (%v); want every request retried to success", res.Completed, res.Scheduled, res.Errors, res.FirstError)
	}
}

func TestRunCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	cfg := testConfig(srv.URL, 100, time.Minute)
	begin := time.Now()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("Run took %v after its context ended", took)
	}
	if res.Unsent == 0 || res.Completed+res.Errors+res.Unsent != res.Scheduled {
		t.Errorf("completed %d + errors %d + unsent %d != scheduled %d, or nothing unsent", res.Completed, res.Errors, res.Unsent, res.Scheduled)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string // empty: valid
	}{
		{name: "defaults with a URL", mod: func(*Config) {}},
		{name: "no URL", mod: func(c *Config) { c.URL = "" }, wantErr: "url"},
		{name: "https", mod: func(c *Config) { c.URL = "https://127.0.0.1/" }, wantErr: "url"},
		{name: "bad URL", mod: func(c *Config) { c.URL = "http://[::1" }, wantErr: "url"},
		{name: "zero rate", mod: func(c *Config) { c.Rate = 0 }, wantErr: "rate"},
		{name: "NaN rate", mod: func(c *Config) { c.Rate = nan() }, wantErr: "rate"},
		{name: "negative duration", mod: func(c *Config) { c.Duration = -time.Second }, wantErr: "duration"},
		{name: "too many requests", mod: func(c *Config) { c.Rate = 1e9; c.Duration = time.Hour }, wantErr: "rate×duration"},
		{name: "no connections", mod: func(c *Config) { c.Connections = 0 }, wantErr: "connections"},
		{name: "no timeout", mod: func(c *Config) { c.Timeout = 0 }, wantErr: "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.URL = "http://127.0.0.1:8000/"
			tc.mod(&cfg)
			err := cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr+":")):
				t.Errorf("Validate() = %v, want an error naming %q", err, tc.wantErr)
			}
			if tc.wantErr != "" {
				if _, err := Run(context.Background(), cfg); err == nil {
					t.Errorf("Run accepted a config that Validate rejects")
				}
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

// serverClose says when rawServer closes a connection.
type serverClose int

const (
	keepOpen         serverClose = iota // never: it answers every request
	closeAfterAnswer                    // once it has written its first answer
	// closeOnNextRequest: it answers the first request, then takes the
	// next and closes without answering it, as a server whose keep-alive
	// timeout fires just as the client sends.
	closeOnNextRequest
)

// rawServer answers requests with answer and closes its connections as
// closing says. It returns the server's URL and stops with the test.
func rawServer(t *testing.T, answer string, closing serverClose) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				answered := false
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_ = req.Body.Close()
					if closing == closeOnNextRequest && answered {
						return
					}
					if _, err := c.Write([]byte(answer)); err != nil || closing == closeAfterAnswer {
						return
					}
					answered = true
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

// closedAddr returns an address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}
