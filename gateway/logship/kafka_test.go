package logship

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// Records keep the partitions kafka-go's Hash balancer gave them, so a
// node's records for one key stay in one partition across versions.
func TestPartitionLikeKafkaHash(t *testing.T) {
	var d kafkaDestination
	var h kafka.Hash
	for _, n := range []int{1, 2, 3, 7, 12, 64} {
		parts := make([]int, n)
		for i := range parts {
			parts[i] = i
		}
		for i := range 2000 {
			key := []byte(fmt.Sprintf("%08x-4b1e-4c2a-9d3f-%012x", i*2654435761, i))
			if got, want := d.partition(key, n), h.Balance(kafka.Message{Key: key}, parts...); got != want {
				t.Fatalf("key %s, %d partitions: partition %d, kafka.Hash says %d", key, n, got, want)
			}
		}
	}
	// Without a key: round robin.
	var got []int
	for range 6 {
		got = append(got, d.partition(nil, 3))
	}
	if want := []int{0, 1, 2, 0, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("records without a key went to %v, want %v", got, want)
	}
}

// The record reader hands kafka-go the chosen records, in order, in
// batches of at most logrecord.BatchMaxBytes (a larger record alone),
// marked as batches and, when resent, as resent.
func TestRecordReader(t *testing.T) {
	var recs [][]byte
	for i := range 400 {
		recs = append(recs, logrecord.Append(nil, record(i)))
	}
	big := record(400)
	big.UserAgent = strings.Repeat("u", logrecord.BatchMaxBytes)
	recs = append(recs, logrecord.Append(nil, big))
	recs = append(recs, logrecord.Append(nil, &logrecord.Record{Path: "/no-id"}))
	var idx []int32
	for i := range recs {
		if i%7 != 3 {
			idx = append(idx, int32(i))
		}
	}
	for _, resend := range []bool{false, true} {
		t.Run(fmt.Sprintf("resend=%v", resend), func(t *testing.T) {
			r := &recordReader{recs: recs, idx: idx, resend: resend}
			var got []int32
			var sizes []int
			for {
				rec, err := r.ReadRecord()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("message %d: %v", len(sizes), err)
				}
				if rec.Key != nil {
					t.Fatalf("message %d has a key", len(sizes))
				}
				want := []kafka.Header{{Key: logrecord.HeaderBatch, Value: []byte("1")}}
				if resend {
					want = append(want, kafka.Header{Key: logrecord.HeaderResent, Value: []byte("1")})
				}
				if !reflect.DeepEqual(rec.Headers, want) {
					t.Fatalf("message %d: headers %v, want %v", len(sizes), rec.Headers, want)
				}
				value, _ := io.ReadAll(rec.Value)
				n, err := logrecord.CountBatch(value)
				if err != nil {
					t.Fatalf("message %d: %v", len(sizes), err)
				}
				if len(value) > logrecord.BatchMaxBytes && n > 1 {
					t.Fatalf("message %d: %d records in %d bytes, more than %d", len(sizes), n, len(value), logrecord.BatchMaxBytes)
				}
				for rest := value; len(rest) > 0; {
					var b []byte
					b, rest = logrecord.NextInBatch(rest)
					i := slices.IndexFunc(recs, func(r []byte) bool { return bytes.Equal(r, b) })
					got = append(got, int32(i))
				}
				sizes = append(sizes, len(value))
			}
			if !slices.Equal(got, idx) {
				t.Fatalf("records %v, want %v", got, idx)
			}
			// About 300 of these records fit in 64 KiB: the 343 before the
			// large one take two messages, the large one a message of its
			// own, and the last record another.
			if len(sizes) != 4 {
				t.Fatalf("%d messages of %v bytes, want 4", len(sizes), sizes)
			}
		})
	}
}

// With OneRecordPerMessage the record reader writes each chosen record
// as a message of its own, keyed by its request id, without the batch
// header.
func TestRecordReaderOnePerMessage(t *testing.T) {
	recs := make([][]byte, 5)
	for i := range recs {
		recs[i] = logrecord.Append(nil, record(i))
	}
	recs[3] = logrecord.Append(nil, &logrecord.Record{Path: "/no-id"})
	for _, resend := range []bool{false, true} {
		t.Run(fmt.Sprintf("resend=%v", resend), func(t *testing.T) {
			r := &recordReader{recs: recs, idx: []int32{0, 2, 3, 4}, resend: resend, single: true}
			for _, i := range []int{0, 2, 3, 4} {
				rec, err := r.ReadRecord()
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				value, _ := io.ReadAll(rec.Value)
				if string(value) != string(recs[i]) {
					t.Fatalf("record %d: value differs", i)
				}
				wantKey := ""
				if i != 3 {
					wantKey = record(i).RequestID
				}
				if rec.Key == nil {
					if wantKey != "" {
						t.Fatalf("record %d: no key, want %q", i, wantKey)
					}
				} else if key, _ := io.ReadAll(rec.Key); string(key) != wantKey {
					t.Fatalf("record %d: key %q, want %q", i, key, wantKey)
				}
				if marked := len(rec.Headers) == 1 && rec.Headers[0].Key == logrecord.HeaderResent; marked != resend || len(rec.Headers) > 1 {
					t.Fatalf("record %d: headers %v, resend %v", i, rec.Headers, resend)
				}
			}
			if _, err := r.ReadRecord(); !errors.Is(err, io.EOF) {
				t.Fatalf("after the last record: %v, want io.EOF", err)
			}
		})
	}
}

// When the broker refuses one partition's records, Write names exactly
// those, and the others are in the topic.
func TestWritePartialFailure(t *testing.T) {
	port := freePort(t)
	c := startBroker(t, port, 3)
	const failing = 1
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		if len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 1 || req.Topics[0].Partitions[0].Partition != failing {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		resp.Version = req.Version
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = req.Topics[0].Topic
		rp := kmsg.NewProduceResponseTopicPartition()
		rp.Partition = failing
		rp.ErrorCode = kerr.InvalidRecord.Code
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})
	d, err := newKafkaDestination(testSettings(t, port))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const n = 300
	recs := make([][]byte, n)
	var want []int
	for i := range recs {
		recs[i] = logrecord.Append(nil, record(i))
		if d.partition(requestID(recs[i]), 3) == failing {
			want = append(want, i)
		}
	}
	err = d.Write(context.Background(), recs, false)
	var pe *PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("Write: %v, want a *PartialError", err)
	}
	if !slices.Equal(pe.Failed, want) {
		t.Fatalf("failed records %v, want %v", pe.Failed, want)
	}
	parts := readAll(t, port, 3, n-len(want))
	if len(parts[failing]) != 0 {
		t.Fatalf("partition %d holds %d records, want none", failing, len(parts[failing]))
	}
	// Every other record is written, once or, when a produce request timed
	// out under load and was sent again, twice.
	written := map[int]bool{}
	for _, i := range slices.Concat(parts[0], parts[2]) {
		written[i] = true
	}
	for i := range n {
		if written[i] == slices.Contains(want, i) {
			t.Fatalf("record %d: written %v, but its partition failing is %v", i, written[i], slices.Contains(want, i))
		}
	}
}
