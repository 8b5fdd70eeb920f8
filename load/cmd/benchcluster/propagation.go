package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tollgate/tollgate/load/benchrig"
)

// changeKind is what a measured change does to a route.
type changeKind int

const (
	kindCreate changeKind = iota
	kindUpdate
	kindDelete
	numKinds
)

func (k changeKind) String() string {
	return [...]string{"create", "update", "delete"}[k]
}

// propResult holds the delays measured for one kind of change: one sample
// per change and observing node.
type propResult struct {
	delays [numKinds][]time.Duration
	lost   [numKinds]int // samples not served within changeWithin
}

// propagation writes cfg.changes changes through node 1's Admin API and
// measures, on nodes 2 and 3, the time from the write's acknowledgement to
// the first proxied request served accordingly. Change i works on entity
// i/3 and is, in turn, a create (service and route, the route timed), an
// update (PATCH of the route's paths) and a delete of the route; the
// entity's service is then deleted, untimed. One change at a time: the
// next is written only when both nodes serve the previous one (or gave up
// on it).
func (b *bench) propagation(ctx context.Context) (*propResult, error) {
	res := &propResult{}
	writer, observers := b.nodes[0], b.nodes[1:]
	b.Progress("propagation: %d changes through node 1, polled on nodes 2 and 3 every %v", b.cfg.changes, b.cfg.pollEvery)
	for i := 0; i < b.cfg.changes; i++ {
		if i > 0 && i%20 == 0 {
			b.Progress("propagation: %d/%d changes", i, b.cfg.changes)
		}
		j := i / 3
		name := fmt.Sprintf("prop-%d", j)
		// A separator after the number keeps /prop-1-a from being a
		// prefix of /prop-10-a: Kong's paths match by prefix.
		pathA, pathB := fmt.Sprintf("/prop-%d-a", j), fmt.Sprintf("/prop-%d-b", j)
		kind := changeKind(i % 3)
		var (
			path string
			err  error
		)
		switch kind {
		case kindCreate:
			if _, err = b.admin(ctx, writer, http.MethodPost, "/services", map[string]any{"name": name, "url": b.upstream.URL()}); err != nil {
				return nil, err
			}
			path = pathA
			_, err = b.admin(ctx, writer, http.MethodPost, "/services/"+name+"/routes", map[string]any{"name": name, "paths": []string{pathA}})
		case kindUpdate:
			path = pathB
			_, err = b.admin(ctx, writer, http.MethodPatch, "/routes/"+name, map[string]any{"paths": []string{pathB}})
		case kindDelete:
			path = pathB
			_, err = b.admin(ctx, writer, http.MethodDelete, "/routes/"+name, nil)
		}
		if err != nil {
			return nil, err
		}
		acked := time.Now()

		var wg sync.WaitGroup
		delays := make([]time.Duration, len(observers))
		seen := make([]bool, len(observers))
		for k, n := range observers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				delays[k], seen[k] = b.waitServed(ctx, n, path, kind, acked)
			}()
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for k := range observers {
			if seen[k] {
				res.delays[kind] = append(res.delays[kind], delays[k])
			} else {
				res.lost[kind]++
				b.Progress("propagation: change %d (%s %s) not served by node %d within %v", i, kind, path, observers[k].num, b.cfg.changeWithin)
			}
		}
		if kind == kindDelete {
			if _, err := b.admin(ctx, writer, http.MethodDelete, "/services/"+name, nil); err != nil {
				return nil, err
			}
		}
	}
	b.Progress("propagation: %d/%d changes", b.cfg.changes, b.cfg.changes)
	return res, nil
}

// waitServed polls node n's proxy for path until its answer reflects a
// change of kind: 200 from the upstream after a create or update, 404 "no
// Route matched" after a delete. It returns the time from acked to the
// arrival of that answer, and false when it did not come within
// changeWithin.
func (b *bench) waitServed(ctx context.Context, n *gnode, path string, kind changeKind, acked time.Time) (time.Duration, bool) {
	url := "http://" + n.proxy + path
	deadline := acked.Add(b.cfg.changeWithin)
	for {
		code, body, err := b.get(ctx, url, nil)
		at := time.Now()
		if err == nil && served(kind, code, body) {
			return at.Sub(acked), true
		}
		if at.After(deadline) || ctx.Err() != nil {
			return 0, false
		}
		if benchrig.Sleep(ctx, b.cfg.pollEvery) != nil {
			return 0, false
		}
	}
}

// served tells whether a proxied answer reflects a change of kind.
func served(kind changeKind, code int, body []byte) bool {
	if kind == kindDelete {
		return code == http.StatusNotFound && bytes.Contains(body, []byte("no Route matched"))
	}
	return code == http.StatusOK && bytes.Equal(body, []byte("ok"))
}

// report prints the delays per kind and overall and adds the summary row.
func (r *propResult) report(b *bench) {
	b.Printf("\nPropagation: %d changes written through node 1's Admin API, served by nodes 2 and 3\n", b.cfg.changes)
	b.Printf("(db_update_frequency %s; nodes polled every %v; delay = first answer reflecting the change − Admin API response)\n",
		b.cfg.dbUpdateFrequency, b.cfg.pollEvery)
	b.Printf("%-8s %8s %8s %8s %8s %8s %6s\n", "kind", "samples", "p50 ms", "p90 ms", "p99 ms", "max ms", "lost")
	var all []time.Duration
	lost := 0
	for k := range numKinds {
		d := benchrig.Summarize(r.delays[k])
		b.Printf("%-8s %8d %8s %8s %8s %8s %6d\n", k, d.N, ms(d.P50), ms(d.P90), ms(d.P99), ms(d.Max), r.lost[k])
		all = append(all, r.delays[k]...)
		lost += r.lost[k]
	}
	d := benchrig.Summarize(all)
	b.Printf("%-8s %8d %8s %8s %8s %8s %6d\n", "all", d.N, ms(d.P50), ms(d.P90), ms(d.P99), ms(d.Max), lost)

	target := benchrig.Bound{Lo: benchrig.NoBound, Hi: 1000}
	v := float64(d.P99) / float64(time.Millisecond)
	if d.N == 0 {
		v = benchrig.NoBound
	}
	ok := target.Holds(v) && lost == 0
	b.Summary.Add("propagation p50 / p99 ms", fmt.Sprintf("%s / %s", ms(d.P50), ms(d.P99)), "p99 ≤ 1000, none lost", ok)
}
