package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	clickhousego "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tollgate/tollgate/load/benchrig"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

// bench is one run: what it started and what it found.
type bench struct {
	*benchrig.Rig
	cfg config

	ch   *benchrig.ClickHouse
	conn driver.Conn    // the benchmark's own: seeding, counts, baselines
	rec  *recordingConn // the API store's, recording its statements
	// rollupSettings are what the store sends with statements that read a
	// rollup (chstore.ReadsRollup), and the baselines with the same ones.
	rollupSettings clickhousego.Settings

	apiURL              string
	adminToken, wsToken string
	workspace           string // the workspace token's
}

func newBench(cfg config, stdout, stderr io.Writer) *bench {
	b := &bench{Rig: benchrig.NewRig("bench-analytics", stdout, stderr, 4), cfg: cfg}
	// A raw read of a month at 100 million rows takes seconds here.
	b.HTTP.Timeout = 5 * time.Minute
	return b
}

// Run starts ClickHouse, seeds it (or reuses what an earlier run seeded),
// starts the analytics API over it and times every case.
func (b *bench) Run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", b.Name+".")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	b.Dir = dir
	chDir := filepath.Join(b.Dir, "clickhouse")
	if b.cfg.reuse {
		chDir = b.cfg.dataDir
	}
	b.Progress("starting ClickHouse (%s) in %s", b.cfg.clickhouse, chDir)
	if b.ch, err = startClickHouse(ctx, b.cfg.clickhouse, chDir); err != nil {
		return err
	}
	if b.conn, err = b.ch.Open("default"); err != nil {
		return err
	}
	b.OnClose(b.conn.Close)
	b.Progress("ClickHouse %s on %s", b.ch.Version, b.ch.Addr)

	tr, marker, err := b.prepareData(ctx, chDir)
	if err != nil {
		return err
	}
	b.printHeader(tr, marker)
	if err := b.startAPI(tr); err != nil {
		return err
	}
	results := b.measureAll(ctx, tr)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	b.printResults(results)
	if err := b.printCounts(ctx, marker); err != nil {
		return err
	}
	b.PrintSummary(summaryNote)
	return nil
}

// prepareData seeds the database, or with BENCH_REUSE=1 finds it seeded
// with the same settings by an earlier run and keeps it.
func (b *bench) prepareData(ctx context.Context, chDir string) (*traffic, seedMarker, error) {
	if b.cfg.reuse {
		if m, ok := readMarker(chDir); ok && m.matches(b.cfg) {
			n, err := benchrig.QueryUint(ctx, b.conn, "SELECT count() FROM "+database+".requests")
			if err == nil && n == uint64(m.Rows) {
				age := time.Since(m.End).Round(time.Second)
				b.Progress("reusing %s rows seeded %v ago (BENCH_REUSE=1)", commas(m.Rows), age)
				b.Summary.Info("seeding (an earlier run)", fmt.Sprintf("%s rows in %.1f s: %s rows/s", commas(m.Rows), m.Seconds, commas(int64(m.RowsPerSec))))
				if _, err := clickhousemigrate.Up(ctx, b.conn, database, b.migrateLog()); err != nil {
					return nil, seedMarker{}, fmt.Errorf("migrate %s: %w", database, err)
				}
				return newTraffic(b.cfg.seed, b.cfg.rows, b.cfg.batch, b.cfg.days, m.End), m, nil
			}
			b.Progress("%s holds other data than it says (count %d, %v); seeding anew", chDir, n, err)
		}
		_ = os.Remove(filepath.Join(chDir, markerFile))
	}
	if err := b.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+database); err != nil {
		return nil, seedMarker{}, fmt.Errorf("drop %s: %w", database, err)
	}
	if _, err := clickhousemigrate.Up(ctx, b.conn, database, b.migrateLog()); err != nil {
		return nil, seedMarker{}, fmt.Errorf("migrate %s: %w", database, err)
	}
	b.Progress("database %s migrated; seeding %s requests over %d days in batches of %s (%d inserters)",
		database, commas(b.cfg.rows), b.cfg.days, commas(int64(b.cfg.batch)), b.cfg.inserters)
	tr := newTraffic(b.cfg.seed, b.cfg.rows, b.cfg.batch, b.cfg.days, time.Now())
	m, err := b.seed(ctx, tr)
	if err != nil {
		return nil, seedMarker{}, err
	}
	b.Summary.Info("seeding", fmt.Sprintf("%s rows in %.1f s: %s rows/s", commas(m.Rows), m.Seconds, commas(int64(m.RowsPerSec))))
	if err := b.settle(ctx, b.cfg.settle); err != nil {
		return nil, seedMarker{}, err
	}
	if b.cfg.reuse {
		if err := writeMarker(chDir, m); err != nil {
			return nil, seedMarker{}, fmt.Errorf("write %s: %w", markerFile, err)
		}
	}
	return tr, m, nil
}

// measureAll times every case, saying how each went.
func (b *bench) measureAll(ctx context.Context, tr *traffic) []caseResult {
	cs := cases(tr.workspaces[0].services[0].id, tr.workspaces[0].consumers[0].id)
	cs = selected(cs, b.cfg.only)
	if b.cfg.profile != "" {
		stop, err := startProfile(b.cfg.profile)
		if err != nil {
			b.Progress("no CPU profile: %v", err)
		} else {
			defer stop()
			b.Progress("profiling the API into %s", b.cfg.profile)
		}
	}
	b.Progress("timing %d cases: %d warm-ups and %d timed requests each", len(cs), b.cfg.warmups, b.cfg.reps)
	var out []caseResult
	for i, c := range cs {
		if ctx.Err() != nil {
			return out
		}
		r := b.measure(ctx, c)
		out = append(out, r)
		if r.err != nil {
			b.Progress("case %d/%d %s %s: %v", i+1, len(cs), c.name(), c.rng, r.err)
			continue
		}
		b.Progress("case %d/%d %s %s: p95 %s ms (%s)", i+1, len(cs), c.name(), c.rng, ms(r.api.P95), strings.Join(r.tables, ", "))
	}
	return out
}

// startProfile starts a CPU profile of this process into path and
// returns what ends it.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// summaryNote follows the closing table: how to read it.
const summaryNote = "(the targets are p95 ≤ 100 ms for 30-day and ≤ 50 ms for last-hour dashboard queries, stated at 100 million rows; nothing is pinned and ClickHouse, the API and the client share the machine's CPUs)"

// printHeader says what ran where, and on what data.
func (b *bench) printHeader(tr *traffic, m seedMarker) {
	h := benchrig.Host("")
	b.Printf("Analytics API benchmark, %s, %d CPUs (%s), %s, ClickHouse %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), h.CPUs, h.Model, h.Kernel, b.ch.Version)
	services, routes, consumers := 0, 0, 0
	for _, ws := range tr.workspaces {
		services += len(ws.services)
		consumers += len(ws.consumers)
		for _, s := range ws.services {
			routes += len(s.routes)
		}
	}
	b.Printf("%s requests from %s to %s (seed %d): %d workspaces, %d services, %d routes, %d consumers\n",
		commas(m.Rows), tr.from.Format(time.RFC3339), tr.To().Format(time.RFC3339), m.Seed,
		len(tr.workspaces), services, routes, consumers)
	b.Printf("workspace token for %s (%.0f %% of the requests); the admin reads every workspace\n",
		tr.workspaces[0].name, 100*tr.workspaces[0].share)
	if h.LoadAvg != "" {
		b.Printf("load average before the measurements: %s\n", h.LoadAvg)
	}
}

// PrintLogTails shows the end of ClickHouse's error log, for a failed
// run.
func (b *bench) PrintLogTails() {
	if b.ch != nil {
		fmt.Fprintf(b.Stderr, "---- clickhouse error log:\n%s\n", b.ch.ErrTail())
	}
}

// Close stops ClickHouse, then the API and the connections, and removes
// the temporary directory (and ClickHouse's data with it, unless it is a
// reused data directory). Idempotent.
func (b *bench) Close() error {
	var errs []error
	if b.ch != nil {
		errs = append(errs, b.ch.Stop(30*time.Second))
	}
	return errors.Join(append(errs, b.Rig.Close())...)
}

// randomToken returns a token secret of 32 random bytes in hex.
func randomToken(prefix string) string {
	var buf [32]byte
	_, _ = rand.Read(buf[:])
	return prefix + hex.EncodeToString(buf[:])
}

// cores is the machine's CPU count, for the results.
func cores() int { return runtime.NumCPU() }

// migrateLog shows the migrations' progress (a backfill of 100 million
// rows takes minutes) among the benchmark's.
func (b *bench) migrateLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(b.Stderr, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}
