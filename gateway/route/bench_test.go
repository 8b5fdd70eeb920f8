package route

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

// benchRoutes builds n routes shaped like a multi-tenant gateway: ten
// routes per service host (one catch-all "/" and nine API prefixes), some
// restricted to methods, every twentieth a wildcard tenant host and every
// twentieth a host-less shared path.
func benchRoutes(n int) []*entity.Route {
	routes := make([]*entity.Route, 0, n)
	for i := range n {
		id := "r" + strconv.Itoa(i)
		var r *entity.Route
		switch {
		case i%20 == 19:
			r = newRoute(id, paths("/shared/"+strconv.Itoa(i)))
		case i%20 == 18:
			r = newRoute(id, hosts(fmt.Sprintf("*.w%d.example.net", i/20)), paths("/"))
		case i%10 == 0:
			r = newRoute(id, hosts(fmt.Sprintf("svc%d.example.com", i/10)), paths("/"))
		default:
			r = newRoute(id, hosts(fmt.Sprintf("svc%d.example.com", i/10)), paths(fmt.Sprintf("/api/v1/res%d", i%10)))
		}
		if i%7 == 3 {
			r.Methods = []string{"GET", "POST"}
		}
		r.CreatedAt = int64(i)
		routes = append(routes, r)
	}
	return routes
}

// benchRequests builds k requests, each aimed at one route, spread evenly
// over the table.
func benchRequests(routes []*entity.Route, k int) []*Request {
	reqs := make([]*Request, 0, k)
	for j := range k {
		r := routes[j*len(routes)/k]
		host := "unknown.example.org"
		if len(r.Hosts) > 0 {
			host = strings.Replace(r.Hosts[0], "*", "tenant", 1) + ":8000"
		}
		p := strings.TrimSuffix(r.Paths[0], "/") + "/items/42"
		reqs = append(reqs, &Request{Protocol: "http", Method: "GET", Host: host, Path: p})
	}
	return reqs
}

func benchMatch(b *testing.B, n int) {
	routes := benchRoutes(n)
	tb := mustCompile(b, routes...)
	reqs := benchRequests(routes, 1024)
	for i, r := range reqs {
		m, ok := tb.Match(r)
		if !ok {
			b.Fatalf("request %d (%s %s) did not match", i, r.Host, r.Path)
		}
		checkSatisfies(b, m, r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, ok := tb.Match(reqs[i&1023]); !ok {
			b.Fatal("no match")
		}
		i++
	}
}

// BenchmarkMatch compares lookup cost on a small and a large table; the
// index keeps them close (target: routes=10000 within 1.5x of routes=10).
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run("routes="+strconv.Itoa(n), func(b *testing.B) { benchMatch(b, n) })
	}
}

// BenchmarkMatchScaling measures both sizes in the same run, interleaved
// in batches so that machine noise hits both alike, and reports their
// ratio (testing.Benchmark cannot be nested in a benchmark).
func BenchmarkMatchScaling(b *testing.B) {
	type side struct {
		tb   *Table
		reqs []*Request
		ns   time.Duration
	}
	sides := make([]*side, 0, 2)
	for _, n := range []int{10, 10000} {
		routes := benchRoutes(n)
		sides = append(sides, &side{tb: mustCompile(b, routes...), reqs: benchRequests(routes, 1024)})
	}
	calls := 0
	for b.Loop() {
		for _, s := range sides {
			start := time.Now()
			for _, r := range s.reqs {
				s.tb.Match(r)
			}
			s.ns += time.Since(start)
		}
		calls += 1024
	}
	small := float64(sides[0].ns) / float64(calls)
	large := float64(sides[1].ns) / float64(calls)
	b.ReportMetric(small, "ns/match@10")
	b.ReportMetric(large, "ns/match@10000")
	b.ReportMetric(large/small, "ratio")
}

// BenchmarkMatchRegex: ten hosts with ten regex routes each, ordered by
// regex_priority; requests hit routes spread over the priority order, so a
// lookup runs several regexes of its host before the one that matches,
// unless their literal prefixes ("/res3/") already tell them apart.
func BenchmarkMatchRegex(b *testing.B) {
	for _, tc := range []struct {
		name    string
		pattern string // %d is the route number within its host
		path    string // %d is the route aimed at, %d an item number
	}{
		{"no-captures", `~/v\d+/res%d/\w+$`, "/v2/res%d/item%d"},
		{"captures", `~/v(?<version>\d+)/res%d/(?<item>\w+)$`, "/v2/res%d/item%d"},
		{"captures-distinct-literals", `~/res%d/v(?<version>\d+)/(?<item>\w+)$`, "/res%d/v2/item%d"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var routes []*entity.Route
			for h := range 10 {
				for k := range 10 {
					routes = append(routes, newRoute(fmt.Sprintf("h%dk%d", h, k),
						hosts(fmt.Sprintf("api%d.example.com", h)),
						paths(fmt.Sprintf(tc.pattern, k)), prio(100-k)))
				}
			}
			tb := mustCompile(b, routes...)
			var reqs []*Request
			for i := range 64 {
				reqs = append(reqs, get(fmt.Sprintf("api%d.example.com", i%10), fmt.Sprintf(tc.path, (i*7)%10, i)))
			}
			for _, r := range reqs {
				m, ok := tb.Match(r)
				if !ok {
					b.Fatalf("%s %s did not match", r.Host, r.Path)
				}
				checkSatisfies(b, m, r)
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				tb.Match(reqs[i&63])
				i++
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	routes := benchRoutes(10000)
	es := entries(routes...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(es); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMatchDoesNotAllocate: a prefix or host-only match on a normalized
// path allocates nothing.
func TestMatchDoesNotAllocate(t *testing.T) {
	routes := benchRoutes(1000)
	tb := mustCompile(t, routes...)
	reqs := benchRequests(routes, 64)
	i := 0
	allocs := testing.AllocsPerRun(500, func() {
		tb.Match(reqs[i%len(reqs)])
		i++
	})
	if allocs != 0 {
		t.Fatalf("Match allocates %.1f times per call", allocs)
	}
	// upper-case hosts and hosts with ports take other paths
	tb = mustCompile(t, newRoute("p", hosts("*.example.com:8000", "api.example.com:8000", "api.*:8000"), paths("/x")))
	for _, host := range []string{"API.Example.COM:8000", "a.b.example.com:8000", "api.example.org:8000"} {
		req := get(host, "/x/y")
		if _, ok := tb.Match(req); !ok {
			t.Fatalf("%s did not match", host)
		}
		if n := testing.AllocsPerRun(100, func() { tb.Match(req) }); n != 0 {
			t.Errorf("Match of %s allocates %.1f times per call", host, n)
		}
	}
}
