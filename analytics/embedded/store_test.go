package embedded

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/logrecord"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func record(i int, status int) logrecord.Record {
	return logrecord.Record{
		RequestID: fmt.Sprintf("req-%06d", i), TraceID: "trace", StartedAt: t0.Add(time.Duration(i) * time.Second).UnixMilli(),
		NodeID: "node-1", Workspace: "default", ServiceID: "svc", RouteID: "route", RoutePath: "/echo",
		ConsumerID: "alice", CredentialID: "cred", Method: "GET", Protocol: "http", Host: "example.test",
		Path: "/echo/x", ClientIP: "203.0.113.7", UserAgent: "curl/8", Status: status, UpstreamStatus: status,
		Responder: "upstream", UpstreamTries: 1, UpstreamAddr: "127.0.0.1:9", LatencyTotalMs: 1.5,
		LatencyGatewayMs: 0.25, LatencyUpstreamMs: 1.25, RequestBytes: 100, ResponseBytes: 200,
		AuthOutcome: "authenticated", RateLimitOutcome: "allowed", Billable: status < 400, BillingUnits: 1,
	}
}

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestLoadIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "analytics.db"))
	var batch []logrecord.Record
	for i := range 300 {
		status := 200
		switch i % 10 {
		case 7:
			status = 404
		case 9:
			status = 502
		}
		batch = append(batch, record(i, status))
	}
	ins, dup, err := s.Load(ctx, batch[:200])
	if err != nil || ins != 200 || dup != 0 {
		t.Fatalf("first load = %d inserted, %d duplicates, %v", ins, dup, err)
	}
	// A replay that overlaps what was loaded: only the new 100 count.
	ins, dup, err = s.Load(ctx, batch[100:])
	if err != nil || ins != 100 || dup != 100 {
		t.Fatalf("overlapping load = %d inserted, %d duplicates, %v; want 100, 100", ins, dup, err)
	}
	from, to := t0, t0.Add(time.Hour)
	raw, err := s.RawTotals(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	minute, err := s.MinuteTotals(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := Totals{Requests: 300, Errors4xx: 30, Errors5xx: 30, ResponseBytes: 300 * 200, BillingUnits: 300}
	if raw != want {
		t.Errorf("raw totals %+v, want %+v", raw, want)
	}
	if minute != want {
		t.Errorf("rollup totals %+v, want %+v (the rollup must count each request once)", minute, want)
	}
}

func TestGetRoundTripsEveryField(t *testing.T) {
	ctx := context.Background()
	s := open(t, ":memory:")
	r := record(1, 201)
	r.ErrorClass = "timeout"
	if _, _, err := s.Load(ctx, []logrecord.Record{r}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get(ctx, r.RequestID)
	if err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	if got != r {
		t.Errorf("stored record\n%+v\nwant\n%+v", got, r)
	}
	if _, ok, err := s.Get(ctx, "missing"); ok || err != nil {
		t.Errorf("Get(missing) = %v, %v", ok, err)
	}
}

func TestSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "analytics.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx, []logrecord.Record{record(1, 200), record(2, 200)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := s.Load(ctx, []logrecord.Record{record(3, 200)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Close = %v, want ErrClosed", err)
	}
	s = open(t, path)
	ins, dup, err := s.Load(ctx, []logrecord.Record{record(2, 200), record(3, 200)})
	if err != nil || ins != 1 || dup != 1 {
		t.Errorf("load after reopen = %d, %d, %v; want 1 inserted, 1 duplicate", ins, dup, err)
	}
	tot, _ := s.RawTotals(ctx, t0, t0.Add(time.Hour))
	if tot.Requests != 3 {
		t.Errorf("%d requests after reopen, want 3", tot.Requests)
	}
}

// A batch that fails part-way leaves nothing behind: the rollup and the
// raw table never disagree.
func TestFailedBatchIsRolledBack(t *testing.T) {
	ctx := context.Background()
	s := open(t, ":memory:")
	ctxCancel, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Load(ctxCancel, []logrecord.Record{record(1, 200), record(2, 200)}); err == nil {
		t.Fatal("Load with a cancelled context succeeded")
	}
	tot, err := s.RawTotals(ctx, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	roll, _ := s.MinuteTotals(ctx, t0, t0.Add(time.Hour))
	if tot.Requests != 0 || roll.Requests != 0 {
		t.Errorf("after a failed batch: %d raw, %d rolled up; want none", tot.Requests, roll.Requests)
	}
}

func TestDropBefore(t *testing.T) {
	ctx := context.Background()
	s := open(t, ":memory:")
	var batch []logrecord.Record
	for i := range 180 { // three minutes
		batch = append(batch, record(i, 200))
	}
	if _, _, err := s.Load(ctx, batch); err != nil {
		t.Fatal(err)
	}
	n, err := s.DropBefore(ctx, t0.Add(2*time.Minute))
	if err != nil || n != 120 {
		t.Fatalf("DropBefore = %d, %v; want 120", n, err)
	}
	raw, _ := s.RawTotals(ctx, t0, t0.Add(time.Hour))
	roll, _ := s.MinuteTotals(ctx, t0, t0.Add(time.Hour))
	if raw.Requests != 60 || roll.Requests != 60 {
		t.Errorf("after retention: %d raw, %d rolled up; want 60 each", raw.Requests, roll.Requests)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "analytics.db")
	s := open(t, path)
	if _, err := s.DB().ExecContext(ctx, "PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, path); err == nil {
		t.Fatal("opened a database with a newer schema")
	}
}
