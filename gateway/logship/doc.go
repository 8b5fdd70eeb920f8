// Package logship is the logsink.Sink of a gateway node: it ships each
// request log record, encoded with logrecord.Append, to a Destination at
// least once and in the node's order. A cluster node's destination is a
// Kafka topic, records keyed by request id (in order per partition); a
// standalone node's is its in-process collector, which loads the embedded
// analytics store.
//
// The request path only encodes the record into a pooled buffer and puts it
// on a bounded in-memory queue; it never waits on Kafka or on the disk. A
// background goroutine batches records (by count, bytes and linger time) and
// writes them to the destination. When a write fails or times out, or the
// queue fills because the destination is slow, records go to an on-disk spool (package spool) and the
// sink is "spooling": to keep the order, every newer record is appended to the
// spool too, and a drainer sends from the spool (Peek, write, Commit),
// retrying with backoff while the destination is away, until the spool is empty. A
// spool left by a previous run is replayed before any new record.
//
// At least once, with resends marked: when a write fails for some records
// only, just those are spooled; records sent from the spool carry
// Destination.Write's resend flag (the Kafka header tollgate-resent), as
// their earlier write may have landed, and the collector skips those it
// already has. After a failed write the Kafka destination starts on a new
// transport, so that a broker that returns is used at once rather than
// after the old transport's metadata expires.
//
// Drop policy: records are dropped, newest first, only when they cannot be
// kept: the spool refused them (full, Settings.SpoolMaxBytes, or failing
// disk), the in-memory backlog is full because the spool cannot keep up with
// the request rate (the request path never does disk I/O itself), or they
// arrive after Close. Every drop is counted (Stats.Dropped, Hooks.Dropped) and
// logged, at most once per few seconds.
//
// Close stops accepting records, sends what is queued within
// Settings.CloseTimeout and spools whatever it could not send, so nothing
// queued is lost on shutdown.
//
// It owns its goroutines, its destination and its spool directory. It must
// never block Enqueue, never log credentials, and never import a metrics
// library: the caller wires Hooks and Stats to Prometheus.
package logship
