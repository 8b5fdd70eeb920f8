package clickhousemigrate

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestSettledPartitions(t *testing.T) {
	day := func(s string) time.Time {
		d, err := time.Parse("20060102", s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	split := []Partition{
		{TableRequestsByHourConsumer, "20240309"},
		{TableRequestsByDayRoute, "20240309"},
		{TableRequestsByHourConsumer, "20240308"}, // before from's day
		{TableRequestsByHourConsumer, "20240310"}, // not over by before
		{TableRequestsByMinute, "20240309"},       // not compactable
		{TableRequests, "20240309"},               // not compactable
		{"by_hand", "20240309"},                   // not a rollup
		{TableRequestsByDayRoute, "all"},          // not a day partition
		{TableRequestsByWeekRoute, "20240307"},    // a week: 7 to 13 March
		{TableConsumerUsageByDay, "20240309"},
	}
	for _, tc := range []struct {
		name         string
		from, before time.Time
		want         []Partition
	}{
		{
			name: "one settled day", from: day("20240309").Add(5 * time.Hour), before: day("20240310").Add(30 * time.Minute),
			want: []Partition{{TableConsumerUsageByDay, "20240309"}, {TableRequestsByDayRoute, "20240309"}, {TableRequestsByHourConsumer, "20240309"}},
		},
		{
			name: "a day not over yet", from: day("20240309"), before: day("20240309").Add(23 * time.Hour),
		},
		{
			name: "a whole week", from: day("20240307"), before: day("20240314"),
			want: []Partition{
				{TableRequestsByWeekRoute, "20240307"}, {TableRequestsByHourConsumer, "20240308"},
				{TableConsumerUsageByDay, "20240309"}, {TableRequestsByDayRoute, "20240309"}, {TableRequestsByHourConsumer, "20240309"},
				{TableRequestsByHourConsumer, "20240310"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := settled(slices.Clone(split), tc.from, tc.before); !slices.Equal(got, tc.want) {
				t.Errorf("settled = %v\nwant      %v", got, tc.want)
			}
		})
	}
}

// TestCompact loads a day in many INSERTs, each a part of every rollup's
// partition of that day, and merges the settled day: each compactable
// rollup keeps one part of it, with the same totals.
func TestCompact(t *testing.T) {
	conn, db := migrated(t)
	ctx := t.Context()
	settledDay := time.Date(2024, 3, 9, 0, 0, 0, 0, time.UTC)
	today := settledDay.AddDate(0, 0, 1)
	const inserts = 12
	for i := range inserts {
		insertRows(t, conn, db, []testRow{
			{id: fmt.Sprint("s", i), at: settledDay.Add(time.Duration(i) * time.Hour), service: "s", consumer: "c", status: 200, offset: int64(2 * i)},
			{id: fmt.Sprint("t", i), at: today.Add(time.Duration(i) * time.Minute), service: "s", consumer: "c", status: 200, offset: int64(2*i + 1)},
		})
	}
	merged, err := Compact(ctx, conn, db, settledDay, today.Add(10*time.Minute), testLogger(t))
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	for _, p := range merged {
		if p.Day != "20240309" || !slices.Contains(Compactable, p.Table) {
			t.Errorf("merged %v: want only the settled day's partitions of the compactable rollups", p)
		}
	}
	for _, table := range Compactable {
		if table == TableRequestsByWeekRoute {
			continue // the week of 7 March is not over
		}
		var parts uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = ? AND active AND partition = '20240309'",
			db, table).Scan(&parts)
		if err != nil {
			t.Fatal(err)
		}
		if parts != 1 {
			t.Errorf("%s: %d active parts of 9 March after Compact; want 1", table, parts)
		}
		r := Rollups[slices.IndexFunc(Rollups, func(r Rollup) bool { return r.Table == table })]
		var requests uint64
		err = conn.QueryRow(ctx, "SELECT toUInt64("+r.Requests()+") FROM "+db+"."+table+" WHERE "+r.Column+" < toDateTime(?)",
			today.Unix()).Scan(&requests)
		if err != nil {
			t.Fatal(err)
		}
		if requests != inserts {
			t.Errorf("%s counts %d requests of 9 March after Compact; want %d", table, requests, inserts)
		}
	}
	if len(merged) == 0 {
		t.Log("every partition was merged in the background before Compact looked")
	}
}
