package upstream

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

func hashUpstream(name string, mod ...func(*entity.Upstream)) *entity.Upstream {
	return upstreamOf(name, append([]func(*entity.Upstream){func(u *entity.Upstream) {
		u.Algorithm = "consistent-hashing"
		u.HashOn = "header"
		u.HashOnHeader = "X-User"
	}}, mod...)...)
}

func headerInput(v string) *HashInput {
	return &HashInput{Header: func(name string) string {
		if name == "X-User" {
			return v
		}
		return ""
	}}
}

// mapKeys returns which target each of n keys goes to.
func mapKeys(t *testing.T, bal *Balancer, n int) map[string]string {
	t.Helper()
	out := make(map[string]string, n)
	for i := range n {
		key := fmt.Sprintf("user-%d", i)
		p, err := bal.Pick(headerInput(key), nil)
		if err != nil {
			t.Fatal(err)
		}
		bal.Done(p, Outcome{Kind: Success})
		out[key] = p.Addr
	}
	return out
}

func TestConsistentHashingIsSticky(t *testing.T) {
	hashOn := []struct {
		name string
		mod  func(*entity.Upstream)
		in   func(key string) *HashInput
	}{
		{
			name: "consumer",
			mod:  func(u *entity.Upstream) { u.HashOn = "consumer" },
			in:   func(k string) *HashInput { return &HashInput{ConsumerID: k} },
		},
		{
			name: "ip",
			mod:  func(u *entity.Upstream) { u.HashOn = "ip" },
			in:   func(k string) *HashInput { return &HashInput{ClientIP: k} },
		},
		{
			name: "header",
			in:   headerInput,
		},
		{
			name: "cookie",
			mod:  func(u *entity.Upstream) { u.HashOn, u.HashOnCookie = "cookie", "sticky" },
			in: func(k string) *HashInput {
				return &HashInput{Cookie: func(n string) string {
					if n == "sticky" {
						return k
					}
					return ""
				}}
			},
		},
		{
			name: "header falls back to consumer",
			mod:  func(u *entity.Upstream) { u.HashFallback = "consumer" },
			in:   func(k string) *HashInput { return &HashInput{ConsumerID: k, Header: func(string) string { return "" }} },
		},
		{
			name: "consumer falls back to header",
			mod: func(u *entity.Upstream) {
				u.HashOn, u.HashFallback, u.HashFallbackHeader = "consumer", "header", "X-Fallback"
			},
			in: func(k string) *HashInput {
				return &HashInput{Header: func(n string) string {
					if n == "X-Fallback" {
						return k
					}
					return ""
				}}
			},
		},
	}
	for _, tc := range hashOn {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestManager(t, Options{})
			var mods []func(*entity.Upstream)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			u := hashUpstream("svc", mods...)
			backends := []*backend{newBackend(t), newBackend(t), newBackend(t)}
			var targets []*entity.Target
			for _, b := range backends {
				targets = append(targets, targetOf(u, b.addr(), 100))
			}
			m.Sync([]*entity.Upstream{u}, targets, nil)
			bal := mustLookup(t, m, "svc")

			used := map[string]bool{}
			for i := range 30 {
				key := fmt.Sprintf("key-%d", i)
				first, err := proxy(t, bal, tc.in(key), nil)
				if err != nil {
					t.Fatal(err)
				}
				used[first] = true
				for range 5 {
					again, err := proxy(t, bal, tc.in(key), nil)
					if err != nil {
						t.Fatal(err)
					}
					if again != first {
						t.Fatalf("key %s went to %s, then to %s", key, first, again)
					}
				}
			}
			if len(used) != 3 {
				t.Errorf("30 keys used %d of 3 targets", len(used))
			}
			var served int64
			for _, b := range backends {
				served += b.hits.Load()
			}
			if served != 180 {
				t.Errorf("backends served %d requests, want 180", served)
			}
		})
	}
}

func TestConsistentHashingWithoutInputSpreadsByWeight(t *testing.T) {
	m := newTestManager(t, Options{})
	u := hashUpstream("svc")
	m.Sync([]*entity.Upstream{u}, []*entity.Target{targetOf(u, "a:1", 2), targetOf(u, "b:1", 1)}, nil)
	bal := mustLookup(t, m, "svc")
	count := map[string]int{}
	for range 30 {
		p, err := bal.Pick(headerInput(""), nil) // header absent, fallback none
		if err != nil {
			t.Fatal(err)
		}
		count[p.Addr]++
		bal.Done(p, Outcome{Kind: Success})
	}
	if count["a:1"] != 20 || count["b:1"] != 10 {
		t.Errorf("without a hash value: %v, want a:1=20 b:1=10", count)
	}
}

func TestConsistentHashingSharesFollowWeights(t *testing.T) {
	m := newTestManager(t, Options{})
	u := hashUpstream("svc")
	weights := map[string]int{"a:1": 100, "b:1": 200, "c:1": 300, "d:1": 0}
	var targets []*entity.Target
	for addr, w := range weights {
		targets = append(targets, targetOf(u, addr, w))
	}
	m.Sync([]*entity.Upstream{u}, targets, nil)
	got := map[string]int{}
	const n = 30000
	for _, addr := range mapKeys(t, mustLookup(t, m, "svc"), n) {
		got[addr]++
	}
	for addr, w := range weights {
		want := float64(n) * float64(w) / 600
		if math.Abs(float64(got[addr])-want) > 0.05*n {
			t.Errorf("%s (weight %d): %d keys, want about %.0f", addr, w, got[addr], want)
		}
	}
}

func TestConsistentHashingRemapsMinimally(t *testing.T) {
	u := hashUpstream("svc", func(u *entity.Upstream) { u.Slots = 1000 })
	all := []*entity.Target{
		targetOf(u, "10.0.0.1:80", 100), targetOf(u, "10.0.0.2:80", 100),
		targetOf(u, "10.0.0.3:80", 50), targetOf(u, "10.0.0.4:80", 200),
	}
	const keys = 20000
	m := newTestManager(t, Options{})

	m.Sync([]*entity.Upstream{u}, all, nil)
	before := mapKeys(t, mustLookup(t, m, "svc"), keys)

	t.Run("removing a target moves only its keys", func(t *testing.T) {
		for _, gone := range all {
			var rest []*entity.Target
			for _, x := range all {
				if x != gone {
					rest = append(rest, x)
				}
			}
			m.Sync([]*entity.Upstream{u}, rest, nil)
			after := mapKeys(t, mustLookup(t, m, "svc"), keys)
			moved := 0
			for k, was := range before {
				switch {
				case was == gone.Target:
					moved++
					if after[k] == gone.Target {
						t.Fatalf("key %s still on removed %s", k, gone.Target)
					}
				case after[k] != was:
					t.Fatalf("removing %s moved key %s from %s to %s", gone.Target, k, was, after[k])
				}
			}
			if moved == 0 {
				t.Errorf("%s owned no keys", gone.Target)
			}
		}
	})

	t.Run("adding a target moves keys only to it", func(t *testing.T) {
		m.Sync([]*entity.Upstream{u}, append(all[:4:4], targetOf(u, "10.0.0.5:80", 100)), nil)
		after := mapKeys(t, mustLookup(t, m, "svc"), keys)
		gained := 0
		for k, was := range before {
			if after[k] == was {
				continue
			}
			if after[k] != "10.0.0.5:80" {
				t.Fatalf("adding a target moved key %s from %s to %s", k, was, after[k])
			}
			gained++
		}
		// 100 of 550 weight: about 18% of the keys.
		if gained < keys/10 || gained > keys/4 {
			t.Errorf("new target took %d of %d keys, want about 18%%", gained, keys)
		}
	})

	t.Run("an unhealthy target's keys move and come back", func(t *testing.T) {
		m.Sync([]*entity.Upstream{u}, all, nil)
		bal := mustLookup(t, m, "svc")
		if err := m.SetHealth(entity.DefaultWorkspace, "svc", "10.0.0.4:80", false); err != nil {
			t.Fatal(err)
		}
		during := mapKeys(t, bal, keys)
		for k, was := range before {
			if was == "10.0.0.4:80" {
				if during[k] == was {
					t.Fatalf("key %s still on the unhealthy target", k)
				}
			} else if during[k] != was {
				t.Fatalf("key %s moved from healthy %s to %s", k, was, during[k])
			}
		}
		if err := m.SetHealth(entity.DefaultWorkspace, "svc", "10.0.0.4:80", true); err != nil {
			t.Fatal(err)
		}
		again := mapKeys(t, bal, keys)
		for k, was := range before {
			if again[k] != was {
				t.Fatalf("after recovery key %s is on %s, was %s", k, again[k], was)
			}
		}
	})
}

// The hash must not depend on the process: every gateway node sends a key
// to the same target.
func TestHashIsStable(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		// FNV-1a 64 test vectors (draft-eastlake-fnv), then the finaliser.
		{in: "", want: mix64(0xcbf29ce484222325)},
		{in: "a", want: mix64(0xaf63dc4c8601ec8c)},
		{in: "foobar", want: mix64(0x85944171f73967e8)},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			if got := hashString(tc.in); got != tc.want {
				t.Errorf("hashString(%q) = %#x, want %#x", tc.in, got, tc.want)
			}
		})
	}
	// A pinned ring: one slot's owner must never change between releases,
	// or a rolling upgrade would reshuffle every sticky client.
	members := []member{
		{t: newTarget("w", "u", "10.0.0.1:80", zeroTime), weight: 100},
		{t: newTarget("w", "u", "10.0.0.2:80", zeroTime), weight: 100},
	}
	ring := buildRing(members, 16)
	got := fmt.Sprint(ring)
	if want := pinnedRing; got != want {
		t.Errorf("ring = %s, want %s", got, want)
	}
}

var zeroTime = time.Time{}

const pinnedRing = "[1 0 1 0 1 0 1 1 0 0 0 1 1 1 1 0]"
