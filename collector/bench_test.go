package collector

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/compress"
	"github.com/ClickHouse/ch-go/proto"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// benchMessages returns n encoded test records in messages as the
// partition readers hand them over: batches of up to
// logrecord.BatchMaxBytes, as gateways write them.
func benchMessages(n int, now time.Time) []message {
	var msgs []message
	for _, v := range benchBatches(n, now) {
		msgs = append(msgs, newMessage(kafka.Message{Topic: testTopic, Partition: len(msgs) % 3, Offset: int64(len(msgs) / 3),
			Value: v, Headers: []kafka.Header{{Key: logrecord.HeaderBatch, Value: []byte("1")}}}))
	}
	return msgs
}

// benchBatches returns n test records in batches of up to
// logrecord.BatchMaxBytes.
func benchBatches(n int, now time.Time) [][]byte {
	var out [][]byte
	var batch []byte
	for i := range n {
		r := testRecord(i, now)
		rec := logrecord.Append(nil, &r)
		if !logrecord.Fits(batch, rec) {
			out = append(out, batch)
			batch = nil
		}
		batch = logrecord.AppendToBatch(batch, rec)
	}
	return append(out, batch)
}

func benchCollector(now time.Time) *Collector {
	cfg := DefaultConfig()
	cfg.Topic = testTopic
	return &Collector{cfg: cfg, now: func() time.Time { return now }, log: slog.New(slog.DiscardHandler), arenas: newArenaPool(), msgs: newMsgs()}
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
	records := 0
	for i := 0; b.Loop(); i++ {
		j := i % len(msgs)
		if j == 0 {
			records += bt.records
			bt.reset()
		}
		c.add(bt, copyMessage(msgs[j]), loaded)
	}
	records += bt.records
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(records), "ns/record")
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
			records := 0
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
				records += bt.records
				bt.reset()
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				j := i % len(msgs)
				if j == 0 && i > 0 {
					build()
				}
				c.add(bt, copyMessage(msgs[j]), loaded)
			}
			build()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(records), "ns/record")
		})
	}
}

// copyMessage gives the message a value of its own, as the partition
// readers do.
func copyMessage(m message) message {
	m.Value = append([]byte(nil), m.Value...)
	return m
}

// BenchmarkReadPartition is a partition reader's cost per record: fetch
// from a Kafka broker (kfake, in this process) the records a gateway
// wrote (LZ4 produce requests of 1,000 records, in messages of up to
// logrecord.BatchMaxBytes) and hand them to the batcher, which takes them
// and releases their arenas as a flush would.
func BenchmarkReadPartition(b *testing.B) {
	const records = 100_000
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, testTopic))
	if err != nil {
		b.Fatal(err)
	}
	defer kc.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.DefaultProduceTopic(testTopic),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()), kgo.ProducerLinger(50*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	now := time.Now()
	for from := 0; from < records; from += 1000 {
		var recs []*kgo.Record
		for _, v := range benchBatches(1000, now) {
			recs = append(recs, &kgo.Record{Value: v, Headers: []kgo.RecordHeader{{Key: logrecord.HeaderBatch, Value: []byte("1")}}})
		}
		if err := cl.ProduceSync(b.Context(), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	c := benchCollector(now)
	c.cfg.Brokers = kc.ListenAddrs()
	c.transport = &kafka.Transport{}
	defer c.transport.CloseIdleConnections()
	bt := newBatch()
	b.ResetTimer()
	for b.Loop() {
		ctx, cancel := context.WithCancel(b.Context())
		out := make(chan fetch, readQueue)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.readPartition(ctx, 0, 0, out)
		}()
		for n := 0; n < records; {
			f := <-out
			n += f.records
			c.msgs.Put(f.msgs)
			bt.arenas = append(bt.arenas, f.arenas...)
			c.release(bt)
		}
		cancel()
		<-done
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
}
