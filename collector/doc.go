// Package collector loads request log records from Kafka into ClickHouse:
// a member of a Kafka consumer group that decodes each record
// (logrecord.DecodeShared: its strings share the message's bytes), checks
// it (Validate and an accepted time window), appends the good ones to the
// batch's columns in ClickHouse's native encoding, inserts them in large
// batches into the requests table, sends
// the rest to a dead-letter topic, and commits Kafka offsets after
// ClickHouse has acknowledged the batch.
//
// Records reach ClickHouse exactly once in what queries see. The
// collector's own proof of what it loaded is in ClickHouse, in the same
// INSERT as the rows: a materialized view keeps the highest loaded offset
// of every partition in loaded_offsets. When a partition is assigned, the
// collector starts after max(committed offset, loaded offset); before it
// retries a failed insert, which may have been applied, it waits for the
// insert to end, reads the loaded offsets again and drops the rows already
// there. Kafka commits are only a shortcut. README.md spells out the
// failure cases and what remains at-least-once (dead letters).
//
// Reconcile repairs the rollups when a ClickHouse crash left them off by
// a batch: it compares them hour by hour with the raw table and rebuilds
// the hours that differ.
//
// It owns its consumer-group membership, its partition readers, its
// dead-letter producer and its ClickHouse connections; Run starts them and
// stops them all before it returns. It must never commit an offset whose
// records ClickHouse has not acknowledged, never block a partition on one
// bad record, and never create or alter the schema (schema/clickhouse
// does).
package collector
