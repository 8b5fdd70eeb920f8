package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Config describes one fixed-rate run.
type Config struct {
	// URL is the http:// URL every request is sent to.
	URL string
	// Method is the request method; GET when empty. Requests carry no body.
	Method string
	// Header holds extra request headers, sent on every request.
	Header http.Header
	// Rate is the number of requests scheduled per second.
	Rate float64
	// Duration is how long requests are scheduled for; the run schedules
	// ⌊Rate·Duration⌋ requests and then waits for the outstanding ones.
	Duration time.Duration
	// Connections is the number of keep-alive connections, and so the most
	// requests in flight at once. When all are busy, due requests wait, and
	// the wait counts in their latency.
	Connections int
	// Timeout bounds one request: connect, write and read of the response.
	Timeout time.Duration
}

// DefaultConfig returns a Config with every field but URL set.
func DefaultConfig() Config {
	return Config{
		Method:      http.MethodGet,
		Rate:        1000,
		Duration:    10 * time.Second,
		Connections: 50,
		Timeout:     5 * time.Second,
	}
}

// maxScheduled bounds ⌊Rate·Duration⌋ so that a typo cannot ask for a run
// that never ends.
const maxScheduled = 1 << 32

// Validate reports every field that makes the run impossible.
func (c Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	} else if u.Scheme != "http" || u.Host == "" {
		errs = append(errs, fmt.Errorf("url: %q: want http://host[:port]/path", c.URL))
	}
	if !(c.Rate > 0) || math.IsInf(c.Rate, 0) {
		errs = append(errs, fmt.Errorf("rate: %v: must be a positive number of requests per second", c.Rate))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration: %v: must be positive", c.Duration))
	}
	if c.Rate > 0 && c.Duration > 0 && c.Rate*c.Duration.Seconds() > maxScheduled {
		errs = append(errs, fmt.Errorf("rate×duration: %.0f requests: more than %d", c.Rate*c.Duration.Seconds(), int64(maxScheduled)))
	}
	if c.Connections < 1 {
		errs = append(errs, fmt.Errorf("connections: %d: must be at least 1", c.Connections))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: %v: must be positive", c.Timeout))
	}
	return errors.Join(errs...)
}

// Result is what one run measured.
type Result struct {
	// Scheduled is the number of requests the schedule called for.
	Scheduled int64
	// Completed counts responses received, whatever their status.
	Completed int64
	// Non2xx counts completed responses whose status was not 2xx.
	Non2xx int64
	// Errors counts requests that got no response: connect, write or read
	// failures, timeouts and malformed responses.
	Errors int64
	// Timeouts counts the Errors that were timeouts: connect, write or read
	// not done within Timeout.
	Timeouts int64
	// Unsent counts scheduled requests never sent because the context ended
	// or the run's deadline (Duration plus Timeout, plus a second) passed.
	Unsent int64
	// Dials counts connections opened; with keep-alive it stays close to
	// Connections.
	Dials int64
	// FirstError is the first error behind Errors, if any.
	FirstError error
	// Elapsed runs from the first request's due time to the last response.
	Elapsed time.Duration
	// Latency holds, for every completed request, the time from when it was
	// due to when its response had been read in full.
	Latency Histogram
	// SendLag holds, for every request sent, the time from when it was due
	// to when it was written: ScheduleLag plus the wait for a free
	// connection, which grows when the server is slow. It is part of Latency.
	SendLag Histogram
	// ScheduleLag holds, for every request handed out, how late the
	// generator's own scheduler was (timer precision, a starved CPU): the
	// share of Latency that the generator alone is responsible for.
	ScheduleLag Histogram
}

// Achieved returns completed requests per second of Elapsed.
func (r *Result) Achieved() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Completed) / r.Elapsed.Seconds()
}

// Run sends cfg.Rate requests per second for cfg.Duration to cfg.URL and
// returns what it measured. It returns an error only when cfg is invalid or
// the system cannot run the generator (it needs Linux's epoll); failed
// requests are counted in the Result. Cancelling ctx ends the run
// early: requests not yet sent are counted as Unsent. Run returns only when
// every goroutine it started has stopped and every connection is closed.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Method == "" {
		cfg.Method = http.MethodGet
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	raw, addr, err := encodeRequest(cfg)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}

	total := int64(cfg.Rate * cfg.Duration.Seconds())
	res := &Result{Scheduled: total}
	if total == 0 {
		return res, nil
	}

	// The run ends by a hard deadline even when the server stops
	// answering: every request in flight then is cut off, and every
	// request not yet sent is counted as unsent.
	if err := runLoop(ctx, cfg, raw, addr, total, res); err != nil {
		return nil, err
	}
	return res, nil
}

// closedBeforeResponse tells whether err means the server had closed the
// connection: a write that found it gone, or a reset. (A connection that
// ends cleanly is an end of file, not an error.)
func closedBeforeResponse(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// isTimeout tells whether err is a deadline expiring: a request's own, or
// the dialer's.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// encodeRequest renders the request once; every send writes the same bytes.
func encodeRequest(cfg Config) (raw []byte, addr string, err error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, "", fmt.Errorf("url: %w", err)
	}
	addr = u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	var req fasthttp.Request
	req.SetRequestURI(cfg.URL)
	req.Header.SetMethod(cfg.Method)
	req.Header.SetUserAgent("tollgate-load")
	for k, vs := range cfg.Header {
		for _, v := range vs {
			if http.CanonicalHeaderKey(k) == "Host" {
				req.Header.SetHost(v)
				continue
			}
			req.Header.Add(k, v)
		}
	}
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	if err := req.Write(bw); err != nil {
		return nil, "", fmt.Errorf("encode request: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, "", fmt.Errorf("encode request: %w", err)
	}
	return buf.Bytes(), addr, nil
}
