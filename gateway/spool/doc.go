// Package spool is a bounded, ordered, crash-safe FIFO of byte records on
// disk: where a gateway node keeps its request log records while Kafka is slow
// or away, so that none is lost and they leave in the order they came.
//
// It owns one directory (the node's data dir + "/spool"): segment files named
// by sequence number ("00000000000000000001.seg"), each a small header followed
// by records framed as
//
//	length uint32 LE | CRC-32C of (length, data) uint32 LE | data
//
// and a "head" file, replaced atomically by rename, that says how far the
// oldest segment has been consumed. Appends are fsynced before they return;
// Commit moves the head and deletes segments that are fully consumed.
//
// After a crash, a torn record at the end of the newest segment (short write,
// bad CRC) is truncated away, logged and counted; everything before it is
// kept. A damaged record elsewhere is reported once by Peek as a
// *CorruptError naming the file and offset, and skipped (with the rest of its
// segment, since its length can no longer be trusted) so that the consumer is
// never blocked forever.
//
// Delivery is at least once: records handed out by Peek but not yet committed
// are handed out again after a crash.
//
// It must never interpret the records it stores, and never block for longer
// than its own disk I/O.
package spool
