package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tollgate/tollgate/load/benchrig"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

// printResults prints the table of cases: what each read and how long it
// took through the API and, for the baselines, straight from ClickHouse.
func (b *bench) printResults(results []caseResult) {
	head := []string{"endpoint", "range", "table", "n", "p50 ms", "p95 ms", "p99 ms", "SQL p50", "SQL p95", "target p95", "result"}
	rows := [][]string{head}
	met, total := 0, 0
	for _, r := range results {
		row := []string{r.c.name(), r.c.rng, strings.Join(r.tables, ", ")}
		total++
		if r.err != nil {
			row = append(row, "-", "-", "-", "-", "-", "-", "≤ "+ms(r.c.target()), "FAILED")
			rows = append(rows, row)
			continue
		}
		sql50, sql95 := "-", "-"
		if r.sql.N > 0 {
			sql50, sql95 = ms(r.sql.P50), ms(r.sql.P95)
		}
		ok := r.api.P95 <= r.c.target()
		verdict := "misses"
		if ok {
			verdict = "meets"
			met++
		}
		row = append(row, strconv.Itoa(r.api.N), ms(r.api.P50), ms(r.api.P95), ms(r.api.P99), sql50, sql95, "≤ "+ms(r.c.target()), verdict)
		rows = append(rows, row)
	}
	b.Printf("\nAPI response times over HTTP: n timed requests per case (BENCH_REPS=%d, fewer but at least %d after BENCH_CASE_BUDGET=%v) after %d warm-ups; SQL: the same statements sent straight to ClickHouse with clickhouse-go, interleaved with them\n",
		b.cfg.reps, minReps, b.cfg.budget, b.cfg.warmups)
	writeTable(b, rows)
	b.Summary.Add("cases meeting their p95 target", fmt.Sprintf("%d of %d", met, total), "all", met == total)
}

// writeTable prints rows as columns as wide as their widest cell.
func writeTable(b *bench, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var sb strings.Builder
		for i, c := range r {
			if i > 0 {
				sb.WriteString("  ")
			}
			sb.WriteString(c)
			if i < len(r)-1 {
				sb.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
			}
		}
		b.Printf("%s\n", sb.String())
	}
}

// printCounts says what the database holds: rows of the raw table and of
// each rollup, with the requests the rollups count, their parts and size
// on disk.
func (b *bench) printCounts(ctx context.Context, m seedMarker) error {
	type table struct {
		name, requests string // requests: what sums the requests the rows stand for
	}
	tables := []table{{clickhousemigrate.TableRequests, "count()"}}
	for _, r := range clickhousemigrate.Rollups {
		tables = append(tables, table{r.Table, r.Requests()})
	}
	rows := [][]string{{"table", "rows", "requests", "rows/request", "active parts", "on disk MB"}}
	var raw uint64
	for _, t := range tables {
		n, err := benchrig.QueryUint(ctx, b.conn, "SELECT count() FROM "+database+"."+t.name)
		if err != nil {
			return err
		}
		reqs, err := benchrig.QueryUint(ctx, b.conn, "SELECT toUInt64("+t.requests+") FROM "+database+"."+t.name)
		if err != nil {
			return err
		}
		var parts, bytes uint64
		if err := b.conn.QueryRow(ctx, "SELECT count(), sum(bytes_on_disk) FROM system.parts WHERE database = ? AND table = ? AND active",
			database, t.name).Scan(&parts, &bytes); err != nil {
			return fmt.Errorf("parts of %s: %w", t.name, err)
		}
		if t.name == clickhousemigrate.TableRequests {
			raw = n
		}
		rows = append(rows, []string{t.name, commas(int64(n)), commas(int64(reqs)),
			fmt.Sprintf("%.3f", float64(n)/float64(max(reqs, 1))), commas(int64(parts)), fmt.Sprintf("%.0f", float64(bytes)/1e6)})
	}
	b.Printf("\nWhat ClickHouse %s holds (%d CPUs on this machine)\n", b.ch.Version, cores())
	writeTable(b, rows)
	b.Summary.Add("rows in requests", commas(int64(raw)), "= "+commas(m.Rows), raw == uint64(m.Rows))
	b.Summary.Info("ClickHouse, CPUs", fmt.Sprintf("%s, %d", b.ch.Version, cores()))
	cache := map[string]string{
		"warm": "asked for, and kept between requests as a dashboard repeating them finds it (BENCH_CACHE=warm)",
		"cold": "asked for, and emptied before every timed request (BENCH_CACHE=cold)",
		"off":  "not asked for (BENCH_CACHE=off)",
	}[b.cfg.cache]
	b.Summary.Info("uncompressed cache", cache)
	return nil
}
