package logship

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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

// kafkaDestination writes to a Kafka topic, keyed by request id.
type kafkaDestination struct {
	set   Settings
	topic string
	w     *kafka.Writer

	mu sync.RWMutex // guards w and transport against a reset during writes
	// transport is closed by Close: Writer.Close leaves a caller's
	// Transport (and its metadata goroutine) running, as net/http does
	// (segmentio/kafka-go#1358).
	transport *kafka.Transport
	// failed: the last write failed; the next one starts on a new
	// transport, whose metadata and connections are fresh (a transport
	// keeps a failed metadata state until its MetadataTTL ends, which
	// would hold the sink back that long after Kafka returned).
	failed atomic.Bool
}

func newKafkaDestination(set Settings) (*kafkaDestination, error) {
	tlsCfg, err := set.TLS.Config()
	if err != nil {
		return nil, err
	}
	mech, err := set.SASL.Build()
	if err != nil {
		return nil, err
	}
	d := &kafkaDestination{set: set, topic: set.Topic}
	d.transport = newTransport(set, tlsCfg, mech)
	d.w = newWriter(set, d.transport)
	return d, nil
}

func newWriter(set Settings, transport *kafka.Transport) *kafka.Writer {
	return &kafka.Writer{
		Addr:     kafka.TCP(set.Brokers...),
		Topic:    set.Topic,
		Balancer: &kafka.Hash{}, // key = request id: random ids spread evenly
		// Retries live in the sink (spool and drainer); the writer gets
		// one second chance for a connection the broker dropped.
		MaxAttempts:     2,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: 200 * time.Millisecond,
		BatchSize:       set.BatchSize,
		BatchBytes:      int64(set.BatchBytes),
		// Batches are built by the sink already; the writer must not hold
		// a partial one back waiting for more.
		BatchTimeout: time.Millisecond,
		ReadTimeout:  set.WriteTimeout,
		WriteTimeout: set.WriteTimeout,
		RequiredAcks: kafka.RequireAll, // a record is sent once every in-sync replica has it
		// LZ4: records are repetitive text (ids, hosts, paths), which LZ4
		// compresses about as well as Snappy at a lower CPU cost for both
		// the gateway and the collector; every Kafka since 0.10 reads it.
		Compression: kafka.Lz4,
		Transport:   transport,
	}
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
	tlsCfg, _ := d.set.TLS.Config() // loaded once already in Open
	mech, _ := d.set.SASL.Build()
	oldW, oldT := d.w, d.transport
	d.transport = newTransport(d.set, tlsCfg, mech)
	d.w = newWriter(d.set, d.transport)
	// The old writer's partition goroutines may still be finishing the
	// failed batch; they end on their own, and then its connections.
	go func() {
		oldW.Close()
		oldT.CloseIdleConnections()
	}()
}

func (d *kafkaDestination) String() string {
	return fmt.Sprintf("kafka topic %s", d.topic)
}

var resentHeader = []kafka.Header{{Key: logrecord.HeaderResent, Value: []byte("1")}}

func (d *kafkaDestination) Write(ctx context.Context, recs [][]byte, resend bool) error {
	if d.failed.Load() {
		d.reset()
	}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: requestID(r), Value: r}
		if resend {
			msgs[i].Headers = resentHeader
		}
	}
	d.mu.RLock()
	w := d.w
	d.mu.RUnlock()
	err := w.WriteMessages(ctx, msgs...)
	if err == nil {
		return nil
	}
	d.failed.Store(true)
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) && len(werrs) == len(recs) && werrs.Count() < len(recs) {
		pe := &PartialError{Err: err}
		for i, e := range werrs {
			if e != nil {
				pe.Failed = append(pe.Failed, i)
			}
		}
		return pe
	}
	return err
}

func (d *kafkaDestination) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.w.Close()
	d.transport.CloseIdleConnections()
	return err
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
