package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"
)

// summaryRow is one line of the closing table.
type summaryRow struct {
	name, value, target, result string
}

// addRow adds a summary row; a row whose target is missed marks the run.
func (b *bench) addRow(name, value, target string, ok bool) {
	b.summary = append(b.summary, summaryRow{name, value, target, verdict(ok)})
	if !ok {
		b.missed = true
	}
}

// addInfo adds a summary row that has no target.
func (b *bench) addInfo(name, value string) {
	b.summary = append(b.summary, summaryRow{name, value, "-", "-"})
}

// run starts the cluster and runs the phases asked for, in an order that
// keeps the load patterns apart: propagation, even rate-limit load (with
// its Cassandra operations), throughput, skewed rate-limit load. The
// skewed pattern waits for its own minute window after throughput.
func (b *bench) run(ctx context.Context) error {
	b.printHeader()
	if err := b.start(ctx); err != nil {
		return err
	}
	if b.cfg.phases[phasePropagation] {
		res, err := b.propagation(ctx)
		if err != nil {
			return fmt.Errorf("propagation: %w", err)
		}
		res.report(b)
	}
	even, skewed := b.patterns()
	if b.cfg.phases[phaseAccuracy] {
		if err := b.accuracySetup(ctx, even, skewed); err != nil {
			return fmt.Errorf("rate-limit accuracy setup: %w", err)
		}
		ws, err := b.accuracy(ctx, even)
		if err != nil {
			return fmt.Errorf("rate-limit accuracy, even load: %w", err)
		}
		b.reportAccuracy(even, ws)
		b.reportOps(ws)
	}
	if b.cfg.phases[phaseThroughput] {
		if err := b.throughputSetup(ctx); err != nil {
			return fmt.Errorf("throughput setup: %w", err)
		}
		runs, err := b.throughput(ctx)
		if err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
		b.reportThroughput(runs)
	}
	if b.cfg.phases[phaseAccuracy] {
		ws, err := b.accuracy(ctx, skewed)
		if err != nil {
			return fmt.Errorf("rate-limit accuracy, skewed load: %w", err)
		}
		b.reportAccuracy(skewed, ws)
	}
	b.printSummary()
	return nil
}

// printHeader says what ran where.
func (b *bench) printHeader() {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "kernel " + strings.TrimSpace(string(data))
	}
	version := "tollgate"
	if out, err := exec.Command(b.cfg.bin, "version").Output(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	store := "in-memory CQL server (internal/cqlserver, in this process)"
	if b.cfg.cassandra != "" {
		store = "Cassandra at " + b.cfg.cassandra
	}
	b.printf("Cluster benchmark, %s, %d CPUs (%s), %s, %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), model, kernel, version)
	b.printf("3 gateway nodes on 127.0.0.1 sharing %s; db_update_frequency %s, ratelimit_sync_interval %s\n",
		store, b.cfg.dbUpdateFrequency, b.cfg.syncInterval)
	b.printf("nothing is pinned: the nodes, the load generator, the upstream and the CQL server share the %d CPUs\n", runtime.NumCPU())
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.printf("load average before the run: %s\n", strings.Join(strings.Fields(string(load))[:3], " "))
	}
}

// printSummary prints the closing table.
func (b *bench) printSummary() {
	if len(b.summary) == 0 {
		return
	}
	b.printf("\nSummary\n")
	head := summaryRow{"measure", "value", "target", "result"}
	wn, wv, wt := width(head.name), width(head.value), width(head.target)
	for _, r := range b.summary {
		wn, wv, wt = max(wn, width(r.name)), max(wv, width(r.value)), max(wt, width(r.target))
	}
	pad := func(s string, n int) string { return s + strings.Repeat(" ", max(0, n-width(s))) }
	for _, r := range append([]summaryRow{head}, b.summary...) {
		b.printf("%s  %s  %s  %s\n", pad(r.name, wn), pad(r.value, wv), pad(r.target, wt), r.result)
	}
	b.printf("(CPU columns above: percent of one core used by each node, by this program — load generator, upstream and CQL server — and by other processes meanwhile; numbers taken while other processes were busy are noisy)\n")
}

// width is the number of characters of s as printed: ≥ and … are one each.
func width(s string) int { return utf8.RuneCountInString(s) }
