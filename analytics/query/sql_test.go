package query

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSumUsageAddsRowsOfOneKeyAndSorts(t *testing.T) {
	d1 := time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)
	d2 := d1.Add(Day)
	// As a daily table's parts send them: part by part, a key in two parts
	// before a merge added them up.
	got := SumUsage([]UsageRow{
		{Start: d2, Workspace: "acme", ConsumerID: "bob", Requests: 1, BillableRequests: 1, BillingUnits: 3},
		{Start: d1, Workspace: "acme", ConsumerID: "bob", Requests: 2, BillableRequests: 2, BillingUnits: 2},
		{Start: d1, Workspace: "acme", ConsumerID: "alice", Requests: 5, BillableRequests: 4, BillingUnits: 9},
		{Start: d1, Workspace: "globex", ConsumerID: "alice", Requests: 7},
		{Start: d1, Workspace: "acme", ConsumerID: "bob", Requests: 3, BillableRequests: 1, BillingUnits: 10},
		{Start: d2, Workspace: "acme", ConsumerID: "", Requests: 4},
	})
	want := []UsageRow{
		{Start: d1, Workspace: "acme", ConsumerID: "alice", Requests: 5, BillableRequests: 4, BillingUnits: 9},
		{Start: d1, Workspace: "acme", ConsumerID: "bob", Requests: 5, BillableRequests: 3, BillingUnits: 12},
		{Start: d1, Workspace: "globex", ConsumerID: "alice", Requests: 7},
		{Start: d2, Workspace: "acme", ConsumerID: "", Requests: 4},
		{Start: d2, Workspace: "acme", ConsumerID: "bob", Requests: 1, BillableRequests: 1, BillingUnits: 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SumUsage\n%+v\nwant\n%+v", got, want)
	}
	if got := SumUsage(nil); len(got) != 0 {
		t.Errorf("SumUsage(nil) = %+v", got)
	}
}

// TestSumUsageOfSortedRuns checks answers made of sorted runs, as parts
// send them, from one run to one per row, against sorting and adding up
// in the plainest way.
func TestSumUsageOfSortedRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	day0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ rows, runs int }{{1, 1}, {50, 1}, {500, 2}, {1000, 7}, {3000, 60}, {400, 400}, {2000, 300}} {
		var in []UsageRow
		for r := range tc.runs {
			n := tc.rows / tc.runs
			if r == 0 {
				n += tc.rows % tc.runs
			}
			run := make([]UsageRow, n)
			for i := range run {
				run[i] = UsageRow{Start: day0.AddDate(0, 0, rng.IntN(5)), Workspace: fmt.Sprintf("ws-%d", rng.IntN(3)),
					ConsumerID: fmt.Sprintf("c-%d", rng.IntN(40)), Requests: rng.Int64N(100), BillableRequests: rng.Int64N(10),
					BillingUnits: rng.Int64N(1000)}
			}
			slices.SortFunc(run, func(a, b UsageRow) int { return compareUsage(&a, &b) })
			in = append(in, run...)
		}
		sums := map[string]UsageRow{}
		for _, r := range in {
			k := fmt.Sprint(r.Start.Unix(), r.Workspace, "\x00", r.ConsumerID)
			s, ok := sums[k]
			if !ok {
				s = UsageRow{Start: r.Start, Workspace: r.Workspace, ConsumerID: r.ConsumerID}
			}
			s.Requests += r.Requests
			s.BillableRequests += r.BillableRequests
			s.BillingUnits += r.BillingUnits
			sums[k] = s
		}
		want := slices.Collect(maps.Values(sums))
		slices.SortFunc(want, func(a, b UsageRow) int { return compareUsage(&a, &b) })
		got := SumUsage(slices.Clone(in))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%d rows in %d runs: got %d rows, want %d; first difference at %d", tc.rows, tc.runs, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []UsageRow) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// BenchmarkSumUsage orders and sums a 30-day daily usage answer: 75,900
// rows (30 days of 2,300 consumers in 3 workspaces, a tenth of them split
// in two as unmerged parts leave them), in the order ClickHouse reads
// consumer_usage_by_day: part by part, each in key order.
func BenchmarkSumUsage(b *testing.B) {
	day0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	type consumer struct{ ws, id string }
	var consumers []consumer
	for c := range 2300 {
		consumers = append(consumers, consumer{fmt.Sprintf("ws-%d", c%3), fmt.Sprintf("%08x-4b1e-4c6f-9a57-%012x", c*7919%65536, c)})
	}
	// A part holds one day (the table's partition), ordered by workspace
	// and consumer (its sorting key).
	slices.SortFunc(consumers, func(a, b consumer) int {
		return cmp.Or(strings.Compare(a.ws, b.ws), strings.Compare(a.id, b.id))
	})
	var src []UsageRow
	for part := range 2 {
		for d := range 30 {
			for i, c := range consumers {
				if part == 1 && i%10 != 0 {
					continue
				}
				src = append(src, UsageRow{Start: day0.AddDate(0, 0, d), Workspace: c.ws, ConsumerID: c.id,
					Requests: 10, BillableRequests: 9, BillingUnits: 9})
			}
		}
	}
	rows := make([]UsageRow, len(src))
	b.ReportAllocs()
	for b.Loop() {
		copy(rows, src)
		SumUsage(rows)
	}
}
