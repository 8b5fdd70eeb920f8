package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// The generated records are ones the collector loads: valid, unique ids,
// and they survive the wire encoding.
func TestGeneratorRecords(t *testing.T) {
	g := newGenerator(1)
	const n = 20000
	ids := make(map[string]bool, n)
	services, consumers, statuses := map[string]bool{}, map[string]bool{}, map[int]bool{}
	var r, back logrecord.Record
	var buf []byte
	for i := range n {
		g.fill(&r, 1_760_000_000_000+int64(i))
		if err := r.Validate(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if ids[r.RequestID] {
			t.Fatalf("record %d: request id %s twice", i, r.RequestID)
		}
		ids[r.RequestID] = true
		services[r.ServiceID] = true
		if r.ConsumerID != "" {
			consumers[r.ConsumerID] = true
		}
		statuses[r.Status] = true
		buf = logrecord.Append(buf[:0], &r)
		if err := logrecord.Decode(buf, &back); err != nil {
			t.Fatalf("record %d: decode: %v", i, err)
		}
		if back != r {
			t.Fatalf("record %d: decoded %+v, want %+v", i, back, r)
		}
	}
	if len(services) != genServices || len(consumers) != genConsumers || len(statuses) != len(statusWeights) {
		t.Errorf("%d services, %d consumers, %d statuses; want %d, %d, %d",
			len(services), len(consumers), len(statuses), genServices, genConsumers, len(statusWeights))
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // empty: no error
		check   func(t *testing.T, c config)
	}{
		{
			name: "defaults",
			env:  map[string]string{"BENCH_CLICKHOUSE_SERVER": "/bin/true"},
			check: func(t *testing.T, c config) {
				if c.events != 1_000_000 || c.rate != 5000 || c.duration != 20*time.Second || c.rounds != 3 ||
					!c.phases[phaseThroughput] || !c.phases[phaseFreshness] || !c.phases[phaseProxy] || c.strict {
					t.Errorf("defaults: %+v", c)
				}
			},
		},
		{
			name: "settings",
			env: map[string]string{"BENCH_CLICKHOUSE_SERVER": "/bin/true", "BENCH_PHASES": "freshness",
				"BENCH_EVENTS": "2_000_000", "BENCH_DURATION": "5", "BENCH_POLL_INTERVAL": "20ms", "BENCH_STRICT": "1"},
			check: func(t *testing.T, c config) {
				if c.events != 2_000_000 || c.duration != 5*time.Second || c.pollEvery != 20*time.Millisecond ||
					!c.strict || len(c.phases) != 1 || !c.phases[phaseFreshness] {
					t.Errorf("settings: %+v", c)
				}
			},
		},
		{
			name:    "bad values are named",
			env:     map[string]string{"BENCH_CLICKHOUSE_SERVER": "/bin/true", "BENCH_PHASES": "nope", "BENCH_EVENTS": "5", "BENCH_STRICT": "yes"},
			wantErr: "BENCH_PHASES|BENCH_EVENTS|BENCH_STRICT",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := configFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil {
					t.Fatal("no error")
				}
				for _, name := range strings.Split(tt.wantErr, "|") {
					if !strings.Contains(err.Error(), name) {
						t.Errorf("error %q does not name %s", err, name)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1 000", 1234567: "1 234 567", -52724: "-52 724"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
}

// The run's ClickHouse configuration is one clickhouselocal accepts.
func TestChConfigValid(t *testing.T) {
	if err := chConfig(t.TempDir(), 9000, 8123).Validate(); err != nil {
		t.Fatal(err)
	}
}
