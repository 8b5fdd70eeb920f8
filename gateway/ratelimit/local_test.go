package ratelimit

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestLocalWindowBoundaries(t *testing.T) {
	tests := []struct {
		name   string
		w      Window
		first  string
		same   string // in the first's window
		next   string // in the following window
		before string // in the preceding window
	}{
		{"second", Second, "2024-03-10T12:00:05.000Z", "2024-03-10T12:00:05.999999999Z", "2024-03-10T12:00:06Z", "2024-03-10T12:00:04.999Z"},
		{"minute", Minute, "2024-03-10T12:01:00Z", "2024-03-10T12:01:59.999Z", "2024-03-10T12:02:00Z", "2024-03-10T12:00:59.999Z"},
		{"hour", Hour, "2024-03-10T12:00:00Z", "2024-03-10T12:59:59Z", "2024-03-10T13:00:00Z", "2024-03-10T11:59:59Z"},
		{"day", Day, "2024-03-10T00:00:00Z", "2024-03-10T23:59:59Z", "2024-03-11T00:00:00Z", "2024-03-09T23:59:59Z"},
		{"day in another zone is the UTC day", Day, "2024-03-11T01:30:00+02:00", "2024-03-10T00:00:00Z", "2024-03-11T00:00:00Z", "2024-03-09T23:59:59Z"},
		{"month of 31 days", Month, "2024-01-01T00:00:00Z", "2024-01-31T23:59:59Z", "2024-02-01T00:00:00Z", "2023-12-31T23:59:59Z"},
		{"leap february", Month, "2024-02-29T12:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z", "2024-01-31T23:59:59Z"},
		{"common february", Month, "2023-02-28T23:59:59Z", "2023-02-01T00:00:00Z", "2023-03-01T00:00:00Z", "2023-01-31T00:00:00Z"},
		{"year", Year, "2024-12-31T23:59:59Z", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "2023-12-31T23:59:59Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLocal(LocalOptions{SweepInterval: -1})
			defer l.Close()
			if n, err := l.Add("k", tt.w, utc(tt.first), 1); err != nil || n != 1 {
				t.Fatalf("Add first = %d, %v", n, err)
			}
			if n, _ := l.Add("k", tt.w, utc(tt.same), 2); n != 3 {
				t.Errorf("same window total = %d, want 3", n)
			}
			if n, _ := l.Get("k", tt.w, utc(tt.next)); n != 0 {
				t.Errorf("next window total = %d, want 0", n)
			}
			if n, _ := l.Get("k", tt.w, utc(tt.before)); n != 0 {
				t.Errorf("previous window total = %d, want 0", n)
			}
			if n, _ := l.Get("other", tt.w, utc(tt.same)); n != 0 {
				t.Errorf("other key total = %d, want 0", n)
			}
			if n, _ := l.Get("k", tt.w, utc(tt.first)); n != 3 {
				t.Errorf("Get = %d, want 3", n)
			}
		})
	}
}

func TestLocalWindowsAreIndependent(t *testing.T) {
	l := NewLocal(LocalOptions{SweepInterval: -1})
	defer l.Close()
	now := utc("2024-05-05T05:05:05Z")
	for _, w := range []Window{Second, Minute, Hour, Day, Month, Year} {
		if _, err := l.Add("k", w, now, int64(len(w))); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []Window{Second, Minute, Hour, Day, Month, Year} {
		if n, _ := l.Get("k", w, now); n != int64(len(w)) {
			t.Errorf("%s = %d, want %d", w, n, len(w))
		}
	}
}

func TestLocalUnknownWindow(t *testing.T) {
	l := NewLocal(LocalOptions{SweepInterval: -1})
	defer l.Close()
	if _, err := l.Add("k", Window("week"), time.Now(), 1); !errors.Is(err, ErrUnknownWindow) {
		t.Errorf("Add err = %v, want ErrUnknownWindow", err)
	}
	if _, err := l.Get("k", Window(""), time.Now()); !errors.Is(err, ErrUnknownWindow) {
		t.Errorf("Get err = %v, want ErrUnknownWindow", err)
	}
}

func TestLocalSweep(t *testing.T) {
	l := NewLocal(LocalOptions{SweepInterval: -1, Shards: 4})
	defer l.Close()
	now := utc("2024-05-05T05:05:05.5Z")
	l.Add("a", Second, now, 1)
	l.Add("a", Minute, now, 1)
	l.Add("b", Month, now, 1)
	if got := l.Len(); got != 3 {
		t.Fatalf("Len = %d, want 3", got)
	}
	if got := l.Sweep(now); got != 0 {
		t.Errorf("Sweep inside the windows dropped %d", got)
	}
	// A window is kept for one more window's length after it ends: sliding
	// windows weigh the previous window's count.
	if got := l.Sweep(utc("2024-05-05T05:05:06Z")); got != 0 {
		t.Errorf("Sweep at the second's end dropped %d, want 0", got)
	}
	if got := l.Sweep(utc("2024-05-05T05:05:07Z")); got != 1 {
		t.Errorf("Sweep a second after the second's end dropped %d, want 1", got)
	}
	if got := l.Sweep(utc("2024-05-05T05:06:00Z")); got != 0 {
		t.Errorf("Sweep at the minute's end dropped %d, want 0", got)
	}
	if got := l.Sweep(utc("2024-05-05T05:07:00Z")); got != 1 {
		t.Errorf("Sweep a minute after the minute's end dropped %d, want 1", got)
	}
	if n, _ := l.Get("b", Month, now); n != 1 {
		t.Errorf("month counter swept early: %d", n)
	}
	if got := l.Sweep(utc("2024-06-30T23:59:59Z")); got != 0 {
		t.Errorf("Sweep in the next month dropped %d", got)
	}
	if got := l.Sweep(utc("2024-07-01T00:00:00Z")); got != 1 || l.Len() != 0 {
		t.Errorf("Sweep a month after the month's end dropped %d, Len %d", got, l.Len())
	}
}

func TestLocalJanitor(t *testing.T) {
	var mu sync.Mutex
	clock := utc("2024-05-05T05:05:05Z")
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	l := NewLocal(LocalOptions{SweepInterval: time.Millisecond, Now: now})
	l.Add("k", Second, now(), 1)
	mu.Lock()
	clock = clock.Add(time.Hour)
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for l.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("janitor did not drop the expired counter")
		}
		time.Sleep(time.Millisecond)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Counting goes on after Close.
	if n, _ := l.Add("k", Second, now(), 2); n != 2 {
		t.Errorf("Add after Close = %d", n)
	}
}

func TestLocalConcurrent(t *testing.T) {
	l := NewLocal(LocalOptions{SweepInterval: time.Millisecond})
	defer l.Close()
	now := time.Now()
	const workers, per = 8, 500
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				l.Add("shared", Hour, now, 1)
				l.Add("own-"+strconv.Itoa(w), Hour, now, 1)
				l.Get("shared", Hour, now)
			}
		}(w)
	}
	wg.Wait()
	if n, _ := l.Get("shared", Hour, now); n != workers*per {
		t.Errorf("shared = %d, want %d", n, workers*per)
	}
	for w := 0; w < workers; w++ {
		if n, _ := l.Get("own-"+strconv.Itoa(w), Hour, now); n != per {
			t.Errorf("own-%d = %d, want %d", w, n, per)
		}
	}
}

func BenchmarkLocalAdd(b *testing.B) {
	l := NewLocal(LocalOptions{SweepInterval: -1})
	defer l.Close()
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Add("plugin-id|consumer-id", Minute, now, 1)
		}
	})
}
