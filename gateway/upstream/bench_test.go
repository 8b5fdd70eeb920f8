package upstream

import (
	"fmt"
	"testing"

	"github.com/tollgate/tollgate/internal/entity"
)

var pickCases = []struct {
	name string
	mod  func(*entity.Upstream)
}{
	{name: "round-robin"},
	{name: "least-connections", mod: func(u *entity.Upstream) { u.Algorithm = "least-connections" }},
	{name: "consistent-hashing", mod: func(u *entity.Upstream) { u.Algorithm, u.HashOn = "consistent-hashing", "consumer" }},
	{name: "round-robin passive checks", mod: passive(5, 5, 5, 5)},
}

// pickBalancer returns a balancer over n targets with mixed weights.
func pickBalancer(tb testing.TB, n int, mod func(*entity.Upstream)) (*Manager, *Balancer) {
	var mods []func(*entity.Upstream)
	if mod != nil {
		mods = append(mods, mod)
	}
	u := upstreamOf("svc", mods...)
	var targets []*entity.Target
	for i := range n {
		targets = append(targets, targetOf(u, fmt.Sprintf("10.0.0.%d:80", i+1), 50+50*(i%3)))
	}
	m := NewManager(Options{})
	m.Sync([]*entity.Upstream{u}, targets, nil)
	b, ok := m.Lookup(entity.DefaultWorkspace, "svc")
	if !ok {
		tb.Fatal("no balancer")
	}
	return m, b
}

// The request path's Pick and Done must not allocate.
func TestPickDoesNotAllocate(t *testing.T) {
	for _, tc := range pickCases {
		t.Run(tc.name, func(t *testing.T) {
			m, b := pickBalancer(t, 8, tc.mod)
			defer m.Close()
			in := &HashInput{ConsumerID: "0b6e1c2a-4d6f-4a55-9d5e-1f0a3c7e9b21"}
			tried := []string{"10.0.0.1:80"}
			allocs := testing.AllocsPerRun(1000, func() {
				p, err := b.Pick(in, tried)
				if err != nil {
					t.Fatal(err)
				}
				b.Done(p, Outcome{Kind: HTTPStatus, Status: 200})
			})
			if allocs != 0 {
				t.Errorf("Pick+Done: %v allocations", allocs)
			}
		})
	}
}

func BenchmarkPick(b *testing.B) {
	for _, tc := range pickCases {
		for _, n := range []int{3, 32} {
			b.Run(fmt.Sprintf("%s/targets=%d", tc.name, n), func(b *testing.B) {
				m, bal := pickBalancer(b, n, tc.mod)
				defer m.Close()
				in := &HashInput{}
				keys := make([]string, 1024)
				for i := range keys {
					keys[i] = fmt.Sprintf("consumer-%d", i)
				}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					in.ConsumerID = keys[i&1023]
					p, err := bal.Pick(in, nil)
					if err != nil {
						b.Fatal(err)
					}
					bal.Done(p, Outcome{Kind: HTTPStatus, Status: 200})
				}
			})
		}
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			m, bal := pickBalancer(b, 8, tc.mod)
			defer m.Close()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				in := &HashInput{ConsumerID: "consumer"}
				for pb.Next() {
					p, err := bal.Pick(in, nil)
					if err != nil {
						b.Error(err)
						return
					}
					bal.Done(p, Outcome{Kind: HTTPStatus, Status: 200})
				}
			})
		})
	}
}
