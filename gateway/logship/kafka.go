package logship

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/encoding/protowire"
)

// Destination receives batches of encoded records. Write must be safe to
// repeat with records it may already have taken (the sink is at least
// once: a write that failed or timed out is sent again from the spool),
// and must return only once the records are durable where they go. Close
// releases its connections; the sink calls it once, after its last Write.
type Destination interface {
	Write(ctx context.Context, recs [][]byte) error
	Close() error
	// String names the destination in logs and errors.
	String() string
}

// kafkaDestination writes to a Kafka topic, keyed by request id.
type kafkaDestination struct {
	topic string
	w     *kafka.Writer
	// transport is closed by Close: Writer.Close leaves a caller's
	// Transport (and its metadata goroutine) running, as net/http does
	// (segmentio/kafka-go#1358).
	transport *kafka.Transport
}

func newKafkaDestination(set Settings) (*kafkaDestination, error) {
	tlsCfg, err := set.TLS.tlsConfig()
	if err != nil {
		return nil, err
	}
	mech, err := set.SASL.mechanism()
	if err != nil {
		return nil, err
	}
	d := &kafkaDestination{topic: set.Topic}
	d.transport = &kafka.Transport{
		ClientID:    set.ClientID,
		TLS:         tlsCfg,
		SASL:        mech,
		DialTimeout: set.WriteTimeout,
		MetadataTTL: 30 * time.Second,
	}
	d.w = &kafka.Writer{
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
		Transport:   d.transport,
	}
	return d, nil
}

func (d *kafkaDestination) String() string {
	return fmt.Sprintf("kafka topic %s", d.topic)
}

func (d *kafkaDestination) Write(ctx context.Context, recs [][]byte) error {
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: requestID(r), Value: r}
	}
	return d.w.WriteMessages(ctx, msgs...)
}

func (d *kafkaDestination) Close() error {
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
