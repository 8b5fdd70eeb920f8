// Package storetest is the conformance suite every ratelimit.Store
// implementation must pass (the local store, and the cluster store when it
// comes): counting per key and window, calendar windows, unknown windows and
// concurrent use.
//
// It is imported by tests only.
package storetest

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/ratelimit"
)

// Run runs the suite; newStore returns an empty store and arranges for its
// cleanup.
func Run(t *testing.T, newStore func(t *testing.T) ratelimit.Store) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}

	t.Run("counts per key and window", func(t *testing.T) {
		s := newStore(t)
		now := at("2024-07-01T10:20:30Z")
		for i, want := range []int64{1, 3, 6} {
			got, err := s.Add("k", ratelimit.Minute, now, int64(i+1))
			if err != nil || got != want {
				t.Fatalf("Add #%d = %d, %v; want %d", i, got, err, want)
			}
		}
		if got, _ := s.Get("k", ratelimit.Minute, now.Add(29*time.Second)); got != 6 {
			t.Errorf("Get later in the minute = %d, want 6", got)
		}
		if got, _ := s.Get("k", ratelimit.Hour, now); got != 0 {
			t.Errorf("hour shares the minute's count: %d", got)
		}
		if got, _ := s.Get("k2", ratelimit.Minute, now); got != 0 {
			t.Errorf("other key shares the count: %d", got)
		}
	})

	t.Run("windows turn over", func(t *testing.T) {
		cases := []struct {
			w          ratelimit.Window
			last, next string
		}{
			{ratelimit.Second, "2024-07-01T10:20:30Z", "2024-07-01T10:20:31Z"},
			{ratelimit.Minute, "2024-07-01T10:20:59Z", "2024-07-01T10:21:00Z"},
			{ratelimit.Hour, "2024-07-01T10:59:59Z", "2024-07-01T11:00:00Z"},
			{ratelimit.Day, "2024-07-01T23:59:59Z", "2024-07-02T00:00:00Z"},
			{ratelimit.Month, "2024-02-29T23:59:59Z", "2024-03-01T00:00:00Z"},
			{ratelimit.Month, "2024-04-30T23:59:59Z", "2024-05-01T00:00:00Z"},
			{ratelimit.Year, "2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z"},
		}
		for _, c := range cases {
			t.Run(string(c.w)+" "+c.last, func(t *testing.T) {
				s := newStore(t)
				if _, err := s.Add("k", c.w, at(c.last), 5); err != nil {
					t.Fatal(err)
				}
				if got, _ := s.Get("k", c.w, at(c.next)); got != 0 {
					t.Errorf("next window starts at %d", got)
				}
				if got, _ := s.Add("k", c.w, at(c.next), 1); got != 1 {
					t.Errorf("next window counts %d", got)
				}
				if got, _ := s.Get("k", c.w, at(c.last)); got != 5 {
					t.Errorf("previous window lost its count: %d", got)
				}
			})
		}
	})

	t.Run("unknown window", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Add("k", ratelimit.Window("fortnight"), time.Now(), 1); !errors.Is(err, ratelimit.ErrUnknownWindow) {
			t.Errorf("Add: %v, want ErrUnknownWindow", err)
		}
		if _, err := s.Get("k", ratelimit.Window("fortnight"), time.Now()); !errors.Is(err, ratelimit.ErrUnknownWindow) {
			t.Errorf("Get: %v, want ErrUnknownWindow", err)
		}
	})

	t.Run("concurrent adds are all counted", func(t *testing.T) {
		s := newStore(t)
		now := at("2024-07-01T10:20:30Z")
		const workers, each = 4, 250
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					if _, err := s.Add("hot", ratelimit.Day, now, 1); err != nil {
						t.Error(err)
						return
					}
					_, _ = s.Add("k"+strconv.Itoa(i%7), ratelimit.Day, now, 1)
				}
			}()
		}
		wg.Wait()
		if got, _ := s.Get("hot", ratelimit.Day, now); got != workers*each {
			t.Errorf("hot = %d, want %d", got, workers*each)
		}
	})
}
