package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/cqlserver"
	"github.com/tollgate/tollgate/load"
	"github.com/tollgate/tollgate/load/benchrig"
)

// targetLogRatio is the least req/s with the request log on may be of
// req/s with it off.
const targetLogRatio = 0.95

// proxyPath is the route every proxy run sends to.
const proxyPath = "/bench"

// gnode is one `tollgate gateway` process.
type gnode struct {
	*benchrig.Proc
	logOn                bool
	proxy, admin, status string // host:port
}

// proxyRun is one closed-loop run.
type proxyRun struct {
	load.ClosedLoopResult
	logOn   bool
	cpu     benchrig.CPUUse
	sent    int64 // records the node's sink sent, from /status (log on)
	dropped int64 // records the node's sink dropped (log on)
}

// proxy measures one gateway node's req/s with the request log off and on,
// alternated, restarting the node for each run (request_log is read at
// start). Unless BENCH_PROXY_LOADING is set, the collector is paused
// during the runs and loads what they logged afterwards: the phase
// measures what logging costs the gateway, whose collectors and ClickHouse
// run on other machines in a deployment.
func (b *bench) proxy(ctx context.Context) error {
	p, err := b.startPipeline(ctx, phaseProxy)
	if err != nil {
		return err
	}
	cql := cqlserver.New(cqlserver.Options{})
	if err := cql.Listen("127.0.0.1:0"); err != nil {
		cql.Close()
		return fmt.Errorf("start the in-memory CQL server: %w", err)
	}
	b.OnClose(cql.Close)
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	keyspace := "bench_" + hex.EncodeToString(suffix[:])
	cassEnv := []string{"TOLLGATE_CASSANDRA_HOSTS=" + cql.Addr(), "TOLLGATE_CASSANDRA_KEYSPACE=" + keyspace}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	cmd := exec.CommandContext(cctx, b.cfg.bin, "migrate", "cassandra", "up")
	cmd.Env = append(b.pipelineEnv(p), cassEnv...)
	out, err := cmd.CombinedOutput()
	cancel()
	if err != nil {
		return fmt.Errorf("%s migrate cassandra up: %w\n%s", b.cfg.bin, err, out)
	}
	up, err := benchrig.StartUpstream()
	if err != nil {
		return err
	}
	b.OnClose(up.Close)

	wrk, _ := exec.LookPath("wrk")
	tool := "in-process fasthttp client (wrk not on PATH)"
	if wrk != "" {
		tool = "wrk -t1"
	}
	b.Progress("proxy: %s, %d connections, %v per run after %v of warm-up, %d off/on pairs", tool,
		b.cfg.connections, b.cfg.proxyDuration, b.cfg.warmup, b.cfg.rounds)

	dataDir := filepath.Join(b.Dir, "gateway")
	if !b.cfg.proxyLoading {
		if err := p.collector.Pause(); err != nil {
			return fmt.Errorf("pause the collector: %w", err)
		}
		b.Progress("proxy: collector paused during the runs (BENCH_PROXY_LOADING=1 keeps it loading)")
	}
	var runs []proxyRun
	for i := range b.cfg.rounds {
		for _, on := range []bool{false, true} {
			n, err := b.startGateway(ctx, p, cassEnv, dataDir, on)
			if err != nil {
				return err
			}
			if i == 0 && !on {
				if err := b.createRoute(ctx, n, up.URL()); err != nil {
					return err
				}
			}
			if err := b.waitRoute(ctx, n, 30*time.Second); err != nil {
				return err
			}
			if b.cfg.warmup > 0 {
				if _, err := closedLoop(ctx, wrk, n.proxy, b.cfg.connections, b.cfg.warmup); err != nil {
					return fmt.Errorf("warm-up: %w", err)
				}
			}
			r := proxyRun{logOn: on}
			m := benchrig.MarkCPU(n.Proc, p.collector, b.ch.Proc)
			r.ClosedLoopResult, err = closedLoop(ctx, wrk, n.proxy, b.cfg.connections, b.cfg.proxyDuration)
			r.cpu = m.Use()
			if err != nil {
				return err
			}
			if r.Total == 0 {
				return fmt.Errorf("proxy run completed no request: %s", r.FirstNo)
			}
			if on {
				var st struct {
					RequestLog struct {
						Sent    int64 `json:"sent"`
						Dropped int64 `json:"dropped"`
					} `json:"request_log"`
				}
				if err := b.getJSON(ctx, "http://"+n.status+"/status", &st); err != nil {
					return err
				}
				r.sent, r.dropped = st.RequestLog.Sent, st.RequestLog.Dropped
			}
			b.Progress("proxy: round %d/%d, request log %s: %.0f req/s, %s", i+1, b.cfg.rounds, onOff(on), r.RPS, r.cpu)
			runs = append(runs, r)
			if err := n.Stop(30 * time.Second); err != nil {
				return err
			}
		}
	}
	if !b.cfg.proxyLoading {
		if err := p.collector.Resume(); err != nil {
			return fmt.Errorf("resume the collector: %w", err)
		}
	}
	// Every logged request reaches ClickHouse: the nodes flushed their
	// sinks when they stopped.
	rows, err := b.waitRows(ctx, p, 2*time.Minute)
	if err != nil {
		return err
	}
	cs, err := b.collectorStatus(ctx, p)
	if err != nil {
		return err
	}
	if err := p.stop(); err != nil {
		return err
	}
	b.reportProxy(runs, tool, rows, cs)
	return nil
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// startGateway starts a `tollgate gateway` node with the request log on or
// off and waits for its /ready.
func (b *bench) startGateway(ctx context.Context, p *pipeline, cassEnv []string, dataDir string, logOn bool) (*gnode, error) {
	addrs, err := benchrig.FreePorts(3)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("gateway data dir: %w", err)
	}
	env := append(b.pipelineEnv(p), cassEnv...)
	env = append(env,
		"TOLLGATE_PROXY_LISTEN="+addrs[0],
		"TOLLGATE_ADMIN_LISTEN="+addrs[1],
		"TOLLGATE_STATUS_LISTEN="+addrs[2],
		"TOLLGATE_DATA_DIR="+dataDir,
		"TOLLGATE_NODE_ID=bench-gw",
		"TOLLGATE_REQUEST_LOG="+onOff(logOn),
	)
	pr, err := benchrig.StartProc("gateway", b.cfg.bin, []string{"gateway"}, env, b.Dir,
		filepath.Join(b.Dir, fmt.Sprintf("gateway-%d.log", len(b.procs))))
	if err != nil {
		return nil, err
	}
	b.procs = append(b.procs, pr)
	n := &gnode{Proc: pr, logOn: logOn, proxy: addrs[0], admin: addrs[1], status: addrs[2]}
	if err := benchrig.WaitReady(ctx, b.HTTP, pr, "http://"+n.status+"/ready", 60*time.Second); err != nil {
		return nil, err
	}
	return n, nil
}

// createRoute creates the service and route of the runs through the
// node's Admin API; nodes started later read them from Cassandra.
func (b *bench) createRoute(ctx context.Context, n *gnode, upstream string) error {
	calls := []struct {
		path string
		body any
	}{
		{"/services", map[string]any{"name": "bench", "url": upstream}},
		{"/services/bench/routes", map[string]any{"name": "bench", "paths": []string{proxyPath}}},
	}
	for _, c := range calls {
		j, _ := json.Marshal(c.body)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+n.admin+c.path, bytes.NewReader(j))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := b.HTTP.Do(req)
		if err != nil {
			return fmt.Errorf("admin POST %s: %w", c.path, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("admin POST %s answered %d: %s", c.path, resp.StatusCode, strings.TrimSpace(string(body)))
		}
	}
	return nil
}

// waitRoute polls the node's proxy until the route answers 200.
func (b *bench) waitRoute(ctx context.Context, n *gnode, within time.Duration) error {
	deadline := time.Now().Add(within)
	last := "no answer"
	for {
		code, body, err := b.get(ctx, "http://"+n.proxy+proxyPath)
		switch {
		case err != nil:
			last = err.Error()
		case code == http.StatusOK:
			return nil
		default:
			last = fmt.Sprintf("%d %.100s", code, strings.TrimSpace(string(body)))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("route %s not served by the gateway after %v: %s", proxyPath, within, last)
		}
		if err := benchrig.Sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitRows waits until ClickHouse's row count stops growing for 3 s (the
// collector's batch time and then some), up to within, and returns it.
func (b *bench) waitRows(ctx context.Context, p *pipeline, within time.Duration) (uint64, error) {
	deadline := time.Now().Add(within)
	var last uint64
	since := time.Now()
	for {
		rows, err := benchrig.QueryUint(ctx, p.conn, "SELECT count() FROM requests")
		if err != nil {
			return 0, err
		}
		if rows != last {
			last, since = rows, time.Now()
		}
		if time.Since(since) > 3*time.Second || time.Now().After(deadline) {
			return rows, nil
		}
		if err := benchrig.Sleep(ctx, 200*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

func (b *bench) reportProxy(runs []proxyRun, tool string, rows uint64, cs collectorStatus) {
	b.Printf("\nProxy throughput of one tollgate gateway node, closed loop (%s, %d keep-alive connections, %v per run after %v of warm-up), request log off and on alternated, the node restarted for each run\n",
		tool, b.cfg.connections, b.cfg.proxyDuration, b.cfg.warmup)
	if b.cfg.proxyLoading {
		b.Printf("upstream: in this program, 200 \"ok\"; with the log on the node ships to kfake (in this program) and the collector loads ClickHouse meanwhile\n")
	} else {
		b.Printf("upstream: in this program, 200 \"ok\"; with the log on the node ships to kfake (in this program); the collector was paused during the runs and loaded their records after\n")
	}
	b.Printf("%-6s %-4s %10s %10s %8s %12s  %s\n", "round", "log", "req/s", "requests", "non-200", "gw µs CPU/req", "CPU")
	var ratios []float64
	var bad, dropped, logged int64
	var gwOn, gwOff, reqOn, reqOff float64
	for i, r := range runs {
		gw := r.cpu.Of("gateway")
		perReq := math.NaN()
		if r.Total > 0 && r.cpu.OK {
			perReq = 1e6 * gw / float64(r.Total)
		}
		b.Printf("%-6d %-4s %10.0f %10d %8d %12.1f  %s\n", i/2+1, onOff(r.logOn), r.RPS, r.Total, r.Non200+r.Errors, perReq, r.cpu)
		if n := r.Non200 + r.Errors; n > 0 {
			bad += n
			b.Printf("        %d non-200 answers or errors, first: %s\n", n, r.FirstNo)
		}
		if r.logOn {
			gwOn += gw
			reqOn += float64(r.Total)
			dropped += r.dropped
			logged += r.sent
			if i > 0 && !runs[i-1].logOn && runs[i-1].RPS > 0 {
				ratios = append(ratios, r.RPS/runs[i-1].RPS)
			}
		} else {
			gwOff += gw
			reqOff += float64(r.Total)
		}
	}
	med := benchrig.Median(ratios)
	var each []string
	for _, v := range ratios {
		each = append(each, fmt.Sprintf("%.3f", v))
	}
	target := benchrig.Bound{Lo: targetLogRatio, Hi: benchrig.NoBound}
	b.Printf("on/off req/s per round: %s; median %s (target %s)\n", strings.Join(each, ", "), benchrig.Float3(med), target)
	if reqOn > 0 && reqOff > 0 {
		b.Printf("gateway CPU per request: %.1f µs with the log off, %.1f µs on (+%.1f %%)\n",
			1e6*gwOff/reqOff, 1e6*gwOn/reqOn, 100*((gwOn/reqOn)/(gwOff/reqOff)-1))
		b.Summary.Info("gateway CPU µs/request, log off → on", fmt.Sprintf("%.1f → %.1f", 1e6*gwOff/reqOff, 1e6*gwOn/reqOn))
	}
	b.Printf("records: the on-runs' nodes reported %d sent to Kafka during the runs and %d dropped; ClickHouse holds %d rows in the end (warm-ups and route checks included), the collector inserted %d, dead-lettered %d\n",
		logged, dropped, rows, cs.Inserted, cs.DeadLettered)
	b.Summary.Add("proxy req/s, log on/off (median)", benchrig.Float3(med), target.String(), target.Holds(med))
	b.Summary.Add("proxy: records dropped, non-200", fmt.Sprintf("%d, %d", dropped, bad), "0, 0", dropped == 0 && bad == 0)
}

// closedLoop runs wrk when it is on PATH, else the in-process client,
// against the node's route for d.
func closedLoop(ctx context.Context, wrk, addr string, conns int, d time.Duration) (load.ClosedLoopResult, error) {
	return load.ClosedLoop(ctx, load.ClosedLoopConfig{Addr: addr, Path: proxyPath, Connections: conns, Duration: d, Wrk: wrk})
}
