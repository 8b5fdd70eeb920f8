package collector

import (
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/compress"
	"github.com/ClickHouse/ch-go/proto"
	"github.com/segmentio/kafka-go"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// benchMessages returns n encoded test records as the partition readers
// hand them over.
func benchMessages(n int, now time.Time) []kafka.Message {
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		r := testRecord(i, now)
		msgs[i] = kafka.Message{Topic: testTopic, Partition: i % 3, Offset: int64(i / 3),
			Key: []byte(r.RequestID), Value: logrecord.Append(nil, &r)}
	}
	return msgs
}

func benchCollector(now time.Time) *Collector {
	cfg := DefaultConfig()
	cfg.Topic = testTopic
	return &Collector{cfg: cfg, now: func() time.Time { return now }}
}

// BenchmarkAdd is the batcher's cost per record: decode, validate and
// append to the batch, in batches of BatchRows (default) records.
func BenchmarkAdd(b *testing.B) {
	now := time.Now()
	c := benchCollector(now)
	msgs := benchMessages(c.cfg.BatchRows, now)
	bt := newBatch()
	loaded := map[int]int64{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(msgs)
		if j == 0 {
			bt.reset()
		}
		c.add(bt, copyMessage(msgs[j]), loaded)
	}
}

// BenchmarkBatchBuild is the collector's user-space cost per record from
// the Kafka message to the encoded ClickHouse block, without the network:
// add, and one INSERT's block per BatchRows records, encoded (as the
// loader's connection does, with the protocol revision it announces to
// 18.16) and, in the lz4 case, compressed.
func BenchmarkBatchBuild(b *testing.B) {
	for _, bc := range []struct {
		name   string
		method compress.Method
		lz4    bool
	}{
		{name: "plain"},
		{name: "lz4", method: compress.LZ4, lz4: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			now := time.Now()
			c := benchCollector(now)
			msgs := benchMessages(c.cfg.BatchRows, now)
			bt := newBatch()
			loaded := map[int]int64{}
			var buf proto.Buffer
			zw := compress.NewWriter(compress.LevelZero, bc.method)
			build := func() {
				in := bt.rows.input()
				block := proto.Block{Columns: len(in), Rows: bt.rows.Len(), Info: proto.BlockInfo{BucketNum: -1}}
				buf.Reset()
				if err := block.EncodeBlock(&buf, preClientInfoRevision, in); err != nil {
					b.Fatal(err)
				}
				if bc.lz4 {
					if err := zw.Compress(buf.Buf); err != nil {
						b.Fatal(err)
					}
				}
				bt.reset()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i % len(msgs)
				if j == 0 && i > 0 {
					build()
				}
				c.add(bt, copyMessage(msgs[j]), loaded)
			}
			build()
		})
	}
}

// copyMessage gives each record a value of its own, as kafka-go does.
func copyMessage(m kafka.Message) kafka.Message {
	m.Value = append([]byte(nil), m.Value...)
	return m
}
