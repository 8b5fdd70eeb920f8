package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// checker runs an upstream's active health checks on one goroutine: every
// healthy.interval it probes the targets that are healthy, every
// unhealthy.interval those that are not (Kong's two timers; an interval of 0
// leaves that group alone). A round probes up to `concurrency` targets at
// once and ends before the next starts.
type checker struct {
	healthFP string // the health rules it runs; a change means a new checker
	cfg      activeConfig
	bal      atomic.Pointer[Balancer] // the current target list; Sync swaps it
	client   *http.Client
	ownsConn bool // client is ours: close its connections on stop
	dialer   net.Dialer
	now      func() time.Time
	notify   func(healthChange)

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// probeUserAgent names the prober in targets' access logs.
const probeUserAgent = "tollgate-healthcheck"

// maxProbeBody bounds how much of a probe's response is read.
const maxProbeBody = 64 << 10

func startChecker(b *Balancer, client *http.Client, now func() time.Time, notify func(healthChange)) *checker {
	c := &checker{
		healthFP: b.healthFP,
		cfg:      b.active,
		client:   client,
		now:      now,
		notify:   notify,
		done:     make(chan struct{}),
	}
	c.bal.Store(b)
	if c.client == nil && c.cfg.typ != probeTCP {
		c.client = defaultProbeClient(c.cfg)
		c.ownsConn = true
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.run(ctx)
	return c
}

// defaultProbeClient opens a new connection per probe (so that a probe
// tests connecting, as Kong's does), does not follow redirects (302 is a
// healthy status by default) and verifies certificates only when
// https_verify_certificate says so.
func defaultProbeClient(cfg activeConfig) *http.Client {
	tlsConf := &tls.Config{
		// Kong's healthchecks.active.https_verify_certificate: operators
		// turn verification off for targets with self-signed certificates.
		InsecureSkipVerify: !cfg.verifyCertificate, //nolint:gosec // configured per upstream
	}
	if h, _, err := net.SplitHostPort(cfg.hostHeader); err == nil {
		tlsConf.ServerName = h
	} else if cfg.hostHeader != "" {
		tlsConf.ServerName = cfg.hostHeader
	}
	return &http.Client{
		Transport: &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig:   tlsConf,
			Proxy:             nil, // probes go straight to the target
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (c *checker) run(ctx context.Context) {
	defer close(c.done)
	var healthyTick, unhealthyTick <-chan time.Time
	if d := c.cfg.healthyInterval; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		healthyTick = t.C
	}
	if d := c.cfg.unhealthyInterval; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		unhealthyTick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-healthyTick:
			c.round(ctx, true)
		case <-unhealthyTick:
			c.round(ctx, false)
		}
	}
}

// round probes the targets whose health is healthy.
func (c *checker) round(ctx context.Context, healthy bool) {
	b := c.bal.Load()
	sem := make(chan struct{}, c.cfg.concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range b.members {
		t := b.members[i].t
		// Weight 0 takes no traffic: nothing to protect by probing it.
		if b.members[i].weight == 0 || t.healthy.Load() != healthy {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r := c.probe(ctx, t.addr)
			if ctx.Err() != nil {
				return // stopping: the probe was cut short, not the target
			}
			if ch, ok := t.observe(r, &c.cfg.thresholds, "active", c.now); ok {
				c.notify(ch)
			}
		})
	}
}

// probe checks addr once and classifies the result as Kong does: a failed
// connection is a TCP failure, a timeout a timeout, a status in the healthy
// list a success, one in the unhealthy list an HTTP failure, any other
// status nothing.
func (c *checker) probe(ctx context.Context, addr string) report {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	if c.cfg.typ == probeTCP {
		conn, err := c.dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return classifyErr(ctx, err)
		}
		_ = conn.Close() // only connecting was tested
		return reportSuccess
	}
	scheme := "http://"
	if c.cfg.typ == probeHTTPS {
		scheme = "https://"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+addr+c.cfg.path, nil)
	if err != nil {
		// The path was accepted by config validation; a URL that does not
		// parse means the probe cannot reach the target either.
		return reportTCPFailure
	}
	if c.cfg.hostHeader != "" {
		req.Host = c.cfg.hostHeader
	}
	req.Header.Set("User-Agent", probeUserAgent)
	resp, err := c.client.Do(req)
	if err != nil {
		return classifyErr(ctx, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	_ = resp.Body.Close()
	switch {
	case c.cfg.thresholds.healthy.has(resp.StatusCode):
		return reportSuccess
	case c.cfg.thresholds.unhealthy.has(resp.StatusCode):
		return reportHTTPFailure
	}
	return reportNone
}

func classifyErr(ctx context.Context, err error) report {
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return reportTimeout
	}
	return reportTCPFailure
}

// stop ends the checker and waits for it and its probes. Idempotent.
func (c *checker) stop() {
	c.once.Do(func() {
		c.cancel()
		<-c.done
		if c.ownsConn {
			c.client.CloseIdleConnections()
		}
	})
}
