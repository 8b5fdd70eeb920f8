// Command fixedrate sends HTTP requests at a fixed rate, open loop, and
// prints the latency distribution measured from each request's due time.
//
//	fixedrate -url http://127.0.0.1:8000/ -rate 5000 -duration 10s \
//	    -connections 50 -header 'apikey: secret'
//
// It prints two lines of key=value pairs that scripts can parse:
//
//	requests scheduled=50000 completed=50000 non2xx=0 errors=0 timeouts=0 unsent=0 dials=50 achieved=4999.9/s
//	latency_ms p50=0.112 p90=0.150 p99=0.310 p99.9=0.800 max=2.100 mean=0.121
//
// then send_lag_ms, how late requests were written (waiting for a free
// connection included), and schedule_lag_ms, how late the generator's own
// scheduler was: its share of the latency.
// It exits with status 1 when any request failed, got a non-2xx status or
// was not sent, so that a run measuring errors cannot pass for a benchmark.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/tollgate/tollgate/load"
)

// headerFlag collects repeated -header 'Name: value' flags.
type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string { return "" }

func (f *headerFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("header %q: want 'Name: value'", v)
	}
	f.h.Add(name, strings.TrimSpace(value))
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg := load.DefaultConfig()
	hdr := &headerFlag{h: http.Header{}}
	fs := flag.NewFlagSet("fixedrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", "", "http:// URL to send requests to (required)")
	fs.StringVar(&cfg.Method, "method", cfg.Method, "request method")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "requests per second")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to send for")
	fs.IntVar(&cfg.Connections, "connections", cfg.Connections, "keep-alive connections (most requests in flight)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "per-request timeout")
	fs.Var(hdr, "header", "request header 'Name: value' (repeatable)")
	cpuProfile := fs.String("cpuprofile", "", "write the generator's own CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg.Header = hdr.h
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "fixedrate: %v\n", err)
		return 2
	}

	// The generator's loop waits in epoll keeping its P; a second P runs
	// signal handling and the runtime's own work meanwhile. Under taskset
	// to one core the runtime starts with one P, and an idle second P
	// costs nothing.
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "fixedrate: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "fixedrate: cpu profile: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := load.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fixedrate: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "requests scheduled=%d completed=%d non2xx=%d errors=%d timeouts=%d unsent=%d dials=%d achieved=%.1f/s\n",
		res.Scheduled, res.Completed, res.Non2xx, res.Errors, res.Timeouts, res.Unsent, res.Dials, res.Achieved())
	l := &res.Latency
	fmt.Fprintf(stdout, "latency_ms p50=%.3f p90=%.3f p99=%.3f p99.9=%.3f max=%.3f mean=%.3f\n",
		ms(l.Quantile(0.5)), ms(l.Quantile(0.9)), ms(l.Quantile(0.99)), ms(l.Quantile(0.999)), ms(l.Max()), ms(l.Mean()))
	g := &res.SendLag
	fmt.Fprintf(stdout, "send_lag_ms p50=%.3f p99=%.3f max=%.3f\n",
		ms(g.Quantile(0.5)), ms(g.Quantile(0.99)), ms(g.Max()))
	g = &res.ScheduleLag
	fmt.Fprintf(stdout, "schedule_lag_ms p50=%.3f p99=%.3f max=%.3f\n",
		ms(g.Quantile(0.5)), ms(g.Quantile(0.99)), ms(g.Max()))
	if res.FirstError != nil {
		fmt.Fprintf(stderr, "fixedrate: first error: %v\n", res.FirstError)
	}
	if res.Errors > 0 || res.Non2xx > 0 || res.Unsent > 0 {
		fmt.Fprintf(stderr, "fixedrate: %d errors, %d non-2xx responses, %d unsent of %d scheduled\n",
			res.Errors, res.Non2xx, res.Unsent, res.Scheduled)
		return 1
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
