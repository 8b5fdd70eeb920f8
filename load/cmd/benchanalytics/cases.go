package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	clickhousego "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	chstore "github.com/tollgate/tollgate/analytics/query/clickhouse"
	"github.com/tollgate/tollgate/load/benchrig"
)

// apiCase is one request the benchmark times: an endpoint with its
// parameters, over one range, as a workspace token or the admin.
type apiCase struct {
	endpoint string     // "/v1/series"
	params   url.Values // beyond range
	rng      string     // "30d" or "1h"
	admin    bool       // sent with the admin token, over every workspace
	// baseline also times the statements the API ran, sent straight to
	// ClickHouse with clickhouse-go: what the API adds is the
	// difference.
	baseline bool
}

// name is the case as the table shows it: "series service=…", "top
// group_by=route order_by=latency_p95".
func (c apiCase) name() string {
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range c.params {
			if !yield(k) {
				return
			}
		}
	}) {
		v := c.params.Get(k)
		if k == "service" {
			v = "…" // an id, too long for the table
		}
		parts = append(parts, k+"="+v)
	}
	s := strings.TrimPrefix(c.endpoint, "/v1/")
	if c.admin {
		s += " (admin, all workspaces)"
	}
	if len(parts) > 0 {
		s += " " + strings.Join(parts, " ")
	}
	return s
}

// target is the p95 the issue asks for: 100 ms for a 30-day dashboard
// query, 50 ms for the last hour (stated at 100 million rows).
func (c apiCase) target() time.Duration {
	if c.rng == "1h" {
		return 50 * time.Millisecond
	}
	return 100 * time.Millisecond
}

// cases lists what is timed, for each range: every endpoint a dashboard
// calls, with the variants that read different tables.
func cases(service, consumer string) []apiCase {
	var out []apiCase
	for _, rng := range []string{"30d", "1h"} {
		add := func(endpoint string, baseline bool, kv ...string) {
			p := url.Values{}
			for i := 0; i+1 < len(kv); i += 2 {
				p.Set(kv[i], kv[i+1])
			}
			out = append(out, apiCase{endpoint: endpoint, params: p, rng: rng, baseline: baseline})
		}
		add("/v1/series", true)
		add("/v1/series", true, "service", service)
		add("/v1/series", true, "consumer", consumer)
		add("/v1/series", true, "gateway_latency", "true")
		for _, by := range []string{"service", "route", "consumer", "status", "status_class", "error_class"} {
			add("/v1/breakdown", false, "group_by", by)
		}
		for _, by := range []string{"route", "consumer"} {
			for _, order := range []string{"requests", "latency_p95"} {
				add("/v1/top", true, "group_by", by, "order_by", order)
			}
		}
		add("/v1/recent", false)
		// The errors page's recent failing requests of one service: a
		// service filter on the raw table, which is sorted by time.
		add("/v1/recent", false, "service", service, "errors", "true")
		add("/v1/usage", true, "per", "1d")
		out = append(out, apiCase{endpoint: "/v1/series", params: url.Values{}, rng: rng, admin: true, baseline: true})
	}
	return out
}

// selected returns the cases whose name and range match only (all of
// them for nil).
func selected(cs []apiCase, only *regexp.Regexp) []apiCase {
	if only == nil {
		return cs
	}
	return slices.DeleteFunc(slices.Clone(cs), func(c apiCase) bool { return !only.MatchString(c.name() + " " + c.rng) })
}

// caseResult is what one case measured.
type caseResult struct {
	c        apiCase
	tables   []string // the tables the API's statements read
	api      timing
	sql      timing // zero without a baseline
	bytes    int    // the size of the last answer
	err      error
	statusOK bool
}

// recordingConn passes every query on to its driver.Conn and, while on,
// keeps what was asked, so that the benchmark can send the API's own
// statements straight to ClickHouse and name the tables they read.
type recordingConn struct {
	driver.Conn
	mu    sync.Mutex
	stmts []statement
}

type statement struct {
	sql  string
	args []any
}

func (c *recordingConn) record(q string, args []any) {
	c.mu.Lock()
	c.stmts = append(c.stmts, statement{q, slices.Clone(args)})
	c.mu.Unlock()
}

// take returns the statements recorded since the last take.
func (c *recordingConn) take() []statement {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stmts
	c.stmts = nil
	return s
}

func (c *recordingConn) Query(ctx context.Context, q string, args ...any) (driver.Rows, error) {
	c.record(q, args)
	return c.Conn.Query(ctx, q, args...)
}

func (c *recordingConn) QueryRow(ctx context.Context, q string, args ...any) driver.Row {
	c.record(q, args)
	return c.Conn.QueryRow(ctx, q, args...)
}

func (c *recordingConn) Select(ctx context.Context, dest any, q string, args ...any) error {
	c.record(q, args)
	return c.Conn.Select(ctx, dest, q, args...)
}

var fromTable = regexp.MustCompile(`FROM ` + database + `\.(\w+)`)

// tablesOf names the tables stmts read, in order, without repeats.
func tablesOf(stmts []statement) []string {
	var out []string
	for _, s := range stmts {
		for _, m := range fromTable.FindAllStringSubmatch(s.sql, -1) {
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
	}
	return out
}

// measure times c: b.cfg.warmups requests, then b.cfg.reps timed ones
// (fewer, but at least minReps, once the case has taken b.cfg.budget),
// each followed, for a baseline case, by the statements the API ran,
// sent straight to ClickHouse.
func (b *bench) measure(ctx context.Context, c apiCase) caseResult {
	res := caseResult{c: c}
	token := b.wsToken
	if c.admin {
		token = b.adminToken
	}
	p := url.Values{}
	for k, v := range c.params {
		p[k] = v
	}
	p.Set("range", c.rng)
	u := b.apiURL + c.endpoint + "?" + p.Encode()
	// One buffer for every answer of the case: a month of daily usage is
	// megabytes, and growing a new buffer for each would charge the
	// client's allocations to the API's time.
	var body bytes.Buffer
	get := func() (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := b.HTTP.Do(req)
		if err != nil {
			return 0, err
		}
		body.Reset()
		_, err = body.ReadFrom(resp.Body)
		resp.Body.Close()
		el := time.Since(start)
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %d %s", u, resp.StatusCode, strings.TrimSpace(string(body.Bytes()[:min(body.Len(), 300)])))
		}
		res.bytes = body.Len()
		return el, nil
	}
	// At least one untimed request, whose statements are the baseline's.
	var stmts []statement
	b.rec.take()
	for range max(1, b.cfg.warmups) {
		if _, err := get(); err != nil {
			res.err = err
			return res
		}
		stmts = b.rec.take()
	}
	res.tables = tablesOf(stmts)

	var apiTimes, sqlTimes []time.Duration
	start := time.Now()
	for range b.cfg.reps {
		if b.cfg.budget > 0 && len(apiTimes) >= minReps && time.Since(start) > b.cfg.budget {
			break
		}
		if err := b.dropCache(ctx); err != nil {
			res.err = err
			return res
		}
		d, err := get()
		if err != nil {
			res.err = err
			return res
		}
		apiTimes = append(apiTimes, d)
		if c.baseline {
			if err := b.dropCache(ctx); err != nil {
				res.err = err
				return res
			}
			d, err := b.runDirect(ctx, stmts)
			if err != nil {
				res.err = err
				return res
			}
			sqlTimes = append(sqlTimes, d)
		}
	}
	b.rec.take()
	res.api = summarize(apiTimes)
	res.sql = summarize(sqlTimes)
	res.statusOK = true
	return res
}

// minReps is the fewest timed requests of a case that runs out of
// BENCH_CASE_BUDGET: its p95 and p99 are then its slowest.
const minReps = 10

// dropCache empties ClickHouse's cache of uncompressed blocks when the
// run times cold requests (BENCH_CACHE=cold).
func (b *bench) dropCache(ctx context.Context) error {
	if b.cfg.cache != "cold" {
		return nil
	}
	if err := b.conn.Exec(ctx, "SYSTEM DROP UNCOMPRESSED CACHE"); err != nil {
		return fmt.Errorf("BENCH_CACHE=cold: %w", err)
	}
	return nil
}

// runDirect sends stmts to ClickHouse over the benchmark's own
// connection, with the settings the store sends (b.rollupSettings for a
// statement that reads a rollup), and reads every row of their answers.
func (b *bench) runDirect(ctx context.Context, stmts []statement) (time.Duration, error) {
	rollups := clickhousego.Context(ctx, clickhousego.WithSettings(b.rollupSettings))
	start := time.Now()
	for _, s := range stmts {
		sctx := ctx
		if slices.ContainsFunc(tablesOf([]statement{s}), func(t string) bool { return chstore.ReadsRollup(chstore.Table(t)) }) {
			sctx = rollups
		}
		rows, err := b.conn.Query(sctx, s.sql, s.args...)
		if err != nil {
			return 0, fmt.Errorf("direct %s: %w", s.sql, err)
		}
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return 0, fmt.Errorf("direct %s: %w", s.sql, err)
		}
	}
	return time.Since(start), nil
}

// ms renders d in milliseconds with one decimal.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}

// timing is the nearest-rank percentiles of a case's measured times.
type timing struct {
	N             int
	P50, P95, P99 time.Duration
}

func summarize(ds []time.Duration) timing {
	if len(ds) == 0 {
		return timing{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return timing{N: len(s), P50: benchrig.Percentile(s, 0.50), P95: benchrig.Percentile(s, 0.95), P99: benchrig.Percentile(s, 0.99)}
}
