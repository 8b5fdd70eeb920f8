package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// scrape reads node n's /metrics and returns every sample's value summed
// by metric name (labels dropped).
func (b *bench) scrape(ctx context.Context, n *gnode) (map[string]float64, error) {
	code, body, err := b.get(ctx, "http://"+n.status+"/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("node %d /metrics: %w", n.num, err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("node %d /metrics answered %d", n.num, code)
	}
	return parseMetrics(body), nil
}

// parseMetrics sums the samples of a Prometheus text exposition by name.
// Histogram and summary series keep their _bucket, _sum and _count names.
func parseMetrics(body []byte) map[string]float64 {
	m := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		// The value follows the labels; a timestamp may follow it.
		rest := line[len(name):]
		if strings.HasPrefix(rest, "{") {
			j := strings.LastIndexByte(rest, '}')
			if j < 0 {
				continue
			}
			rest = rest[j+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		m[name] += v
	}
	return m
}

// isRateLimitOps tells whether a metric name looks like a count of the
// cluster rate limit's Cassandra requests or syncs: it names rate limits
// and operations, requests, queries or syncs, and is a counter.
func isRateLimitOps(name string) bool {
	l := strings.ToLower(name)
	if !strings.Contains(l, "ratelimit") && !strings.Contains(l, "rate_limit") {
		return false
	}
	if !strings.HasSuffix(l, "_total") && !strings.HasSuffix(l, "_count") {
		return false
	}
	for _, w := range []string{"ops", "operations", "cassandra", "queries", "requests", "sync"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// isOpsCounter tells whether a rate-limit counter counts Cassandra
// operations, as opposed to syncs or failures.
func isOpsCounter(name string) bool {
	l := strings.ToLower(name)
	return (strings.Contains(l, "ops") || strings.Contains(l, "operations") || strings.Contains(l, "queries")) &&
		!strings.Contains(l, "error") && !strings.Contains(l, "fail")
}

// rateLimitCounters scrapes every node and returns the rate-limit counters
// summed over the nodes; failures to scrape are reported in errs, and the
// other nodes still count.
func (b *bench) rateLimitCounters(ctx context.Context) (map[string]float64, []error) {
	sum := map[string]float64{}
	var errs []error
	for _, n := range b.nodes {
		m, err := b.scrape(ctx, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for k, v := range m {
			if isRateLimitOps(k) {
				sum[k] += v
			}
		}
	}
	return sum, errs
}

// counterDeltas returns after − before for every name in after, sorted by
// name.
func counterDeltas(before, after map[string]float64) []namedValue {
	var out []namedValue
	for k, v := range after {
		out = append(out, namedValue{k, v - before[k]})
	}
	slices.SortFunc(out, func(a, b namedValue) int { return strings.Compare(a.name, b.name) })
	return out
}

type namedValue struct {
	name  string
	value float64
}
