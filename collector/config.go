package collector

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/segmentio/kafka-go/sasl"

	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

// Config configures a Collector. Start from DefaultConfig.
type Config struct {
	// Brokers are Kafka bootstrap addresses, host:port.
	Brokers []string
	// Topic is the topic gateway nodes publish records to.
	Topic string
	// GroupID is the consumer group; collectors sharing it share the
	// topic's partitions.
	GroupID string
	// DeadLetterTopic receives records that cannot be loaded, with
	// headers saying why and where they came from. Empty means
	// Topic + ".dead".
	DeadLetterTopic string
	// KafkaTLS, when set, connects to Kafka over TLS.
	KafkaTLS *tls.Config
	// KafkaSASL, when set, authenticates to Kafka (plain or scram from
	// github.com/segmentio/kafka-go/sasl).
	KafkaSASL sasl.Mechanism
	// SessionTimeout is how long the group waits for a silent member
	// before giving its partitions to others.
	SessionTimeout time.Duration
	// HeartbeatInterval is how often the member tells the group it lives.
	HeartbeatInterval time.Duration
	// RebalanceTimeout is how long the group waits for members to rejoin
	// during a rebalance; a member flushes its batch before it rejoins.
	RebalanceTimeout time.Duration

	// ClickHouseAddr is ClickHouse's native protocol address, host:port.
	ClickHouseAddr string
	// ClickHouseDatabase is the database migrated by schema/clickhouse.
	ClickHouseDatabase string
	// ClickHouseUsername and ClickHousePassword authenticate to ClickHouse.
	ClickHouseUsername string
	ClickHousePassword string
	// ClickHouseTLS, when set, connects to ClickHouse over TLS.
	ClickHouseTLS *tls.Config
	// InsertCompression is how the INSERTs' blocks travel to ClickHouse:
	// CompressionLZ4, CompressionNone, or CompressionAuto (the default),
	// which sends them uncompressed to a loopback ClickHouseAddr and LZ4
	// otherwise.
	InsertCompression string

	// BatchRows flushes a batch when it holds this many records.
	BatchRows int
	// BatchInterval flushes a batch this long after its first record.
	BatchInterval time.Duration
	// InsertTimeout bounds one INSERT. Keep it well under
	// RebalanceTimeout: a member flushing on a rebalance must be done
	// before the group hands its partitions on.
	InsertTimeout time.Duration
	// RetryBackoff and MaxRetryBackoff bound the wait between attempts
	// when ClickHouse or Kafka fails; the wait doubles up to the maximum.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// DrainTimeout bounds how long a member that is stopping or losing
	// its partitions keeps trying to flush its last batch; what it cannot
	// flush is left in Kafka for the next owner.
	DrainTimeout time.Duration

	// MaxAge dead-letters records that started longer ago than this.
	MaxAge time.Duration
	// MaxFuture dead-letters records that start further in the future
	// than this (a node's clock far ahead).
	MaxFuture time.Duration

	// ReconcileEvery, when positive, runs Reconcile this often while the
	// collector runs, over the last ReconcileWindow: rollup hours that
	// disagree with the raw table (after a ClickHouse crash) are rebuilt.
	// 0 turns it off. Enable it on one collector of the group only:
	// two reconciles rebuilding the same hour at once can count it twice
	// until the next run.
	ReconcileEvery time.Duration
	// ReconcileWindow is how far back each periodic reconcile looks.
	ReconcileWindow time.Duration
	// ReconcileSettle leaves hours that ended less than this long ago
	// alone: their records may still be arriving. Keep it above the lag
	// the collector usually runs with.
	ReconcileSettle time.Duration
}

// DefaultConfig returns the settings `tollgate collector` starts from.
func DefaultConfig() Config {
	return Config{
		Brokers:            []string{"127.0.0.1:9092"},
		Topic:              "tollgate.requests",
		GroupID:            "tollgate-collector",
		SessionTimeout:     30 * time.Second,
		HeartbeatInterval:  3 * time.Second,
		RebalanceTimeout:   30 * time.Second,
		ClickHouseAddr:     "127.0.0.1:9000",
		ClickHouseDatabase: "tollgate",
		ClickHouseUsername: "default",
		InsertCompression:  CompressionAuto,
		BatchRows:          50000,
		BatchInterval:      time.Second,
		InsertTimeout:      10 * time.Second,
		RetryBackoff:       100 * time.Millisecond,
		MaxRetryBackoff:    5 * time.Second,
		DrainTimeout:       10 * time.Second,
		MaxAge:             7 * 24 * time.Hour,
		MaxFuture:          time.Hour,
		ReconcileWindow:    48 * time.Hour,
		ReconcileSettle:    DefaultReconcileSettle,
	}
}

// The values of Config.InsertCompression.
const (
	CompressionAuto = "auto"
	CompressionLZ4  = "lz4"
	CompressionNone = "none"
)

// insertCompression is the compression of the INSERTs' blocks in effect.
// Compressing a block costs the collector about a seventh of its CPU per
// record, and ClickHouse as much again to decompress it: worth it across
// a network, where a block shrinks to a fraction, and not over loopback,
// where nothing is saved.
func (c Config) insertCompression() ch.Compression {
	switch c.InsertCompression {
	case CompressionNone:
		return ch.CompressionDisabled
	case CompressionLZ4:
		return ch.CompressionLZ4
	}
	if isLoopback(c.ClickHouseAddr) {
		return ch.CompressionDisabled
	}
	return ch.CompressionLZ4
}

// isLoopback reports whether addr's host is localhost or a loopback IP
// address. Names other than localhost are not resolved: they count as
// remote.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// deadLetterTopic is the dead-letter topic in effect.
func (c Config) deadLetterTopic() string {
	if c.DeadLetterTopic != "" {
		return c.DeadLetterTopic
	}
	return c.Topic + ".dead"
}

// Validate names every bad field in one error.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(c.Brokers) == 0 {
		bad("brokers", "at least one Kafka broker is required")
	}
	for _, b := range c.Brokers {
		if b == "" || !strings.Contains(b, ":") {
			bad("brokers", "%q is not host:port", b)
		}
	}
	if c.Topic == "" {
		bad("topic", "required")
	}
	if c.GroupID == "" {
		bad("group_id", "required")
	}
	if c.deadLetterTopic() == c.Topic {
		bad("dead_letter_topic", "must differ from topic %q", c.Topic)
	}
	if c.ClickHouseAddr == "" || !strings.Contains(c.ClickHouseAddr, ":") {
		bad("clickhouse_addr", "%q is not host:port", c.ClickHouseAddr)
	}
	switch c.InsertCompression {
	case CompressionAuto, CompressionLZ4, CompressionNone:
	default:
		bad("insert_compression", "%q must be %s, %s or %s", c.InsertCompression, CompressionAuto, CompressionLZ4, CompressionNone)
	}
	if !clickhousemigrate.ValidDatabase(c.ClickHouseDatabase) {
		bad("clickhouse_database", "%q is not a valid database name", c.ClickHouseDatabase)
	}
	if c.BatchRows <= 0 {
		bad("batch_rows", "%d must be positive", c.BatchRows)
	}
	positive := map[string]time.Duration{
		"batch_interval":     c.BatchInterval,
		"insert_timeout":     c.InsertTimeout,
		"retry_backoff":      c.RetryBackoff,
		"max_retry_backoff":  c.MaxRetryBackoff,
		"drain_timeout":      c.DrainTimeout,
		"session_timeout":    c.SessionTimeout,
		"heartbeat_interval": c.HeartbeatInterval,
		"rebalance_timeout":  c.RebalanceTimeout,
		"max_age":            c.MaxAge,
		"max_future":         c.MaxFuture,
	}
	for _, name := range []string{"batch_interval", "insert_timeout", "retry_backoff", "max_retry_backoff", "drain_timeout",
		"session_timeout", "heartbeat_interval", "rebalance_timeout", "max_age", "max_future"} {
		if positive[name] <= 0 {
			bad(name, "%v must be positive", positive[name])
		}
	}
	if c.MaxRetryBackoff > 0 && c.RetryBackoff > c.MaxRetryBackoff {
		bad("retry_backoff", "%v is above max_retry_backoff %v", c.RetryBackoff, c.MaxRetryBackoff)
	}
	if c.HeartbeatInterval > 0 && c.SessionTimeout > 0 && c.HeartbeatInterval >= c.SessionTimeout {
		bad("heartbeat_interval", "%v must be below session_timeout %v", c.HeartbeatInterval, c.SessionTimeout)
	}
	// A flush on a rebalance that outlasts the rebalance gets the member
	// thrown out while it may still be inserting: another member could
	// then load the same offsets before this insert lands.
	if c.DrainTimeout > 0 && c.RebalanceTimeout > 0 && c.DrainTimeout >= c.RebalanceTimeout {
		bad("drain_timeout", "%v must be below rebalance_timeout %v", c.DrainTimeout, c.RebalanceTimeout)
	}
	if c.ReconcileEvery < 0 {
		bad("reconcile_every", "%v must not be negative (0 turns reconciling off)", c.ReconcileEvery)
	}
	if c.ReconcileEvery > 0 && c.ReconcileWindow <= 0 {
		bad("reconcile_window", "%v must be positive when reconcile_every is set", c.ReconcileWindow)
	}
	if c.ReconcileSettle < 0 {
		bad("reconcile_settle", "%v must not be negative", c.ReconcileSettle)
	}
	if c.InsertTimeout > 0 && c.SessionTimeout > 0 && c.InsertTimeout >= c.SessionTimeout {
		bad("insert_timeout", "%v must be below session_timeout %v", c.InsertTimeout, c.SessionTimeout)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("collector config: %w", errors.Join(errs...))
}
