package benchrig

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProcStop(t *testing.T) {
	dir := t.TempDir()
	p, err := StartProc("sleeper", "/bin/sh", []string{"-c", "echo started; exec sleep 60"}, nil, dir, filepath.Join(dir, "sleeper.log"))
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, p, "started\n")
	if !p.Running() || p.State() != "running" || p.Pid() == "" {
		t.Fatalf("just started: running %v, state %q, pid %q", p.Running(), p.State(), p.Pid())
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if p.Running() || !p.Stopped() || !strings.HasPrefix(p.State(), "exited: ") {
		t.Errorf("after Stop: running %v, stopped %v, state %q", p.Running(), p.Stopped(), p.State())
	}
	if err := p.Stop(time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	tail, err := FileTail(p.LogPath, 5)
	if err != nil || tail != "started\n" {
		t.Errorf("log tail %q, %v; want \"started\\n\"", tail, err)
	}
}

func TestProcStopKillsAfterGrace(t *testing.T) {
	dir := t.TempDir()
	p, err := StartProc("stubborn", "/bin/sh", []string{"-c", "trap '' TERM; echo ready; while :; do sleep 1; done"}, nil, dir, filepath.Join(dir, "stubborn.log"))
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, p, "ready\n") // the trap is set
	err = p.Stop(200 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "stubborn did not stop within 200ms of SIGTERM; killed") {
		t.Errorf("Stop = %v, want it to say it killed", err)
	}
	if p.Running() {
		t.Error("still running after Stop")
	}
}

// waitLog waits until the last line of p's log is line.
func waitLog(t *testing.T, p *Proc, line string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if tail, _ := FileTail(p.LogPath, 1); tail == line {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not write %q", p.Name, line)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartProcFails(t *testing.T) {
	dir := t.TempDir()
	_, err := StartProc("ghost", filepath.Join(dir, "no-such-binary"), nil, nil, dir, filepath.Join(dir, "ghost.log"))
	if err == nil || !strings.Contains(err.Error(), "start ghost") {
		t.Errorf("err = %v, want start ghost: …", err)
	}
}

func TestWaitReady(t *testing.T) {
	ready := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-ready:
			io.WriteString(w, "ready")
		default:
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	c := LocalClient(2)
	defer c.CloseIdleConnections()
	dir := t.TempDir()
	p, err := StartProc("node 1", "/bin/sleep", []string{"60"}, nil, dir, filepath.Join(dir, "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(5 * time.Second)
	ctx := context.Background()

	err = WaitReady(ctx, c, p, srv.URL, 150*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "node 1 not ready after 150ms") || !strings.Contains(err.Error(), "503 starting") {
		t.Errorf("not ready: %v", err)
	}
	close(ready)
	if err := WaitReady(ctx, c, p, srv.URL, 5*time.Second); err != nil {
		t.Errorf("ready: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := WaitReady(cctx, c, p, srv.URL+"/nowhere", time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := WaitReady(ctx, c, p, srv.URL, time.Minute); err == nil || !strings.Contains(err.Error(), "node 1 exited at start") {
		t.Errorf("exited: %v", err)
	}
}

func TestFileTail(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		n             int
		want          string
	}{
		{"empty", "", 3, "(empty)\n"},
		{"fewer lines than asked", "a\nb\n", 3, "a\nb\n"},
		{"the last n", "a\nb\nc\nd\n", 2, "c\nd\n"},
		{"no final newline", "a\nb", 1, "b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := FileTail(path, tt.n)
			if err != nil || got != tt.want {
				t.Errorf("FileTail = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestFreePorts(t *testing.T) {
	addrs, err := FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if !strings.HasPrefix(a, "127.0.0.1:") || seen[a] {
			t.Errorf("addresses %v: want three distinct ones on 127.0.0.1", addrs)
		}
		seen[a] = true
	}
}

func TestUpstream(t *testing.T) {
	u, err := StartUpstream()
	if err != nil {
		t.Fatal(err)
	}
	c := LocalClient(1)
	code, body, err := Get(context.Background(), c, u.URL()+"/any/path", http.Header{"X-Test": {"1"}})
	c.CloseIdleConnections()
	if err != nil || code != http.StatusOK || string(body) != "ok" {
		t.Errorf("GET = %d %q, %v; want 200 ok", code, body, err)
	}
	if err := u.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if err := Sleep(ctx, time.Millisecond); err != nil {
		t.Errorf("Sleep = %v", err)
	}
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep after cancel = %v", err)
	}
	if err := SleepUntil(ctx, time.Now().Add(-time.Second)); !errors.Is(err, context.Canceled) {
		t.Errorf("SleepUntil in the past after cancel = %v", err)
	}
}

func TestCheckBinary(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, bin string
		ok        bool
	}{
		{"executable", "/bin/sh", true},
		{"missing", filepath.Join(dir, "missing"), false},
		{"a directory", dir, false},
		{"not executable", plain, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckBinary(tt.bin, "bench-x")
			if (err == nil) != tt.ok {
				t.Fatalf("CheckBinary = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "(make bench-x does), or set TOLLGATE_BIN") {
				t.Errorf("error %q does not say how to build it", err)
			}
		})
	}
}
