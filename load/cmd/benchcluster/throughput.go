package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// tpLimit is the minute limit of the throughput routes: far above any load
// this machine can offer, so that every request is admitted and counted.
const tpLimit = 1e9

// tpRun is one closed-loop run against node 1.
type tpRun struct {
	policy  string
	rps     float64
	total   int64
	non200  int64
	errors  int64
	firstNo string // the first non-200 answer or error
	cpu     cpuUse

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
	b.progress("throughput: %s, %d connections, %v per run, warm-up %v per route", tool, b.cfg.connections, b.cfg.duration, b.cfg.warmup)
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
			b.progress("throughput: round %d/%d, policy %s", i+1, b.cfg.rounds, policy)
			r, err := b.closedLoop(ctx, wrk, policy, b.cfg.duration)
			if err != nil {
				return nil, err
			}
			b.progress("throughput: round %d/%d, policy %s: %.0f req/s", i+1, b.cfg.rounds, policy, r.rps)
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
	if wrk != "" {
		err = runWrk(ctx, wrk, url, b.cfg.connections, d, &r)
	} else {
		runInProcess(ctx, b.nodes[0].proxy, "/tp-"+policy, b.cfg.connections, d, &r)
	}
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
	if r.total == 0 {
		return r, fmt.Errorf("throughput run against %s completed no request: %s", url, r.firstNo)
	}
	return r, nil
}

var (
	wrkRPS    = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkTotal  = regexp.MustCompile(`(?m)^\s*([0-9]+) requests in`)
	wrkNon2xx = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses:\s+([0-9]+)`)
	wrkErrors = regexp.MustCompile(`(?m)^\s*Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)`)
)

// runWrk runs wrk -t1 and reads requests/s, non-2xx answers and socket
// errors from its report.
func runWrk(ctx context.Context, wrk, url string, conns int, d time.Duration, r *tpRun) error {
	secs := max(1, int(math.Round(d.Seconds())))
	cmd := exec.CommandContext(ctx, wrk, "-t1", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", secs), "--timeout", "2s", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("wrk %s: %w\n%s", url, err, out)
	}
	return parseWrk(out, r)
}

// parseWrk fills r from wrk's report.
func parseWrk(out []byte, r *tpRun) error {
	m := wrkRPS.FindSubmatch(out)
	t := wrkTotal.FindSubmatch(out)
	if m == nil || t == nil {
		return fmt.Errorf("cannot read wrk's report:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	r.total, _ = strconv.ParseInt(string(t[1]), 10, 64)
	if n := wrkNon2xx.FindSubmatch(out); n != nil {
		r.non200, _ = strconv.ParseInt(string(n[1]), 10, 64)
		r.firstNo = "wrk counted non-2xx/3xx responses"
	}
	if e := wrkErrors.FindSubmatch(out); e != nil {
		for _, g := range e[1:] {
			v, _ := strconv.ParseInt(string(g), 10, 64)
			r.errors += v
		}
		if r.errors > 0 && r.firstNo == "" {
			r.firstNo = string(bytes.TrimSpace(e[0]))
		}
	}
	return nil
}

// runInProcess is the closed loop without wrk: conns goroutines, each
// sending its next request as soon as the last one is answered, over a
// keep-alive connection of its own.
func runInProcess(ctx context.Context, addr, path string, conns int, d time.Duration, r *tpRun) {
	hc := &fasthttp.HostClient{
		Addr:                     addr,
		MaxConns:                 conns,
		ReadTimeout:              2 * time.Second,
		WriteTimeout:             2 * time.Second,
		NoDefaultUserAgentHeader: true,
	}
	defer hc.CloseIdleConnections()
	var ok, non200, errs atomic.Int64
	var once sync.Once
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + addr + path)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				err := hc.Do(req, resp)
				switch {
				case err != nil:
					errs.Add(1)
					once.Do(func() { r.firstNo = err.Error() })
				case resp.StatusCode() == fasthttp.StatusOK:
					ok.Add(1)
				default:
					non200.Add(1)
					once.Do(func() { r.firstNo = describeAnswer(resp) })
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	r.total = ok.Load() + non200.Load()
	r.non200 = non200.Load()
	r.errors = errs.Load()
	r.rps = float64(r.total) / elapsed.Seconds()
}

// okRPS is the rate of 200 answers: what the node proxied. A run with
// 429s answered more requests per second than it proxied, 429s being
// cheaper, so the comparison is made on this.
func (r tpRun) okRPS() float64 {
	if r.total == 0 {
		return 0
	}
	return r.rps * float64(r.total-r.non200) / float64(r.total)
}

// reportThroughput prints the runs and the median ratio cluster/local of
// proxied (200) requests per second; answers other than 200 under a limit
// no run can reach get a summary row of their own.
func (b *bench) reportThroughput(runs []tpRun) {
	tool := "wrk -t1"
	if _, err := exec.LookPath("wrk"); err != nil {
		tool = "in-process fasthttp client"
	}
	b.printf("\nThroughput of node 1, closed loop (%s, %d keep-alive connections, %v per run, runs alternated after %v of warm-up per route)\n",
		tool, b.cfg.connections, b.cfg.duration, b.cfg.warmup)
	b.printf("route: rate-limiting minute %.0f, limit_by service; the client, three nodes and the CQL server share this machine's CPUs, nothing pinned\n", tpLimit)
	b.printf("%-6s %-8s %10s %10s %10s %8s  %s\n", "round", "policy", "req/s", "200/s", "requests", "non-200", "CPU")
	var ratios []float64
	var bad int64
	var firstBad string
	for i, r := range runs {
		b.printf("%-6d %-8s %10.0f %10.0f %10d %8d  %s\n", i/2+1, r.policy, r.rps, r.okRPS(), r.total, r.non200+r.errors, r.cpu)
		if n := r.non200 + r.errors; n > 0 {
			bad += n
			if firstBad == "" {
				firstBad = r.policy + ": " + r.firstNo
			}
			b.printf("        %d non-200 answers or errors, first: %s\n", n, r.firstNo)
		}
		if r.policy == "cluster" && i > 0 && runs[i-1].policy == "local" && runs[i-1].okRPS() > 0 {
			ratios = append(ratios, r.okRPS()/runs[i-1].okRPS())
		}
	}
	b.reportThroughputOps(runs)
	med := median(ratios)
	var each []string
	for _, v := range ratios {
		each = append(each, fmt.Sprintf("%.3f", v))
	}
	target := bound{lo: 0.95, hi: noBound}
	b.printf("cluster/local 200/s per round: %s; median %s (target %s)\n", strings.Join(each, ", "), fmtFloat3(med), target)
	b.addRow("throughput cluster/local (200/s)", fmtFloat3(med), target.String(), target.holds(med))
	if bad > 0 {
		b.printf("the limit is %.0f a minute, which no run comes near: every answer but 200 is an error of the gateway\n", tpLimit)
	}
	b.addRow("throughput non-200 answers", strconv.FormatInt(bad, 10), "0", bad == 0)
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
		total += r.total
		ops += r.ops.total()
		rl += int64(r.rlOps)
		opsOK = opsOK && r.opsOK
		rlOK = rlOK && r.rlOpsOK
	}
	if total == 0 {
		return
	}
	target := bound{lo: noBound, hi: 0.01}
	if opsOK {
		b.printf("Cassandra operations during the cluster runs: %d for %d requests = %s per request (all nodes' traffic: config polling and heartbeats too)\n",
			ops, total, formatRatioPrec(float64(ops), float64(total)))
		b.addInfo("Cassandra ops/request, all, throughput", formatRatioPrec(float64(ops), float64(total)))
	}
	if rlOK {
		v := float64(rl) / float64(total)
		b.printf("rate-limit Cassandra operations (tollgate_ratelimit_*ops* counters) during the cluster runs: %d = %s per request (target %s)\n",
			rl, formatRatioPrec(float64(rl), float64(total)), target)
		b.addRow("Cassandra ops/request, rate limit, throughput", formatRatioPrec(float64(rl), float64(total)), target.String(), target.holds(v))
	}
}

func fmtFloat3(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", v)
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
