package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollgate/tollgate/load"
	"github.com/tollgate/tollgate/load/benchrig"
)

// tpLimit is the minute limit of the throughput routes: far above any load
// this machine can offer, so that every request is admitted and counted.
const tpLimit = 1e9

// tpRun is one closed-loop run against node 1.
type tpRun struct {
	load.ClosedLoopResult
	policy string
	cpu    cpuUse

	ops     cqlOps  // the CQL server's operations during the run
	opsOK   bool    // counted (the in-memory server)
	rlOps   float64 // the nodes' rate-limit Cassandra operations
	rlOpsOK bool    // a node exposes such a counter
}

// throughputSetup creates the two routes of the comparison, one with the
// local policy and one with the cluster policy, and waits for node 1 to
// apply both.
func (b *bench) throughputSetup(ctx context.Context) error {
	for _, policy := range []string{"local", "cluster"} {
		if err := b.limitedRoute(ctx, "tp-"+policy, "/tp-"+policy, tpLimit, policy); err != nil {
			return err
		}
	}
	for _, policy := range []string{"local", "cluster"} {
		if err := b.waitLimit(ctx, b.nodes[0], "/tp-"+policy, strconv.FormatFloat(tpLimit, 'f', -1, 64), true); err != nil {
			return err
		}
	}
	return nil
}

// throughput runs closed-loop keep-alive load on node 1 against the local
// route and the cluster route in turn, cfg.rounds times each, after a
// warm-up of each.
func (b *bench) throughput(ctx context.Context) ([]tpRun, error) {
	wrk, _ := exec.LookPath("wrk")
	tool := "in-process fasthttp client (wrk not on PATH)"
	if wrk != "" {
		tool = "wrk -t1"
	}
	b.Progress("throughput: %s, %d connections, %v per run, warm-up %v per route", tool, b.cfg.connections, b.cfg.duration, b.cfg.warmup)
	for _, policy := range []string{"local", "cluster"} {
		if b.cfg.warmup > 0 {
			if _, err := b.closedLoop(ctx, wrk, policy, b.cfg.warmup); err != nil {
				return nil, fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	var runs []tpRun
	for i := range b.cfg.rounds {
		for _, policy := range []string{"local", "cluster"} {
			b.Progress("throughput: round %d/%d, policy %s", i+1, b.cfg.rounds, policy)
			r, err := b.closedLoop(ctx, wrk, policy, b.cfg.duration)
			if err != nil {
				return nil, err
			}
			b.Progress("throughput: round %d/%d, policy %s: %.0f req/s", i+1, b.cfg.rounds, policy, r.RPS)
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// closedLoop measures one run against node 1's route for policy.
func (b *bench) closedLoop(ctx context.Context, wrk, policy string, d time.Duration) (tpRun, error) {
	url := "http://" + b.nodes[0].proxy + "/tp-" + policy
	r := tpRun{policy: policy}
	opsBefore, opsOK := b.cql.ops()
	rlBefore, _ := b.rateLimitCounters(ctx)
	m := b.mark()
	var err error
	r.ClosedLoopResult, err = load.ClosedLoop(ctx, load.ClosedLoopConfig{
		Addr:        b.nodes[0].proxy,
		Path:        "/tp-" + policy,
		Connections: b.cfg.connections,
		Duration:    d,
		Wrk:         wrk,
		Describe:    describeAnswer,
	})
	r.cpu = b.since(m)
	if opsOK {
		opsAfter, _ := b.cql.ops()
		r.ops, r.opsOK = opsAfter.sub(opsBefore), true
	}
	rlAfter, _ := b.rateLimitCounters(ctx)
	for _, nv := range counterDeltas(rlBefore, rlAfter) {
		if isOpsCounter(nv.name) {
			r.rlOps += nv.value
			r.rlOpsOK = true
		}
	}
	if err != nil {
		return r, err
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	if r.Total == 0 {
		return r, fmt.Errorf("throughput run against %s completed no request: %s", url, r.FirstNo)
	}
	return r, nil
}

// okRPS is the rate of 200 answers: what the node proxied. A run with
// 429s answered more requests per second than it proxied, 429s being
// cheaper, so the comparison is made on this.
func (r tpRun) okRPS() float64 {
	if r.Total == 0 {
		return 0
	}
	return r.RPS * float64(r.Total-r.Non200) / float64(r.Total)
}

// reportThroughput prints the runs and the median ratio cluster/local of
// proxied (200) requests per second; answers other than 200 under a limit
// no run can reach get a summary row of their own.
func (b *bench) reportThroughput(runs []tpRun) {
	tool := "wrk -t1"
	if _, err := exec.LookPath("wrk"); err != nil {
		tool = "in-process fasthttp client"
	}
	b.Printf("\nThroughput of node 1, closed loop (%s, %d keep-alive connections, %v per run, runs alternated after %v of warm-up per route)\n",
		tool, b.cfg.connections, b.cfg.duration, b.cfg.warmup)
	b.Printf("route: rate-limiting minute %.0f, limit_by service; the client, three nodes and the CQL server share this machine's CPUs, nothing pinned\n", tpLimit)
	b.Printf("%-6s %-8s %10s %10s %10s %8s  %s\n", "round", "policy", "req/s", "200/s", "requests", "non-200", "CPU")
	var ratios []float64
	var bad int64
	var firstBad string
	for i, r := range runs {
		b.Printf("%-6d %-8s %10.0f %10.0f %10d %8d  %s\n", i/2+1, r.policy, r.RPS, r.okRPS(), r.Total, r.Non200+r.Errors, r.cpu)
		if n := r.Non200 + r.Errors; n > 0 {
			bad += n
			if firstBad == "" {
				firstBad = r.policy + ": " + r.FirstNo
			}
			b.Printf("        %d non-200 answers or errors, first: %s\n", n, r.FirstNo)
		}
		if r.policy == "cluster" && i > 0 && runs[i-1].policy == "local" && runs[i-1].okRPS() > 0 {
			ratios = append(ratios, r.okRPS()/runs[i-1].okRPS())
		}
	}
	b.reportThroughputOps(runs)
	med := benchrig.Median(ratios)
	var each []string
	for _, v := range ratios {
		each = append(each, fmt.Sprintf("%.3f", v))
	}
	target := benchrig.Bound{Lo: 0.95, Hi: benchrig.NoBound}
	b.Printf("cluster/local 200/s per round: %s; median %s (target %s)\n", strings.Join(each, ", "), benchrig.Float3(med), target)
	b.Summary.Add("throughput cluster/local (200/s)", benchrig.Float3(med), target.String(), target.Holds(med))
	if bad > 0 {
		b.Printf("the limit is %.0f a minute, which no run comes near: every answer but 200 is an error of the gateway\n", tpLimit)
	}
	b.Summary.Add("throughput non-200 answers", strconv.FormatInt(bad, 10), "0", bad == 0)
}

// reportThroughputOps prints the Cassandra operations per request of the
// cluster runs: full load on a limit never reached, where the rate limit
// syncs every round (under the even load the limit is used up at once and
// its window is no longer synced).
func (b *bench) reportThroughputOps(runs []tpRun) {
	var total, ops, rl int64
	opsOK, rlOK := true, true
	for _, r := range runs {
		if r.policy != "cluster" {
			continue
		}
		total += r.Total
		ops += r.ops.total()
		rl += int64(r.rlOps)
		opsOK = opsOK && r.opsOK
		rlOK = rlOK && r.rlOpsOK
	}
	if total == 0 {
		return
	}
	target := benchrig.Bound{Lo: benchrig.NoBound, Hi: 0.01}
	if opsOK {
		b.Printf("Cassandra operations during the cluster runs: %d for %d requests = %s per request (all nodes' traffic: config polling and heartbeats too)\n",
			ops, total, formatRatioPrec(float64(ops), float64(total)))
		b.Summary.Info("Cassandra ops/request, all, throughput", formatRatioPrec(float64(ops), float64(total)))
	}
	if rlOK {
		v := float64(rl) / float64(total)
		b.Printf("rate-limit Cassandra operations (tollgate_ratelimit_*ops* counters) during the cluster runs: %d = %s per request (target %s)\n",
			rl, formatRatioPrec(float64(rl), float64(total)), target)
		b.Summary.Add("Cassandra ops/request, rate limit, throughput", formatRatioPrec(float64(rl), float64(total)), target.String(), target.Holds(v))
	}
}

// describeAnswer renders an unexpected answer for the report: its status,
// when it came, its rate-limit headers and the start of its body.
func describeAnswer(resp *fasthttp.Response) string {
	var hdrs []string
	for k, v := range resp.Header.All() {
		name := string(k)
		if strings.Contains(strings.ToLower(name), "ratelimit") || strings.EqualFold(name, "Retry-After") {
			hdrs = append(hdrs, name+": "+string(v))
		}
	}
	slices.Sort(hdrs)
	return fmt.Sprintf("status %d at %s UTC, %s, body %.120q",
		resp.StatusCode(), time.Now().UTC().Format("15:04:05.000"), strings.Join(hdrs, ", "), resp.Body())
}
