package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// ClosedLoopConfig describes one closed-loop run: Connections clients,
// each sending its next request as soon as the last one is answered, for
// Duration. Unlike Run's fixed rate, the load is whatever the server
// sustains: the answer is its throughput, not its latency.
type ClosedLoopConfig struct {
	// Addr is the server's host:port; Path is the request path.
	Addr, Path string
	// Connections is the number of keep-alive connections, and clients.
	Connections int
	// Duration is how long requests are sent; wrk rounds it to whole
	// seconds, at least 1.
	Duration time.Duration
	// Wrk is the path of a wrk binary, run as `wrk -t1`; empty runs the
	// clients in this process, on fasthttp.
	Wrk string
	// Describe renders the first answer other than 200 for
	// ClosedLoopResult.FirstNo (in-process clients only); nil renders its
	// status and the start of its body.
	Describe func(*fasthttp.Response) string
}

// ClosedLoopResult is what a closed-loop run counted.
type ClosedLoopResult struct {
	RPS     float64 // answers per second, whatever their status
	Total   int64   // answers
	Non200  int64   // answers other than 200 (wrk: other than 2xx or 3xx)
	Errors  int64   // requests without an answer: connect, read, write errors and timeouts
	FirstNo string  // the first answer other than 200, or the first error
}

// ClosedLoop runs cfg until its Duration has passed or ctx ends; it
// returns ctx.Err() when ctx ended, with what was counted until then.
func ClosedLoop(ctx context.Context, cfg ClosedLoopConfig) (ClosedLoopResult, error) {
	if cfg.Connections < 1 {
		return ClosedLoopResult{}, fmt.Errorf("connections: %d: must be at least 1", cfg.Connections)
	}
	if cfg.Wrk != "" {
		return runWrk(ctx, cfg)
	}
	return closedLoopInProcess(ctx, cfg), ctx.Err()
}

// runWrk runs wrk -t1 and reads its report.
func runWrk(ctx context.Context, cfg ClosedLoopConfig) (ClosedLoopResult, error) {
	url := "http://" + cfg.Addr + cfg.Path
	secs := max(1, int(math.Round(cfg.Duration.Seconds())))
	cmd := exec.CommandContext(ctx, cfg.Wrk, "-t1", fmt.Sprintf("-c%d", cfg.Connections), fmt.Sprintf("-d%ds", secs), "--timeout", "2s", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return ClosedLoopResult{}, fmt.Errorf("wrk %s: %w\n%s", url, err, out)
	}
	return ParseWrk(out)
}

var (
	wrkRPS    = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkTotal  = regexp.MustCompile(`(?m)^\s*([0-9]+) requests in`)
	wrkNon2xx = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses:\s+([0-9]+)`)
	wrkErrors = regexp.MustCompile(`(?m)^\s*Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)`)
)

// errWrkReport says a wrk report lacks its requests/s or request count.
var errWrkReport = errors.New("cannot read wrk's report")

// ParseWrk reads requests/s, the request count, non-2xx answers and
// socket errors from a wrk report.
func ParseWrk(out []byte) (ClosedLoopResult, error) {
	var r ClosedLoopResult
	m := wrkRPS.FindSubmatch(out)
	t := wrkTotal.FindSubmatch(out)
	if m == nil || t == nil {
		return r, fmt.Errorf("%w:\n%s", errWrkReport, out)
	}
	r.RPS, _ = strconv.ParseFloat(string(m[1]), 64)
	r.Total, _ = strconv.ParseInt(string(t[1]), 10, 64)
	if n := wrkNon2xx.FindSubmatch(out); n != nil {
		r.Non200, _ = strconv.ParseInt(string(n[1]), 10, 64)
		r.FirstNo = "wrk counted non-2xx/3xx responses"
	}
	if e := wrkErrors.FindSubmatch(out); e != nil {
		for _, g := range e[1:] {
			v, _ := strconv.ParseInt(string(g), 10, 64)
			r.Errors += v
		}
		if r.Errors > 0 && r.FirstNo == "" {
			r.FirstNo = string(bytes.TrimSpace(e[0]))
		}
	}
	return r, nil
}

// closedLoopInProcess runs cfg.Connections goroutines, each over a
// keep-alive connection of its own, and waits for them.
func closedLoopInProcess(ctx context.Context, cfg ClosedLoopConfig) ClosedLoopResult {
	describe := cfg.Describe
	if describe == nil {
		describe = func(resp *fasthttp.Response) string {
			return fmt.Sprintf("status %d, body %.120q", resp.StatusCode(), resp.Body())
		}
	}
	hc := &fasthttp.HostClient{
		Addr:                     cfg.Addr,
		MaxConns:                 cfg.Connections,
		ReadTimeout:              2 * time.Second,
		WriteTimeout:             2 * time.Second,
		NoDefaultUserAgentHeader: true,
	}
	defer hc.CloseIdleConnections()
	var r ClosedLoopResult
	var ok, non200, errs atomic.Int64
	var once sync.Once
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for range cfg.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + cfg.Addr + cfg.Path)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				err := hc.Do(req, resp)
				switch {
				case err != nil:
					errs.Add(1)
					once.Do(func() { r.FirstNo = err.Error() })
				case resp.StatusCode() == fasthttp.StatusOK:
					ok.Add(1)
				default:
					non200.Add(1)
					once.Do(func() { r.FirstNo = describe(resp) })
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	r.Non200 = non200.Load()
	r.Total = ok.Load() + r.Non200
	r.Errors = errs.Load()
	r.RPS = float64(r.Total) / elapsed.Seconds()
	return r
}
