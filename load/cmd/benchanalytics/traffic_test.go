package main

import (
	"slices"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/logrecord"
)

var testEnd = time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)

// collect returns every record of tr, batch by batch.
func collect(tr *traffic) []logrecord.Record {
	var out []logrecord.Record
	for k := range tr.Batches() {
		tr.Batch(k, func(_ int64, r *logrecord.Record) { out = append(out, *r) })
	}
	return out
}

func TestTrafficDeterministic(t *testing.T) {
	a := collect(newTraffic(7, 20_000, 3_000, 30, testEnd))
	b := collect(newTraffic(7, 20_000, 3_000, 30, testEnd))
	if !slices.Equal(a, b) {
		t.Fatal("two generators with the same seed made different records")
	}
	// Batches do not depend on the order they are made in.
	tr := newTraffic(7, 20_000, 3_000, 30, testEnd)
	var rev []logrecord.Record
	for k := tr.Batches() - 1; k >= 0; k-- {
		var batch []logrecord.Record
		tr.Batch(k, func(_ int64, r *logrecord.Record) { batch = append(batch, *r) })
		rev = append(batch, rev...)
	}
	if !slices.Equal(a, rev) {
		t.Fatal("batches made in reverse order differ")
	}
	c := collect(newTraffic(8, 20_000, 3_000, 30, testEnd))
	if slices.Equal(a, c) {
		t.Fatal("another seed made the same records")
	}
}

func TestTrafficRecords(t *testing.T) {
	const n = 100_000
	tr := newTraffic(1, n, 15_000, 30, testEnd)
	from, to := testEnd.AddDate(0, 0, -30).UnixMilli(), testEnd.UnixMilli()

	var (
		count, last  int64
		ids          = map[string]bool{}
		perWorkspace = map[string]int{}
		perConsumer  = map[string]int{}
		perHour      [24]int
		classes      = map[int]int{}
		errClass     = map[string]int{}
		billable     int
	)
	last = -1
	for k := range tr.Batches() {
		minuteOf := int64(0)
		tr.Batch(k, func(i int64, r *logrecord.Record) {
			if i != count {
				t.Fatalf("record %d came with index %d", count, i)
			}
			count++
			if err := r.Validate(); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if r.StartedAt < from || r.StartedAt >= to {
				t.Fatalf("record %d started at %d, outside [%d, %d)", i, r.StartedAt, from, to)
			}
			// Records come minute by minute (in any order within one).
			m := r.StartedAt / 60_000
			if m < minuteOf {
				t.Fatalf("record %d is in minute %d after minute %d", i, m, minuteOf)
			}
			minuteOf = m
			if ids[r.RequestID] {
				t.Fatalf("request id %s twice", r.RequestID)
			}
			ids[r.RequestID] = true
			last = max(last, r.StartedAt)
			perWorkspace[r.Workspace]++
			if r.ConsumerID != "" {
				perConsumer[r.ConsumerID]++
			}
			perHour[time.UnixMilli(r.StartedAt).UTC().Hour()]++
			classes[r.Status/100]++
			if r.Status >= 500 || r.ErrorClass != "" {
				errClass[r.ErrorClass]++
			}
			if r.Billable {
				billable++
				if r.ConsumerID == "" || r.BillingUnits < 1 || r.Status >= 500 {
					t.Fatalf("record %d is billable: consumer %q, units %d, status %d", i, r.ConsumerID, r.BillingUnits, r.Status)
				}
			}
			if (r.Responder == "gateway") != (r.ErrorClass != "") {
				t.Fatalf("record %d: responder %q with error class %q", i, r.Responder, r.ErrorClass)
			}
			if r.LatencyTotalMs < r.LatencyUpstreamMs {
				t.Fatalf("record %d: total latency %v below upstream's %v", i, r.LatencyTotalMs, r.LatencyUpstreamMs)
			}
		})
	}
	if count != n {
		t.Fatalf("%d records, want %d", count, n)
	}
	if last < to-24*3600*1000 {
		t.Errorf("the last record started %v before the end", time.Duration(to-last)*time.Millisecond)
	}

	share := func(part, whole int) float64 { return float64(part) / float64(whole) }
	checks := []struct {
		name   string
		got    float64
		lo, hi float64
	}{
		{"busiest workspace share", share(perWorkspace["acme"], n), 0.43, 0.47},
		{"quietest workspace share", share(perWorkspace["hooli"], n), 0.04, 0.06},
		{"2xx share", share(classes[2], n), 0.88, 0.96},
		{"4xx share", share(classes[4], n), 0.03, 0.07},
		{"5xx share", share(classes[5], n), 0.003, 0.03},
		{"billable share", share(billable, n), 0.85, 0.96},
		// A UTC afternoon is busier than a UTC night.
		{"15h over 3h", share(perHour[15], perHour[3]), 2.5, 4.5},
	}
	for _, c := range checks {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s = %.4f, want %.4f … %.4f", c.name, c.got, c.lo, c.hi)
		}
	}
	for _, class := range []string{"connect", "timeout", "no_healthy_target", "client_closed", "plugin", "route_not_found"} {
		if errClass[class] == 0 {
			t.Errorf("no record with error class %q", class)
		}
	}

	// Consumers are skewed: the busiest takes many times a fair share,
	// and the top 1 % of them most of the traffic of the many.
	counts := make([]int, 0, len(perConsumer))
	total := 0
	for _, c := range perConsumer {
		counts = append(counts, c)
		total += c
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	fair := float64(total) / genConsumers
	if top := float64(counts[0]); top < 50*fair {
		t.Errorf("busiest consumer has %.0f requests, want at least 50 × a fair share of %.1f", top, fair)
	}
	top1 := 0
	for _, c := range counts[:genConsumers/100] {
		top1 += c
	}
	if s := share(top1, total); s < 0.3 {
		t.Errorf("top 1 %% of consumers have %.2f of the requests, want ≥ 0.3", s)
	}
	if len(perConsumer) < genConsumers/4 {
		t.Errorf("only %d consumers called, want a long tail of at least %d", len(perConsumer), genConsumers/4)
	}
}

func TestTrafficEntities(t *testing.T) {
	tr := newTraffic(1, 1000, 1000, 30, testEnd)
	services, routes, consumers := 0, 0, 0
	for _, ws := range tr.workspaces {
		services += len(ws.services)
		for _, s := range ws.services {
			routes += len(s.routes)
		}
		consumers += len(ws.consumers)
	}
	if services != genServices || consumers != genConsumers {
		t.Errorf("%d services and %d consumers, want %d and %d", services, consumers, genServices, genConsumers)
	}
	if routes < 200 || routes > 400 {
		t.Errorf("%d routes, want about 300", routes)
	}
	if got := tr.To(); !got.Equal(testEnd) {
		t.Errorf("To() = %v, want %v", got, testEnd)
	}
}
