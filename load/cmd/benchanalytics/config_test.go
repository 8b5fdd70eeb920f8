package main

import (
	"strings"
	"testing"
	"time"
)

func TestBenchCasesSelects(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		return func(k string) string {
			if k == "BENCH_CLICKHOUSE_SERVER" {
				return "/bin/true" // not started here
			}
			return kv[k]
		}
	}
	c, err := configFromEnv(env(map[string]string{"BENCH_CASES": `^(usage|breakdown group_by=consumer)\b.* 30d$`}))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range selected(cases("svc", "con"), c.only) {
		names = append(names, k.name()+" "+k.rng)
	}
	if got, want := strings.Join(names, "; "), "breakdown group_by=consumer 30d; usage per=1d 30d"; got != want {
		t.Errorf("selected %q, want %q", got, want)
	}

	c, err = configFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if n, all := len(selected(cases("svc", "con"), c.only)), len(cases("svc", "con")); n != all {
		t.Errorf("without BENCH_CASES %d of %d cases are timed", n, all)
	}

	for expr, want := range map[string]string{"(": "BENCH_CASES", "nothing-like-this": "matches no case"} {
		if _, err := configFromEnv(env(map[string]string{"BENCH_CASES": expr})); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("BENCH_CASES=%s: error %v, want one saying %q", expr, err, want)
		}
	}
}

func TestBenchNowIsATime(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			switch k {
			case "BENCH_CLICKHOUSE_SERVER":
				return "/bin/true"
			case "BENCH_NOW":
				return v
			}
			return ""
		}
	}
	c, err := configFromEnv(env("2026-12-05T20:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC); !c.now.Equal(want) {
		t.Errorf("BENCH_NOW read as %v, want %v", c.now, want)
	}
	if _, err := configFromEnv(env("yesterday")); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("BENCH_NOW=yesterday: error %v, want one asking for an RFC 3339 time", err)
	}
}
