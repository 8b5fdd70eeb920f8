package logrecord

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// A batch gives back its records, byte for byte and in order, each
// decoding to the record that went in.
func TestBatchRoundTrip(t *testing.T) {
	var recs [][]byte
	var batch []byte
	for i := range 5 {
		r := fullRecord()
		r.BillingUnits = int64(i)
		if i == 3 {
			r = Record{RequestID: "only-an-id", StartedAt: 1}
		}
		enc := Append(nil, &r)
		recs = append(recs, enc)
		before := len(batch)
		batch = AppendToBatch(batch, enc)
		if got, want := len(batch)-before, BatchOverhead(len(enc))+len(enc); got != want {
			t.Fatalf("record %d took %d bytes, BatchOverhead says %d", i, got, want)
		}
	}
	n, err := CountBatch(batch)
	if err != nil || n != len(recs) {
		t.Fatalf("CountBatch = %d, %v; want %d records", n, err, len(recs))
	}
	rest := batch
	for i, want := range recs {
		var rec []byte
		rec, rest = NextInBatch(rest)
		if !bytes.Equal(rec, want) {
			t.Fatalf("record %d differs", i)
		}
		var r Record
		if err := Decode(rec, &r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left after the last record", len(rest))
	}
}

// A batch takes records up to BatchMaxBytes, framing included, and any
// one record when it is empty.
func TestFits(t *testing.T) {
	rec := make([]byte, 100)
	full := make([]byte, BatchMaxBytes-BatchOverhead(len(rec))-len(rec))
	if !Fits(full, rec) {
		t.Errorf("a record that brings the batch to exactly %d bytes does not fit", BatchMaxBytes)
	}
	if Fits(append(full, 0), rec) {
		t.Errorf("a record that brings the batch past %d bytes fits", BatchMaxBytes)
	}
	if !Fits(nil, make([]byte, 2*BatchMaxBytes)) {
		t.Error("a large record does not fit an empty batch")
	}
}

// The framing is batch.proto's: field 1, length-delimited, once per record.
func TestBatchMatchesProto(t *testing.T) {
	src, err := os.ReadFile("../../schema/logrecord/v1/batch.proto")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\s*repeated\s+Record\s+records\s*=\s*1\s*;`).Match(src) {
		t.Fatalf("batch.proto does not declare `repeated Record records = 1;`")
	}
	rec := []byte{0x08, 0x01}
	want := protowire.AppendTag(nil, 1, protowire.BytesType)
	want = protowire.AppendBytes(want, rec)
	if got := AppendToBatch(nil, rec); !bytes.Equal(got, want) {
		t.Fatalf("AppendToBatch = %x, want %x", got, want)
	}
}

func TestCountBatchMalformed(t *testing.T) {
	one := AppendToBatch(nil, []byte{0x08, 0x01})
	for _, tt := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"a record, not a batch", Append(nil, &Record{RequestID: "r", StartedAt: 1})},
		{"another field", protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), []byte{1})},
		{"truncated record", one[:len(one)-1]},
		{"truncated length", append(append([]byte(nil), one...), 0x0a, 0x80)},
		{"bad tag", []byte{0x80}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if n, err := CountBatch(tt.in); !errors.Is(err, ErrMalformed) {
				t.Fatalf("CountBatch = %d, %v; want ErrMalformed", n, err)
			}
		})
	}
}

func FuzzBatch(f *testing.F) {
	full := fullRecord()
	f.Add(AppendToBatch(AppendToBatch(nil, Append(nil, &full)), []byte("not a record")))
	f.Add(Append(nil, &full))
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := CountBatch(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		var again []byte
		rest := b
		for range n {
			var rec []byte
			rec, rest = NextInBatch(rest)
			again = AppendToBatch(again, rec)
		}
		if len(rest) != 0 {
			t.Fatalf("%d bytes left after %d records", len(rest), n)
		}
		// Re-encoding may shorten an over-long length varint, never
		// change what the records are.
		if m, err := CountBatch(again); err != nil || m != n {
			t.Fatalf("re-encoded batch: %d, %v; want %d records", m, err, n)
		}
	})
}
