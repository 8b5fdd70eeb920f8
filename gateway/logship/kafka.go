package logship

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// Destination receives batches of encoded records. Write must return only
// once the records are durable where they go. The sink is at least once:
// records whose write failed or timed out are sent again from the spool,
// with resend set, and the destination (or what reads it) must take a
// record it already has without counting it twice. When only some records
// of a batch failed, Write returns a *PartialError naming them, and only
// those are sent again. Write may be called from two goroutines at once.
// Close releases its connections; the sink calls it once, after its last
// Write.
type Destination interface {
	Write(ctx context.Context, recs [][]byte, resend bool) error
	Close() error
	// String names the destination in logs and errors.
	String() string
}

// PartialError is a Write that failed for some records only: Failed are
// their indexes in the batch, in order.
type PartialError struct {
	Failed []int
	Err    error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d records not written: %v", len(e.Failed), e.Err)
}

func (e *PartialError) Unwrap() error { return e.Err }

// kafkaDestination writes to a Kafka topic, partitioned by request id.
//
// It produces through a kafka.Client, not a kafka.Writer: the sink builds
// its batches already, and a Writer would batch them again per partition,
// on goroutines and timers of its own, copying every message and looking
// the topic's metadata up once per message. A Write here partitions the
// batch itself (as kafka.Hash does), looks the metadata up once, and sends
// one produce request per partition, all at once.
type kafkaDestination struct {
	set    Settings
	topic  string
	tlsCfg *tls.Config    // loaded once by Open; every transport shares it
	mech   sasl.Mechanism // nil without SASL

	mu sync.RWMutex // guards conn against a reset during writes
	// conn's transport is closed by Close (kafka-go leaves a caller's
	// Transport, and its metadata goroutine, running, as net/http does:
	// segmentio/kafka-go#1358).
	conn *kafkaConn
	// failed: the last write failed; the next one starts on a new
	// transport, whose metadata and connections are fresh (a transport
	// keeps a failed metadata state until its MetadataTTL ends, which
	// would hold the sink back that long after Kafka returned).
	failed atomic.Bool
	rr     atomic.Uint32  // round robin for records without a request id
	olds   sync.WaitGroup // closing replaced transports; Close waits
}

// Produce settings. Retries live in the sink (spool and drainer); a
// partition gets one second chance for a temporary error or a connection
// the broker dropped.
const (
	produceAttempts = 2
	produceBackoff  = 50 * time.Millisecond
	// LZ4: records are repetitive text (ids, hosts, paths), which LZ4
	// compresses about as well as Snappy at a lower CPU cost for both the
	// gateway and the collector; every Kafka since 0.10 reads it.
	produceCompression = kafka.Lz4
	// A record is sent once every in-sync replica has it.
	produceAcks = kafka.RequireAll
)

func newKafkaDestination(set Settings) (*kafkaDestination, error) {
	tlsCfg, err := set.TLS.Config()
	if err != nil {
		return nil, err
	}
	mech, err := set.SASL.Build()
	if err != nil {
		return nil, err
	}
	d := &kafkaDestination{set: set, topic: set.Topic, tlsCfg: tlsCfg, mech: mech}
	d.conn = newConn(set, tlsCfg, mech)
	return d, nil
}

// kafkaConn is a client on its own transport, and the writes using it.
type kafkaConn struct {
	client    *kafka.Client
	transport *kafka.Transport
	writes    sync.WaitGroup
}

func newConn(set Settings, tlsCfg *tls.Config, mech sasl.Mechanism) *kafkaConn {
	t := newTransport(set, tlsCfg, mech)
	return &kafkaConn{
		client:    &kafka.Client{Addr: kafka.TCP(set.Brokers...), Timeout: set.WriteTimeout, Transport: t},
		transport: t,
	}
}

// close closes the transport's connections once no write uses them.
func (c *kafkaConn) close() {
	c.writes.Wait()
	c.transport.CloseIdleConnections()
}

func newTransport(set Settings, tlsCfg *tls.Config, mech sasl.Mechanism) *kafka.Transport {
	return &kafka.Transport{
		ClientID:    set.ClientID,
		TLS:         tlsCfg,
		SASL:        mech,
		DialTimeout: set.WriteTimeout,
		MetadataTTL: 30 * time.Second,
	}
}

// reset replaces the transport after a failed write.
func (d *kafkaDestination) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.failed.Swap(false) {
		return
	}
	old := d.conn
	d.conn = newConn(d.set, d.tlsCfg, d.mech)
	// A write still on the old transport (abandoned, or the other
	// goroutine's) ends on its own; then its connections close.
	d.olds.Go(old.close)
}

func (d *kafkaDestination) String() string {
	return fmt.Sprintf("kafka topic %s", d.topic)
}

var resentHeader = []kafka.Header{{Key: logrecord.HeaderResent, Value: []byte("1")}}

func (d *kafkaDestination) Write(ctx context.Context, recs [][]byte, resend bool) error {
	if len(recs) == 0 {
		return nil
	}
	if d.failed.Load() {
		d.reset()
	}
	d.mu.RLock()
	conn := d.conn
	conn.writes.Add(1)
	d.mu.RUnlock()
	failed, err := d.write(ctx, conn.client, recs, resend)
	conn.writes.Done()
	if err == nil {
		return nil
	}
	d.failed.Store(true)
	if len(failed) > 0 && len(failed) < len(recs) {
		return &PartialError{Failed: failed, Err: err}
	}
	return err
}

// write produces recs, one request per partition, and returns the indexes
// of the records that were not written, in order, with the errors.
func (d *kafkaDestination) write(ctx context.Context, c *kafka.Client, recs [][]byte, resend bool) ([]int, error) {
	n, err := d.partitions(ctx, c)
	if err != nil {
		return nil, err
	}
	// parts[p] are the indexes of p's records, in order.
	parts := make([][]int32, n)
	for i, r := range recs {
		p := d.partition(requestID(r), n)
		if parts[p] == nil {
			parts[p] = make([]int32, 0, 2*len(recs)/n+8)
		}
		parts[p] = append(parts[p], int32(i))
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for p, idx := range parts {
		if len(idx) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = d.produce(ctx, c, p, recs, idx, resend)
		}()
	}
	wg.Wait()
	var failed []int
	for p, e := range errs {
		if e == nil {
			continue
		}
		err = errors.Join(err, fmt.Errorf("partition %d: %w", p, e))
		for _, i := range parts[p] {
			failed = append(failed, int(i))
		}
	}
	if err == nil {
		return nil, nil
	}
	slices.Sort(failed)
	return failed, err
}

// partitions returns the topic's partition count, from the transport's
// metadata cache unless it has expired.
func (d *kafkaDestination) partitions(ctx context.Context, c *kafka.Client) (int, error) {
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{d.topic}})
	if err != nil {
		return 0, err
	}
	for _, t := range md.Topics {
		if t.Name != d.topic {
			continue
		}
		if t.Error != nil {
			return 0, t.Error
		}
		if len(t.Partitions) == 0 {
			return 0, kafka.UnknownTopicOrPartition
		}
		return len(t.Partitions), nil
	}
	return 0, kafka.UnknownTopicOrPartition
}

// partition picks key's partition as kafka.Hash does (FNV-1a, as Sarama's
// hash partitioner), so records keep the partitions they had with
// kafka-go's Writer; records without a key go round robin.
func (d *kafkaDestination) partition(key []byte, n int) int {
	if key == nil {
		return int((d.rr.Add(1) - 1) % uint32(n))
	}
	const offset32, prime32 = 2166136261, 16777619
	h := uint32(offset32)
	for _, c := range key {
		h ^= uint32(c)
		h *= prime32
	}
	p := int32(h) % int32(n)
	if p < 0 {
		p = -p
	}
	return int(p)
}

// produce writes the records idx of recs to partition p, retrying once
// after a temporary error.
func (d *kafkaDestination) produce(ctx context.Context, c *kafka.Client, p int, recs [][]byte, idx []int32, resend bool) error {
	var err error
	for attempt := range produceAttempts {
		if attempt > 0 {
			t := time.NewTimer(produceBackoff)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return errors.Join(err, ctx.Err())
			}
		}
		var res *kafka.ProduceResponse
		res, err = c.Produce(ctx, &kafka.ProduceRequest{
			Topic:        d.topic,
			Partition:    p,
			RequiredAcks: produceAcks,
			Compression:  produceCompression,
			Records:      &recordReader{recs: recs, idx: idx, resend: resend, single: d.set.OneRecordPerMessage},
		})
		if err == nil && res != nil && res.Error != nil {
			err = res.Error
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !retriable(err) {
			return err
		}
	}
	return err
}

// retriable reports whether a produce that failed with err may succeed if
// sent again at once: kafka-go's Writer's rule.
func retriable(err error) bool {
	var temp interface{ Temporary() bool }
	if errors.As(err, &temp) && temp.Temporary() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// recordReader is a kafka.RecordReader over the records idx of recs, in
// messages of many records each: a logrecord batch, marked with the
// logrecord.HeaderBatch header (and logrecord.HeaderResent when resent). A
// consumer pays per message it reads, far more than per byte, so one
// message per record made reading the topic cost the collector about twice
// as much. The messages have no key: the records' request ids chose their
// partition already (kafkaDestination.partition).
//
// With single set it writes a message per record instead, keyed by its
// request id, for collectors that do not read batches.
//
// It reuses one Record and one buffer, so producing allocates nothing per
// message; the encoder is done with each Record before it asks for the
// next.
type recordReader struct {
	recs   [][]byte
	idx    []int32
	next   int
	resend bool
	single bool
	rec    kafka.Record
	key    bytesReader
	value  bytesReader
	buf    []byte
}

var (
	batchHeader       = []kafka.Header{{Key: logrecord.HeaderBatch, Value: []byte("1")}}
	batchResentHeader = []kafka.Header{batchHeader[0], resentHeader[0]}
)

func (r *recordReader) ReadRecord() (*kafka.Record, error) {
	if r.next >= len(r.idx) {
		return nil, io.EOF
	}
	if r.single {
		return r.readSingle(), nil
	}
	if r.buf == nil {
		r.buf = make([]byte, 0, r.batchCap())
	}
	r.buf = r.buf[:0]
	for r.next < len(r.idx) {
		v := r.recs[r.idx[r.next]]
		if !logrecord.Fits(r.buf, v) {
			break
		}
		r.buf = logrecord.AppendToBatch(r.buf, v)
		r.next++
	}
	r.rec = kafka.Record{Headers: batchHeader}
	if r.resend {
		r.rec.Headers = batchResentHeader
	}
	r.value.Reset(r.buf)
	r.rec.Value = &r.value
	return &r.rec, nil
}

// batchCap is what the records need in batches, up to one batch: the
// buffer is made once at that size instead of grown by doubling.
// (It cannot be pooled: kafka-go encodes a request on a connection's
// goroutine, which may still read it after Produce gave up on a deadline.)
func (r *recordReader) batchCap() int {
	n := 0
	for _, i := range r.idx {
		v := r.recs[i]
		if n += logrecord.BatchOverhead(len(v)) + len(v); n >= logrecord.BatchMaxBytes {
			return max(n, logrecord.BatchMaxBytes)
		}
	}
	return n
}

// readSingle returns the next record as a message of its own.
func (r *recordReader) readSingle() *kafka.Record {
	v := r.recs[r.idx[r.next]]
	r.next++
	r.rec = kafka.Record{}
	if r.resend {
		r.rec.Headers = resentHeader
	}
	if k := requestID(v); k != nil {
		r.key.Reset(k)
		r.rec.Key = &r.key
	}
	r.value.Reset(v)
	r.rec.Value = &r.value
	return &r.rec
}

// bytesReader is a kafka.Bytes over a slice.
type bytesReader struct{ bytes.Reader }

func (*bytesReader) Close() error { return nil }

func (d *kafkaDestination) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conn.close()
	d.olds.Wait()
	return nil
}

var _ Destination = (*kafkaDestination)(nil)

// requestID returns the request_id field (number 2 in
// schema/logrecord/v1/record.proto) of an encoded record, without decoding
// the rest. A nil key (a record without an id) goes round-robin.
func requestID(b []byte) []byte {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil
		}
		b = b[n:]
		if num == 2 && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			return v
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return nil
		}
		b = b[n:]
	}
	return nil
}
