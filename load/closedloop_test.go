package load

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

const wrkReport = `Running 10s test @ http://127.0.0.1:8000/tp-local
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  512.00us  12.00ms   90.00%
    Req/Sec    24.01k     1.20k   26.00k    80.00%
  240123 requests in 10.00s, 30.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  24012.30
Transfer/sec:      3.00MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name    string
		report  string
		want    ClosedLoopResult
		wantErr bool
	}{
		{
			name:   "errors and non-2xx",
			report: wrkReport,
			want:   ClosedLoopResult{RPS: 24012.30, Total: 240123, Non200: 7, Errors: 3, FirstNo: "wrk counted non-2xx/3xx responses"},
		},
		{
			name:   "socket errors only",
			report: "  1000 requests in 1.00s, 1MB read\n  Socket errors: connect 1, read 0, write 0, timeout 0\nRequests/sec:   1000.00\n",
			want:   ClosedLoopResult{RPS: 1000, Total: 1000, Errors: 1, FirstNo: "Socket errors: connect 1, read 0, write 0, timeout 0"},
		},
		{
			name:   "clean",
			report: "  500 requests in 1.00s, 1MB read\nRequests/sec:    500.00\n",
			want:   ClosedLoopResult{RPS: 500, Total: 500},
		},
		{name: "no numbers", report: "unable to connect to 127.0.0.1:1 Connection refused\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWrk([]byte(tt.report))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseWrk = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestClosedLoopWrk(t *testing.T) {
	// A stand-in wrk that records its arguments and prints a report.
	dir := t.TempDir()
	wrk := filepath.Join(dir, "wrk")
	args := filepath.Join(dir, "args")
	script := "#!/bin/sh\necho \"$@\" > " + args + "\ncat <<'EOF'\n" + wrkReport + "EOF\n"
	if err := os.WriteFile(wrk, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := ClosedLoop(context.Background(), ClosedLoopConfig{
		Addr: "127.0.0.1:9", Path: "/bench", Connections: 4, Duration: 1400 * time.Millisecond, Wrk: wrk,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Total != 240123 || r.Non200 != 7 || r.Errors != 3 {
		t.Errorf("result %+v", r)
	}
	got, err := os.ReadFile(args)
	if err != nil {
		t.Fatal(err)
	}
	if want := "-t1 -c4 -d1s --timeout 2s http://127.0.0.1:9/bench\n"; string(got) != want {
		t.Errorf("wrk run as %q, want %q", got, want)
	}
}

func TestClosedLoopInProcess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/limited" {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		name        string
		path        string
		describe    func(*fasthttp.Response) string
		wantNon200  bool
		wantFirstNo string
	}{
		{name: "all 200", path: "/ok"},
		{name: "non-200 described by default", path: "/limited", wantNon200: true, wantFirstNo: `status 429, body "slow down\n"`},
		{
			name: "non-200 described by the caller", path: "/limited", wantNon200: true, wantFirstNo: "429 Retry-After 1",
			describe: func(r *fasthttp.Response) string {
				return "429 Retry-After " + string(r.Header.Peek("Retry-After"))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ClosedLoop(context.Background(), ClosedLoopConfig{
				Addr: addr, Path: tt.path, Connections: 3, Duration: 100 * time.Millisecond, Describe: tt.describe,
			})
			if err != nil {
				t.Fatal(err)
			}
			if r.Total == 0 || r.Errors != 0 || r.RPS <= 0 {
				t.Fatalf("result %+v: want answers and no errors", r)
			}
			if tt.wantNon200 != (r.Non200 == r.Total) || (!tt.wantNon200 && r.Non200 != 0) {
				t.Errorf("non-200 %d of %d", r.Non200, r.Total)
			}
			if r.FirstNo != tt.wantFirstNo {
				t.Errorf("FirstNo = %q, want %q", r.FirstNo, tt.wantFirstNo)
			}
		})
	}
}

func TestClosedLoopStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ClosedLoop(ctx, ClosedLoopConfig{Addr: "127.0.0.1:9", Path: "/", Connections: 1, Duration: time.Hour})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
	if _, err := ClosedLoop(context.Background(), ClosedLoopConfig{Addr: "127.0.0.1:9", Connections: 0, Duration: time.Second}); err == nil {
		t.Error("0 connections accepted")
	}
}
