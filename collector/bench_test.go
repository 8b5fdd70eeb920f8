package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	chproto "github.com/ClickHouse/clickhouse-go/v2/lib/proto"
	"github.com/segmentio/kafka-go"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// requestsColumnTypes are the types of insertColumns in the requests table
// (schema/clickhouse), in order.
var requestsColumnTypes = []column.Type{
	"String", "String", "DateTime('UTC')", "Int64", "String",
	"String", "String", "String", "String", "String", "String",
	"String", "String", "String", "String", "String", "String",
	"UInt16", "UInt16", "String", "UInt16", "String",
	"Float64", "Float64", "Float64", "Int64", "Int64",
	"String", "String", "String", "UInt8", "Int64",
	"String", "Int32", "Int64",
}

// newRequestsBlock returns an empty clickhouse-go block with the columns
// the loader inserts, as PrepareBatch would get it from the server.
func newRequestsBlock(tb testing.TB) *chproto.Block {
	tb.Helper()
	names := strings.Split(insertColumns, ", ")
	if len(names) != len(requestsColumnTypes) {
		tb.Fatalf("%d column names, %d types", len(names), len(requestsColumnTypes))
	}
	b := chproto.NewBlock()
	for i, n := range names {
		if err := b.AddColumn(n, requestsColumnTypes[i]); err != nil {
			tb.Fatalf("add column %s: %v", n, err)
		}
	}
	return b
}

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
	bt := newBatch(c.cfg.Topic)
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
// add, the columns of one INSERT per BatchRows records, and their native
// encoding.
func BenchmarkBatchBuild(b *testing.B) {
	now := time.Now()
	c := benchCollector(now)
	msgs := benchMessages(c.cfg.BatchRows, now)
	bt := newBatch(c.cfg.Topic)
	loaded := map[int]int64{}
	var buf proto.Buffer
	build := func() {
		block := newRequestsBlock(b)
		if err := bt.rows.appendTo(blockColumns{block}); err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		if err := block.Encode(&buf, 54451); err != nil {
			b.Fatal(err)
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
}

// copyMessage gives each record a value of its own, as kafka-go does.
func copyMessage(m kafka.Message) kafka.Message {
	m.Value = append([]byte(nil), m.Value...)
	return m
}

// blockColumns is a batch's columns without a connection: the block a
// batch would send.
type blockColumns struct{ block *chproto.Block }

func (b blockColumns) Column(i int) driver.BatchColumn { return blockColumn{b.block.Columns[i]} }

type blockColumn struct{ col column.Interface }

func (c blockColumn) Append(v any) error {
	_, err := c.col.Append(v)
	return err
}

func (c blockColumn) AppendRow(v any) error { return c.col.AppendRow(v) }
