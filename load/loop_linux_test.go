package load

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"
)

// TestRunWithMillisecondWaits runs the schedule as on a kernel without
// epoll_pwait2, whose waits are whole milliseconds: every request is still
// sent and answered.
func TestRunWithMillisecondWaits(t *testing.T) {
	var a arrivals
	srv := httptest.NewServer(a.handler(""))
	defer srv.Close()

	cfg := testConfig(srv.URL, 500, 400*time.Millisecond)
	raw, addr, err := encodeRequest(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := &Result{Scheduled: 200}
	if err := runLoopWith(context.Background(), cfg, raw, addr, res.Scheduled, res, true); err != nil {
		t.Fatal(err)
	}
	if res.Completed != 200 || res.Errors != 0 || len(a.snapshot()) != 200 {
		t.Errorf("completed %d, errors %d (%v), server saw %d; want 200, 0 and 200", res.Completed, res.Errors, res.FirstError, len(a.snapshot()))
	}
	if res.Dials > int64(cfg.Connections) {
		t.Errorf("dials %d: want at most %d", res.Dials, cfg.Connections)
	}
}
