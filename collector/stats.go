package collector

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// Dead-letter reasons, in the tollgate-dead-reason header and the
// DeadLettered hook.
const (
	ReasonMalformed   = "malformed"     // logrecord.Decode failed
	ReasonInvalid     = "invalid"       // Record.Validate failed
	ReasonOutOfWindow = "out_of_window" // started_at outside MaxAge / MaxFuture
)

// Hooks let the caller turn the collector's events into metrics without
// the package importing a metrics library. Any may be nil. They are called
// from the collector's goroutines and must not block.
type Hooks struct {
	// Consumed is called for every fetch from Kafka with the number of
	// records it read.
	Consumed func(partition, records int)
	// BatchInserted is called after ClickHouse acknowledged a batch of
	// rows, with how long the insert took (retries included).
	BatchInserted func(rows int, took time.Duration)
	// InsertFailed is called for every failed insert attempt.
	InsertFailed func(err error)
	// DeadLettered is called for every record sent to the dead-letter
	// topic, with one of the Reason constants.
	DeadLettered func(reason string)
	// DuplicatesSkipped is called with the number of records dropped
	// because ClickHouse already had them.
	DuplicatesSkipped func(n int)
	// Lag is called with a partition's lag (messages behind its high
	// watermark: a gateway's message holds a batch of records) as its
	// records are read.
	Lag func(partition int, lag int64)
	// Reconciled is called after every periodic reconcile (ReconcileEvery)
	// with its report and error.
	Reconciled func(rep Report, err error)
	// PeriodRebuilt is called for every rollup hour a periodic reconcile
	// rebuilt, with the rollup table's name.
	PeriodRebuilt func(table string)
	// Compacted is called after every periodic reconcile with the number
	// of settled rollup partitions merged into one part, and the error
	// of those that could not be.
	Compacted func(partitions int, err error)
}

// Stats are the collector's counters since it was created.
type Stats struct {
	Consumed          uint64 // records read from Kafka
	Inserted          uint64 // rows ClickHouse acknowledged
	DeadLettered      uint64 // records sent to the dead-letter topic
	DuplicatesSkipped uint64 // records not inserted because ClickHouse had them
	Batches           uint64 // batches inserted
	InsertErrors      uint64 // failed insert attempts
	CommitErrors      uint64 // failed Kafka offset commits (harmless: loaded offsets rule)
	Generations       uint64 // consumer-group generations joined
	Reconciles        uint64 // periodic reconciles run
	ReconcileErrors   uint64 // periodic reconciles that failed
	RollupMismatches  uint64 // rollup periods found differing from the raw table
	PeriodsRebuilt    uint64 // rollup hours rebuilt from the raw table
	// PartitionsCompacted counts the settled day partitions of rollups
	// merged into one part after periodic reconciles, CompactErrors the
	// runs that failed to merge some.
	PartitionsCompacted uint64
	CompactErrors       uint64
	LastBatchRows       int
	LastInsert          time.Duration // duration of the last successful insert
	Lag                 map[int]int64 // messages behind, per assigned partition
}

// counters are Stats as the goroutines update them.
type counters struct {
	consumed, inserted, deadLettered, duplicates, batches, insertErrors, commitErrors, generations atomic.Uint64
	reconciles, reconcileErrors, mismatches, rebuilt, compacted, compactErrors                     atomic.Uint64

	mu            sync.Mutex
	lastBatchRows int
	lastInsert    time.Duration
	lag           map[int]int64
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Consumed:            c.consumed.Load(),
		Inserted:            c.inserted.Load(),
		DeadLettered:        c.deadLettered.Load(),
		DuplicatesSkipped:   c.duplicates.Load(),
		Batches:             c.batches.Load(),
		InsertErrors:        c.insertErrors.Load(),
		CommitErrors:        c.commitErrors.Load(),
		Generations:         c.generations.Load(),
		Reconciles:          c.reconciles.Load(),
		ReconcileErrors:     c.reconcileErrors.Load(),
		RollupMismatches:    c.mismatches.Load(),
		PeriodsRebuilt:      c.rebuilt.Load(),
		PartitionsCompacted: c.compacted.Load(),
		CompactErrors:       c.compactErrors.Load(),
		LastBatchRows:       c.lastBatchRows,
		LastInsert:          c.lastInsert,
		Lag:                 maps.Clone(c.lag),
	}
}

func (c *counters) setLag(p int, lag int64) {
	c.mu.Lock()
	if c.lag == nil {
		c.lag = map[int]int64{}
	}
	c.lag[p] = lag
	c.mu.Unlock()
}

func (c *counters) resetLag() {
	c.mu.Lock()
	c.lag = map[int]int64{}
	c.mu.Unlock()
}

func (c *counters) batchDone(rows int, took time.Duration) {
	c.batches.Add(1)
	c.inserted.Add(uint64(rows))
	c.mu.Lock()
	c.lastBatchRows, c.lastInsert = rows, took
	c.mu.Unlock()
}
