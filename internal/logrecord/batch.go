package logrecord

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// HeaderBatch is the Kafka message header (value "1") that says a
// message's value is a Batch (schema/logrecord/v1/batch.proto): the
// encodings of one or more records, each as field 1. A message without it
// holds one encoded record.
//
// Gateways put many records in one message because a consumer pays for
// every Kafka message it reads: parsing its framing, its headers, its key
// and copying it out. One message per record made those costs the
// collector's largest share.
const HeaderBatch = "tollgate-batch"

// BatchMaxBytes bounds the batches gateways write, framing included; a
// record larger than that goes in a batch of its own. 64 KiB holds hundreds
// of records, enough that the per-message costs disappear, and keeps
// messages far below Kafka's message.max.bytes (1 MB by default).
const BatchMaxBytes = 64 << 10

// fieldBatchRecord is Batch.records.
const fieldBatchRecord protowire.Number = 1

// AppendToBatch appends the encoded record rec to the batch dst and
// returns the extended slice. A batch is the concatenation of its records
// so appended; an empty slice is a batch of none.
func AppendToBatch(dst, rec []byte) []byte {
	dst = protowire.AppendTag(dst, fieldBatchRecord, protowire.BytesType)
	return protowire.AppendBytes(dst, rec)
}

// BatchOverhead is what AppendToBatch adds to a record of n bytes.
func BatchOverhead(n int) int {
	return protowire.SizeTag(fieldBatchRecord) + protowire.SizeVarint(uint64(n))
}

// Fits reports whether the encoded record rec may be appended to batch:
// a batch holds at most BatchMaxBytes, framing included, unless it holds
// one record alone.
func Fits(batch, rec []byte) bool {
	return len(batch) == 0 || len(batch)+BatchOverhead(len(rec))+len(rec) <= BatchMaxBytes
}

// CountBatch checks the framing of an encoded Batch and returns how many
// records it holds. It does not look into the records: each is decoded on
// its own, so that one broken record does not take its neighbours with it.
// A batch whose framing is broken (wrapped in ErrMalformed) cannot be
// split into records at all.
func CountBatch(b []byte) (int, error) {
	n, off := 0, 0
	for off < len(b) {
		num, typ, tl := protowire.ConsumeTag(b[off:])
		if tl < 0 {
			return 0, malformedBatch(off, protowire.ParseError(tl))
		}
		if num != fieldBatchRecord || typ != protowire.BytesType {
			return 0, malformedBatch(off, fmt.Errorf("field %d of type %d, want records (1, bytes)", num, typ))
		}
		_, vl := protowire.ConsumeBytes(b[off+tl:])
		if vl < 0 {
			return 0, malformedBatch(off, protowire.ParseError(vl))
		}
		off += tl + vl
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: empty batch", ErrMalformed)
	}
	return n, nil
}

func malformedBatch(off int, err error) error {
	return fmt.Errorf("%w: batch at byte %d: %v", ErrMalformed, off, err)
}

// NextInBatch returns the first record of b and the rest of the batch. b
// must be a batch CountBatch accepted (or the rest of one).
func NextInBatch(b []byte) (rec, rest []byte) {
	_, _, tl := protowire.ConsumeTag(b)
	rec, vl := protowire.ConsumeBytes(b[tl:])
	return rec, b[tl+vl:]
}
