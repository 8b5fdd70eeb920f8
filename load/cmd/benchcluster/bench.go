package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/load/benchrig"
)

// Run starts the cluster and runs the phases asked for, in an order that
// keeps the load patterns apart: propagation, even rate-limit load (with
// its Cassandra operations), throughput, skewed rate-limit load. The
// skewed pattern waits for its own minute window after throughput.
func (b *bench) Run(ctx context.Context) error {
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
	b.PrintSummary(summaryNote)
	return nil
}

// summaryNote follows the closing table: how to read it.
const summaryNote = "(CPU columns above: percent of one core used by each node, by this program — load generator, upstream and CQL server — and by other processes meanwhile; numbers taken while other processes were busy are noisy)"

// printHeader says what ran where.
func (b *bench) printHeader() {
	h := benchrig.Host(b.cfg.bin)
	store := "in-memory CQL server (internal/cqlserver, in this process)"
	if b.cfg.cassandra != "" {
		store = "Cassandra at " + b.cfg.cassandra
	}
	b.Printf("Cluster benchmark, %s, %d CPUs (%s), %s, %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), h.CPUs, h.Model, h.Kernel, h.Version)
	b.Printf("3 gateway nodes on 127.0.0.1 sharing %s; db_update_frequency %s, ratelimit_sync_interval %s\n",
		store, b.cfg.dbUpdateFrequency, b.cfg.syncInterval)
	b.Printf("nothing is pinned: the nodes, the load generator, the upstream and the CQL server share the %d CPUs\n", h.CPUs)
	if h.LoadAvg != "" {
		b.Printf("load average before the run: %s\n", h.LoadAvg)
	}
}
