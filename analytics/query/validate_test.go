package query

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func TestAutoBucketKeepsSeriesShort(t *testing.T) {
	for _, tc := range []struct {
		rng, want time.Duration
	}{
		{time.Minute, time.Minute}, {2 * time.Hour, time.Minute}, {2*time.Hour + time.Second, 5 * time.Minute},
		{12 * time.Hour, 5 * time.Minute}, {24 * time.Hour, 15 * time.Minute}, {7 * Day, time.Hour},
		{30 * Day, 6 * time.Hour}, {90 * Day, Day}, {MaxRange, Day},
	} {
		if got := AutoBucket(tc.rng); got != tc.want {
			t.Errorf("AutoBucket(%s) = %s, want %s", tc.rng, got, tc.want)
		}
		q, err := SeriesQuery{Filter: Filter{Workspace: "w"}, From: t0.Add(-tc.rng), To: t0}.Normalize()
		if err != nil {
			t.Fatalf("range %s: %v", tc.rng, err)
		}
		if n := len(fill(q, nil).Points); n > 500 {
			t.Errorf("range %s: %d points with the automatic bucket", tc.rng, n)
		}
	}
}

func TestSeriesNormalizeRoundsToBuckets(t *testing.T) {
	q, err := SeriesQuery{Filter: Filter{Workspace: "w"}, From: t0.Add(7*time.Minute + 1500*time.Millisecond),
		To: t0.Add(time.Hour + time.Second), Bucket: 15 * time.Minute}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if !q.From.Equal(t0) || !q.To.Equal(t0.Add(75*time.Minute)) {
		t.Errorf("range [%s, %s), want [00:00, 01:15)", q.From, q.To)
	}
	q, err = SeriesQuery{Filter: Filter{Workspace: "w"}, From: t0.Add(5 * time.Hour), To: t0.Add(50 * time.Hour), Bucket: Day}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if !q.From.Equal(t0) || !q.To.Equal(t0.Add(3*Day)) {
		t.Errorf("days cover [%s, %s), want whole UTC days", q.From, q.To)
	}
}

func TestFillGivesEveryBucket(t *testing.T) {
	q := SeriesQuery{From: t0, To: t0.Add(5 * time.Minute), Bucket: time.Minute}
	s := fill(q, map[int64]Metrics{
		t0.Add(2 * time.Minute).Unix(): {Requests: 4, Errors4xx: 1, Errors5xx: 1},
		t0.Add(time.Hour).Unix():       {Requests: 9}, // outside: ignored
	})
	if len(s.Points) != 5 {
		t.Fatalf("%d points, want 5", len(s.Points))
	}
	for i, p := range s.Points {
		want := int64(0)
		if i == 2 {
			want = 4
		}
		if !p.Start.Equal(t0.Add(time.Duration(i)*time.Minute)) || p.Requests != want {
			t.Errorf("point %d: %s, %d requests; want %s, %d", i, p.Start, p.Requests, t0.Add(time.Duration(i)*time.Minute), want)
		}
	}
	if s.Points[2].ErrorRate != 0.5 {
		t.Errorf("error rate %g, want 0.5", s.Points[2].ErrorRate)
	}
}

func TestInvalidErrorNamesEveryField(t *testing.T) {
	_, err := TopQuery{Filter: Filter{Status: 7}, From: t0, To: t0.Add(-time.Hour), By: "nope", OrderBy: "x", Limit: 1000}.Normalize()
	var inv *InvalidError
	if !errors.As(err, &inv) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v, want an *InvalidError", err)
	}
	for _, f := range []string{"workspace", "status", "to", "group_by", "order_by", "limit"} {
		if _, ok := inv.Field(f); !ok {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
	if !strings.HasPrefix(err.Error(), "invalid analytics query: workspace: is required; ") {
		t.Errorf("message %q", err)
	}
	_, err = SeriesQuery{Filter: Filter{Workspace: "w"}, From: t0, To: t0.Add(30 * Day), Bucket: time.Minute}.Normalize()
	if p, _ := err.(*InvalidError).Field("bucket"); !strings.Contains(p, "use 1h or coarser") {
		t.Errorf("too many points: %q, want it to suggest 1h", p)
	}
}

func TestSubSecondRangesTruncate(t *testing.T) {
	q, err := RecentQuery{Filter: Filter{Workspace: "w"}, From: t0.Add(1500 * time.Millisecond), To: t0.Add(2999 * time.Millisecond)}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if !q.From.Equal(t0.Add(time.Second)) || !q.To.Equal(t0.Add(2*time.Second)) || q.Limit != DefaultRecentLimit {
		t.Errorf("normalized %+v", q)
	}
}
