package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that a run leaves nothing behind; os/signal's watcher,
// started by signal.NotifyContext, lives for the life of the process.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("os/signal.signal_recv"))
}

func TestRun(t *testing.T) {
	var withKey atomic.Int64
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Apikey") == "k1" && r.Header.Get("X-Two") == "a: b" {
			withKey.Add(1)
		}
	}))
	defer ok.Close()
	denied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer denied.Close()

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  *regexp.Regexp // on stdout
		wantErr  string         // in stderr
	}{
		{
			name:     "success prints parseable lines",
			args:     []string{"-url", ok.URL, "-rate", "100", "-duration", "200ms", "-connections", "2", "-header", "apikey: k1", "-header", "X-Two: a: b"},
			wantCode: 0,
			wantOut: regexp.MustCompile(`(?m)^requests scheduled=20 completed=20 non2xx=0 errors=0 timeouts=0 unsent=0 dials=[12] achieved=[0-9.]+/s\n` +
				`latency_ms p50=[0-9.]+ p90=[0-9.]+ p99=[0-9.]+ p99\.9=[0-9.]+ max=[0-9.]+ mean=[0-9.]+\n` +
				`send_lag_ms p50=[0-9.]+ p99=[0-9.]+ max=[0-9.]+\n` +
				`schedule_lag_ms p50=[0-9.]+ p99=[0-9.]+ max=[0-9.]+\n$`),
		},
		{
			name:     "non-2xx responses fail the run",
			args:     []string{"-url", denied.URL, "-rate", "50", "-duration", "100ms"},
			wantCode: 1,
			wantOut:  regexp.MustCompile(`non2xx=5 `),
			wantErr:  "5 non-2xx responses",
		},
		{name: "missing url", args: []string{"-rate", "10"}, wantCode: 2, wantErr: "url"},
		{name: "bad header", args: []string{"-url", ok.URL, "-header", "novalue"}, wantCode: 2, wantErr: "want 'Name: value'"},
		{name: "bad rate", args: []string{"-url", ok.URL, "-rate", "-1"}, wantCode: 2, wantErr: "rate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tc.wantCode, stderr.String())
			}
			if tc.wantOut != nil && !tc.wantOut.MatchString(stdout.String()) {
				t.Errorf("stdout %q does not match %v", stdout.String(), tc.wantOut)
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tc.wantErr)
			}
		})
	}
	if n := withKey.Load(); n != 20 {
		t.Errorf("%d of 20 requests carried both -header values", n)
	}
}
