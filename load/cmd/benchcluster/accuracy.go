package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/load/benchrig"
)

// pattern is one way of spreading the rate-limit load over the nodes.
type pattern struct {
	name   string         // even, skewed
	path   string         // its own route and service, so that its key is its own
	target benchrig.Bound // on admitted/N
	// share is the fraction of the total load each node gets.
	share []float64
}

func (b *bench) patterns() (even, skewed pattern) {
	// Both bounds are the issue's: within N … 1.01·N with the load spread
	// evenly, within 1.05·N with all of it on one node.
	even = pattern{name: "even", path: "/rl-even", target: benchrig.Bound{Lo: 1, Hi: 1.01}, share: []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}}
	skewed = pattern{name: "skewed", path: "/rl-skewed", target: benchrig.Bound{Lo: 1, Hi: 1.05}, share: []float64{1, 0, 0}}
	return even, skewed
}

// flows turns the pattern into per-node flows. The total is the even
// pattern's (BENCH_RL_RATE per node, three nodes), so that both patterns
// offer the cluster the same load; connections scale with each node's part.
func (b *bench) flows(p pattern) []flow {
	total := b.cfg.rlRate * float64(len(b.nodes))
	var fs []flow
	for i, s := range p.share {
		if s == 0 {
			continue
		}
		rate := total * s
		conns := max(1, int(math.Ceil(float64(b.cfg.rlConns)*rate/b.cfg.rlRate)))
		fs = append(fs, flow{node: b.nodes[i], rate: rate, conns: conns})
	}
	return fs
}

// accuracySetup creates, for each pattern, a service and route limited by
// the rate-limiting plugin (minute N, policy cluster, limit_by service),
// and waits until every node applies the limit.
func (b *bench) accuracySetup(ctx context.Context, ps ...pattern) error {
	for _, p := range ps {
		name := strings.TrimPrefix(p.path, "/")
		if err := b.limitedRoute(ctx, name, p.path, float64(b.cfg.limit), "cluster"); err != nil {
			return err
		}
	}
	for _, p := range ps {
		for _, n := range b.nodes {
			if err := b.waitLimit(ctx, n, p.path, strconv.Itoa(b.cfg.limit), false); err != nil {
				return err
			}
		}
	}
	return nil
}

// limitedRoute creates service and route name at path with a rate-limiting
// plugin of minute limit under policy.
func (b *bench) limitedRoute(ctx context.Context, name, path string, minute float64, policy string) error {
	n1 := b.nodes[0]
	if _, err := b.admin(ctx, n1, http.MethodPost, "/services", map[string]any{"name": name, "url": b.upstream.URL()}); err != nil {
		return err
	}
	if _, err := b.admin(ctx, n1, http.MethodPost, "/services/"+name+"/routes", map[string]any{"name": name, "paths": []string{path}}); err != nil {
		return err
	}
	_, err := b.admin(ctx, n1, http.MethodPost, "/routes/"+name+"/plugins", map[string]any{
		"name":   "rate-limiting",
		"config": map[string]any{"minute": minute, "policy": policy, "limit_by": "service"},
	})
	return err
}

// waitLimit polls node n's path until the answer carries the minute limit
// (X-RateLimit-Limit-Minute: limit), which shows that the route and its
// plugin are both applied. With want200 the answer must also be 200.
func (b *bench) waitLimit(ctx context.Context, n *gnode, path, limit string, want200 bool) error {
	url := "http://" + n.proxy + path
	deadline := time.Now().Add(30 * time.Second)
	last := "no answer"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := b.HTTP.Do(req)
		if err == nil {
			resp.Body.Close()
			got := resp.Header.Get("X-RateLimit-Limit-Minute")
			ok := got == limit && (resp.StatusCode == http.StatusOK || (!want200 && resp.StatusCode == http.StatusTooManyRequests))
			if ok {
				return nil
			}
			last = fmt.Sprintf("%d with X-RateLimit-Limit-Minute %q", resp.StatusCode, got)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %d: GET %s still answers %s after 30s, want the rate-limiting plugin's X-RateLimit-Limit-Minute: %s", n.num, path, last, limit)
		}
		if err := benchrig.Sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// windowResult is one measured minute window of one pattern.
type windowResult struct {
	pattern pattern
	start   time.Time
	span    time.Duration // how long requests were sent for
	flows   []flow
	tallies []*tally

	ops   cqlOps
	opsOK bool // the in-memory server counted them
	rl    []namedValue
	rlErr []error
	cpu   cpuUse
}

// accuracy runs one pattern: rlWarmup of its load at the end of the minute
// before the first window (so that the nodes follow the key and have
// published their rates, as in a cluster already under this load), then
// cfg.windows whole minute windows, requests sent from rlFrom to rlUntil
// of each.
func (b *bench) accuracy(ctx context.Context, p pattern) ([]windowResult, error) {
	flows := b.flows(p)
	lead := b.cfg.rlWarmup + (time.Minute - b.cfg.rlUntil)
	first := firstPatternWindow(time.Now().Add(time.Second), lead)
	warmFrom, warmUntil := first.Add(-lead), first.Add(b.cfg.rlUntil-time.Minute)
	b.Progress("accuracy %s: waiting %v for the warm-up at %s; measured windows from %s UTC",
		p.name, time.Until(warmFrom).Round(time.Second), warmFrom.UTC().Format("15:04:05.0"), first.UTC().Format("15:04"))
	if err := benchrig.SleepUntil(ctx, warmFrom.Add(-time.Second)); err != nil {
		return nil, err
	}
	warm := sendOpenLoop(ctx, p.path, flows, warmFrom, warmUntil, nil)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, sent, ok, limited, other, errs, unsent := sumTallies(warm)
	b.Progress("accuracy %s: warm-up sent %d (200: %d, 429: %d, other: %d, errors: %d, unsent: %d)", p.name, sent, ok, limited, other, errs, unsent)

	var out []windowResult
	for w := range b.cfg.windows {
		start := first.Add(time.Duration(w) * time.Minute)
		from, until := sendSpan(start, b.cfg.rlFrom, b.cfg.rlUntil)
		if err := benchrig.SleepUntil(ctx, from.Add(-100*time.Millisecond)); err != nil {
			return nil, err
		}
		r := windowResult{pattern: p, start: start, span: until.Sub(from), flows: flows}
		opsBefore, opsOK := b.cql.ops()
		rlBefore, errs1 := b.rateLimitCounters(ctx)
		cpu := b.mark()
		label := fmt.Sprintf("accuracy %s window %d/%d (%s UTC)", p.name, w+1, b.cfg.windows, start.UTC().Format("15:04"))
		b.Progress("%s: sending %.0f req/s", label, b.cfg.rlRate*float64(len(b.nodes)))
		r.tallies = sendOpenLoop(ctx, p.path, flows, from, until, func(elapsed time.Duration, ts []*tally) {
			_, sent, ok, _, _, _, _ := sumTallies(ts)
			b.Progress("%s: %.0fs, sent %d, admitted %d", label, elapsed.Seconds(), sent, ok)
		})
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.cpu = b.since(cpu)
		if opsOK {
			opsAfter, _ := b.cql.ops()
			r.ops, r.opsOK = opsAfter.sub(opsBefore), true
		}
		rlAfter, errs2 := b.rateLimitCounters(ctx)
		r.rl = counterDeltas(rlBefore, rlAfter)
		r.rlErr = append(errs1, errs2...)
		_, sent, ok, _, _, _, _ := sumTallies(r.tallies)
		b.Progress("%s: done, sent %d, admitted %d (%s of N)", label, sent, ok, formatRatio(float64(ok), float64(b.cfg.limit)))
		out = append(out, r)
	}
	return out, nil
}

// reportAccuracy prints the windows of one pattern and adds their summary
// rows.
func (b *bench) reportAccuracy(p pattern, ws []windowResult) {
	total := b.cfg.rlRate * float64(len(b.nodes))
	b.Printf("\nRate-limit accuracy, %s load: N = %d requests/minute shared by %d nodes (policy cluster, limit_by service, ratelimit_sync_interval %s)\n",
		p.name, b.cfg.limit, len(b.nodes), b.cfg.syncInterval)
	var shares []string
	for i, s := range p.share {
		shares = append(shares, fmt.Sprintf("node %d %.0f", i+1, total*s))
	}
	b.Printf("offered %.0f req/s (%s), open loop; sent from second %.1f to %.1f of each minute; %.1fs of the same load before the first window\n",
		total, strings.Join(shares, ", "), b.cfg.rlFrom.Seconds(), b.cfg.rlUntil.Seconds(), b.cfg.rlWarmup.Seconds())
	b.Printf("%-7s %9s %9s %8s %8s %6s %6s %7s %11s %11s %7s\n",
		"window", "req/s", "sent", "200", "429", "other", "errors", "unsent", "admitted/N", "target", "result")
	for _, w := range ws {
		scheduled, sent, ok, limited, other, errs, unsent := sumTallies(w.tallies)
		achieved := float64(sent) / w.span.Seconds()
		ratio := float64(ok) / float64(b.cfg.limit)
		good := p.target.Holds(ratio) && other == 0 && errs == 0
		b.Printf("%-7s %9.0f %9d %8d %8d %6d %6d %7d %11s %11s %7s\n",
			w.start.UTC().Format("15:04"), achieved, sent, ok, limited, other, errs, unsent,
			formatRatio(float64(ok), float64(b.cfg.limit)), p.target, benchrig.Verdict(good))
		var per []string
		for i, t := range w.tallies {
			per = append(per, fmt.Sprintf("node %d %d/%d", w.flows[i].node.num, t.ok.Load(), t.sent.Load()))
		}
		b.Printf("        admitted/sent per node: %s; %s\n", strings.Join(per, ", "), w.cpu)
		if achieved < 0.98*total {
			b.Printf("        the generator sent %.0f req/s of the %.0f asked (%d of %d due requests unsent): this machine could not offer the full load\n",
				achieved, total, unsent, scheduled)
		}
		for _, t := range w.tallies {
			if t.firstOther != "" {
				b.Printf("        first unexpected answer: %s\n", t.firstOther)
				break
			}
		}
		b.Summary.Add(fmt.Sprintf("admitted/N, %s load, %s", p.name, w.start.UTC().Format("15:04")),
			fmt.Sprintf("%s (%d/%d)", formatRatio(float64(ok), float64(b.cfg.limit)), ok, b.cfg.limit), p.target.String(), good)
	}
}

// reportOps prints the Cassandra operations per proxied request during the
// windows (the even ones: the full load) and adds a summary row.
func (b *bench) reportOps(ws []windowResult) {
	var sent int64
	var ops cqlOps
	opsOK := len(ws) > 0
	rl := map[string]float64{}
	var names []string
	var errs []error
	for _, w := range ws {
		_, s, _, _, _, _, _ := sumTallies(w.tallies)
		sent += s
		if w.opsOK {
			ops.queries += w.ops.queries
			ops.executes += w.ops.executes
			ops.batches += w.ops.batches
			ops.prepares += w.ops.prepares
		} else {
			opsOK = false
		}
		for _, nv := range w.rl {
			if _, seen := rl[nv.name]; !seen {
				names = append(names, nv.name)
			}
			rl[nv.name] += nv.value
		}
		errs = append(errs, w.rlErr...)
	}
	b.Printf("\nCassandra operations per proxied request, during the even-load window(s): %d requests sent\n", sent)
	perReq := func(v float64) string { return formatRatioPrec(v, float64(sent)) }
	if opsOK {
		b.Printf("CQL server, all operations: %d (%d QUERY, %d EXECUTE, %d BATCH; %d PREPARE not counted) = %s per request\n",
			ops.total(), ops.queries, ops.executes, ops.batches, ops.prepares, perReq(float64(ops.total())))
		b.Printf("  (all three nodes' Cassandra traffic: config polling every %s and node heartbeats as well as rate-limit syncs)\n", b.cfg.dbUpdateFrequency)
	} else {
		b.Printf("CQL server: not counted (TOLLGATE_BENCH_CASSANDRA is a real Cassandra); see the nodes' counters below\n")
	}
	rlOps, rlOpsName := math.NaN(), ""
	if len(names) == 0 {
		b.Printf("rate-limit counters in the nodes' /metrics: none found (no counter named like *ratelimit*ops*_total)\n")
	} else {
		b.Printf("rate-limit counters in the nodes' /metrics, increase summed over the nodes:\n")
		for _, name := range names {
			b.Printf("  %-50s %10.0f  = %s per request\n", name, rl[name], perReq(rl[name]))
			if isOpsCounter(name) && rlOpsName == "" {
				rlOps, rlOpsName = rl[name], name
			}
		}
	}
	for _, err := range errs {
		b.Printf("  (scrape failed: %v)\n", err)
	}
	target := benchrig.Bound{Lo: benchrig.NoBound, Hi: 0.01}
	switch {
	case rlOpsName != "":
		v := rlOps / float64(sent)
		b.Summary.Add("Cassandra ops/request, rate limit, even load", perReq(rlOps), target.String(), target.Holds(v))
		if opsOK {
			b.Summary.Info("Cassandra ops/request, all, even load", perReq(float64(ops.total())))
		}
	case opsOK:
		v := float64(ops.total()) / float64(sent)
		b.Summary.Add("Cassandra ops/request, all, even load", perReq(float64(ops.total())), target.String(), target.Holds(v))
	default:
		b.Summary.Add("Cassandra ops/request, even load", "not measured", target.String(), false)
	}
}

// formatRatioPrec renders num/den with four significant decimals, as
// operations per request are small.
func formatRatioPrec(num, den float64) string {
	if den == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", num/den)
}
