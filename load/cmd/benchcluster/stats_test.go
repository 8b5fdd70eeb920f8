package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/load"
)

func TestFirstPatternWindow(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse("15:04:05.000", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	lead := 6 * time.Second
	tests := []struct {
		name, now, want string
	}{
		{"early in a minute: the next one", "12:00:10.000", "12:01:00.000"},
		{"just in time for the warm-up", "12:00:54.000", "12:01:00.000"},
		{"too late for the warm-up: the one after", "12:00:54.001", "12:02:00.000"},
		{"on a boundary: the next, never the current", "12:00:00.000", "12:01:00.000"},
		{"late in a minute", "12:00:59.900", "12:02:00.000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := firstPatternWindow(at(tt.now), lead)
			if !got.Equal(at(tt.want)) {
				t.Errorf("firstPatternWindow(%s, %v) = %s, want %s", tt.now, lead, got.Format("15:04:05.000"), tt.want)
			}
			if got.Add(-lead).Before(at(tt.now)) {
				t.Errorf("warm-up would start at %s, before now", got.Add(-lead).Format("15:04:05.000"))
			}
		})
	}
}

func TestFirstPatternWindowIsAWholeUnixMinute(t *testing.T) {
	// Rate-limit windows are whole minutes of Unix time; Truncate works
	// from the zero time.Time, so the two must agree, in any zone.
	loc := time.FixedZone("UTC+5:30", 5*3600+1800)
	now := time.Date(2026, 3, 4, 5, 6, 7, 8, loc)
	got := firstPatternWindow(now, 6*time.Second)
	if got.Unix()%60 != 0 || got.Nanosecond() != 0 {
		t.Errorf("firstPatternWindow = %v (Unix %d), not a whole Unix minute", got, got.Unix())
	}
}

func TestSendSpan(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	from, until := sendSpan(start, 200*time.Millisecond, 59500*time.Millisecond)
	if want := start.Add(200 * time.Millisecond); !from.Equal(want) {
		t.Errorf("from = %v, want %v", from, want)
	}
	if want := start.Add(59500 * time.Millisecond); !until.Equal(want) {
		t.Errorf("until = %v, want %v", until, want)
	}
	if until.Truncate(time.Minute) != start || from.Truncate(time.Minute) != start {
		t.Errorf("span %v … %v leaves the window starting %v", from, until, start)
	}
}

func TestFormatRatio(t *testing.T) {
	tests := []struct {
		num, den float64
		want     string
	}{
		{1000, 1000, "1.000"},
		{1004, 1000, "1.004"},
		{1333, 1000, "1.333"},
		{999, 1000, "0.999"},
		{5, 0, "n/a"},
		{math.NaN(), 1, "n/a"},
	}
	for _, tt := range tests {
		if got := formatRatio(tt.num, tt.den); got != tt.want {
			t.Errorf("formatRatio(%v, %v) = %q, want %q", tt.num, tt.den, got, tt.want)
		}
	}
	if got := formatRatioPrec(12, 300000); got != "0.0000" {
		t.Errorf("formatRatioPrec(12, 300000) = %q, want 0.0000", got)
	}
	if got := formatRatioPrec(1500, 300000); got != "0.0050" {
		t.Errorf("formatRatioPrec(1500, 300000) = %q, want 0.0050", got)
	}
}

func TestServed(t *testing.T) {
	tests := []struct {
		name string
		kind changeKind
		code int
		body string
		want bool
	}{
		{"create served", kindCreate, 200, "ok", true},
		{"create not yet", kindCreate, 404, `{"message":"no Route matched with those values"}`, false},
		{"update served", kindUpdate, 200, "ok", true},
		{"an error page is not the upstream", kindUpdate, 200, "<html>", false},
		{"delete served", kindDelete, 404, `{"message":"no Route matched with those values"}`, true},
		{"delete not yet", kindDelete, 200, "ok", false},
		{"another 404 is not a delete", kindDelete, 404, "not found", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := served(tt.kind, tt.code, []byte(tt.body)); got != tt.want {
				t.Errorf("served(%v, %d, %q) = %v, want %v", tt.kind, tt.code, tt.body, got, tt.want)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	body := `# HELP tollgate_ratelimit_cassandra_ops_total Cassandra requests of the cluster rate limit.
# TYPE tollgate_ratelimit_cassandra_ops_total counter
tollgate_ratelimit_cassandra_ops_total 42
tollgate_ratelimit_syncs_total{result="ok"} 10
tollgate_ratelimit_syncs_total{result="error"} 2
tollgate_http_requests_total{service="a",code="200"} 5 1712345678000
tollgate_request_latency_ms_bucket{le="+Inf"} 5
weird_label{v="a}b"} 3
`
	m := parseMetrics([]byte(body))
	want := map[string]float64{
		"tollgate_ratelimit_cassandra_ops_total": 42,
		"tollgate_ratelimit_syncs_total":         12,
		"tollgate_http_requests_total":           5,
		"tollgate_request_latency_ms_bucket":     5,
		"weird_label":                            3,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("parsed %d names, want %d: %v", len(m), len(want), m)
	}
}

func TestRateLimitCounterNames(t *testing.T) {
	tests := []struct {
		name    string
		rl, ops bool
	}{
		{"tollgate_ratelimit_cassandra_ops_total", true, true},
		{"tollgate_ratelimit_syncs_total", true, false},
		{"tollgate_ratelimit_sync_errors_total", true, false},
		{"tollgate_ratelimit_sync_seconds_count", true, false},
		{"tollgate_ratelimit_degraded", false, false},
		{"tollgate_http_requests_total", false, false},
		{"tollgate_cassandra_ops_total", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isRateLimitOps(tt.name); got != tt.rl {
				t.Errorf("isRateLimitOps = %v, want %v", got, tt.rl)
			}
			if got := isOpsCounter(tt.name); got != tt.ops {
				t.Errorf("isOpsCounter = %v, want %v", got, tt.ops)
			}
		})
	}
}

func TestCounterDeltas(t *testing.T) {
	got := counterDeltas(map[string]float64{"b": 10, "a": 1}, map[string]float64{"a": 4, "b": 10, "c": 7})
	want := []namedValue{{"a", 3}, {"b", 0}, {"c", 7}}
	if len(got) != len(want) {
		t.Fatalf("counterDeltas = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("counterDeltas[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}
	c, err := configFromEnv(env(nil))
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.bin != "bin/tollgate" || c.changes != 200 || c.limit != 1000 || c.rlRate != 1667 || c.windows != 1 ||
		c.connections != 50 || c.duration != 10*time.Second || c.rounds != 2 || c.strict ||
		c.dbUpdateFrequency != "100ms" || c.syncInterval != "100ms" || len(c.phases) != 3 {
		t.Errorf("defaults = %+v", c)
	}

	c, err = configFromEnv(env(map[string]string{"BENCH_DURATION": "5", "BENCH_WARMUP": "500ms", "BENCH_PHASES": "throughput", "BENCH_STRICT": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.duration != 5*time.Second || c.warmup != 500*time.Millisecond || !c.strict || !c.phases[phaseThroughput] || c.phases[phaseAccuracy] {
		t.Errorf("settings not applied: %+v", c)
	}

	_, err = configFromEnv(env(map[string]string{"BENCH_CHANGES": "0", "BENCH_LIMIT": "x", "BENCH_DURATION": "soon", "BENCH_PHASES": "speed", "BENCH_STRICT": "yes"}))
	if err == nil {
		t.Fatal("bad settings accepted")
	}
	for _, name := range []string{"BENCH_CHANGES", "BENCH_LIMIT", "BENCH_DURATION", "BENCH_PHASES", "BENCH_STRICT"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestChangeKindNames(t *testing.T) {
	// The report prints one row per kind; each must have its name.
	for k := range numKinds {
		if s := k.String(); s == "" || strings.Contains(s, "%") {
			t.Errorf("kind %d has no name", k)
		}
	}
}

func TestOKRPS(t *testing.T) {
	tests := []struct {
		name string
		run  tpRun
		want float64
	}{
		{"all 200", tpRun{ClosedLoopResult: load.ClosedLoopResult{RPS: 30000, Total: 300000}}, 30000},
		{"429s are not proxied", tpRun{ClosedLoopResult: load.ClosedLoopResult{RPS: 30000, Total: 300000, Non200: 30000}}, 27000},
		{"nothing answered", tpRun{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.run.okRPS(); math.Abs(got-tt.want) > 1e-6 {
				t.Errorf("okRPS = %v, want %v", got, tt.want)
			}
		})
	}
}
