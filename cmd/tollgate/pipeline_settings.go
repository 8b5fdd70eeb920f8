package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/collector"
)

// PipelineSettings configure the request-log pipeline: the gateway's Kafka
// sink and spool, the collector, and the ClickHouse schema.
type PipelineSettings struct {
	// RequestLog ("on"/"off") ships one record per request to Kafka from
	// `tollgate gateway`.
	RequestLog string
	// KafkaBrokers are comma-separated host:port bootstrap brokers;
	// KafkaTopic is the request-log topic.
	KafkaBrokers, KafkaTopic string
	// KafkaTLS ("on"/"off") encrypts connections to Kafka, checking the
	// brokers' certificates against KafkaTLSCA (PEM, default system
	// roots) unless KafkaTLSVerify is off; KafkaTLSCert and KafkaTLSKey
	// are a client certificate, when the brokers require one.
	KafkaTLS, KafkaTLSVerify, KafkaTLSCA, KafkaTLSCert, KafkaTLSKey string
	// KafkaSASLMechanism (plain, scram-sha-256 or scram-sha-512) with
	// KafkaSASLUsername and KafkaSASLPassword authenticates, when set.
	KafkaSASLMechanism, KafkaSASLUsername, KafkaSASLPassword string
	// KafkaRecordBatches ("on"/"off") writes many records per Kafka
	// message; off writes one per message, for consumers of the topic
	// that read no batches.
	KafkaRecordBatches string
	// LogSpoolMaxBytes bounds the on-disk spool under the data dir that
	// holds records while Kafka is slow or away.
	LogSpoolMaxBytes string

	// ClickHouseAddr (host:port of the native protocol),
	// ClickHouseDatabase, ClickHouseUsername and ClickHousePassword are
	// where the collector loads records and migrate creates the schema.
	ClickHouseAddr, ClickHouseDatabase, ClickHouseUsername, ClickHousePassword string
	// ClickHouseRetention drops raw and rollup partitions older than it
	// ("90d", "720h"; "off" keeps everything).
	ClickHouseRetention string
	// CollectorGroup is the Kafka consumer group of the collectors;
	// CollectorDeadLetterTopic receives records that cannot be loaded.
	CollectorGroup, CollectorDeadLetterTopic string
	// CollectorBatchRows and CollectorBatchTime close a batch.
	CollectorBatchRows, CollectorBatchTime string
	// CollectorInsertCompression (auto, lz4 or none) compresses the
	// collector's INSERTs; auto leaves them uncompressed to a loopback
	// ClickHouse.
	CollectorInsertCompression string
	// CollectorReconcileEvery ("off" or a duration) checks the rollups
	// against the raw table that often, over the last
	// CollectorReconcileWindow, and rebuilds the hours that differ.
	CollectorReconcileEvery, CollectorReconcileWindow string
}

// DefaultPipelineSettings returns the defaults of ARCHITECTURE.md's table.
func DefaultPipelineSettings() PipelineSettings {
	return PipelineSettings{
		RequestLog:          "on",
		KafkaBrokers:        "127.0.0.1:9092",
		KafkaTopic:          "tollgate.requests",
		KafkaTLS:            "off",
		KafkaTLSVerify:      "on",
		KafkaRecordBatches:  "on",
		LogSpoolMaxBytes:    "1073741824",
		ClickHouseAddr:      "127.0.0.1:9000",
		ClickHouseDatabase:  "tollgate",
		ClickHouseUsername:  "default",
		ClickHouseRetention: "off",
		CollectorGroup:      "tollgate-collector",
		CollectorBatchRows:  "50000",
		CollectorBatchTime:  "1s",

		CollectorInsertCompression: collector.CompressionAuto,

		CollectorReconcileEvery:  "1h",
		CollectorReconcileWindow: "48h",
	}
}

func (p *PipelineSettings) table() []setting {
	return []setting{
		{"request_log", "on to ship one record per request to Kafka (tollgate gateway)", &p.RequestLog},
		{"kafka_brokers", "Kafka bootstrap brokers, comma-separated host:port", &p.KafkaBrokers},
		{"kafka_topic", "Kafka topic of the request log", &p.KafkaTopic},
		{"kafka_tls", "on to connect to Kafka with TLS", &p.KafkaTLS},
		{"kafka_tls_verify", "on to verify the Kafka brokers' certificates", &p.KafkaTLSVerify},
		{"kafka_tls_ca", "PEM file of CAs trusted for the brokers' certificates (default: system roots)", &p.KafkaTLSCA},
		{"kafka_tls_cert", "PEM client certificate for Kafka", &p.KafkaTLSCert},
		{"kafka_tls_key", "PEM key of the Kafka client certificate", &p.KafkaTLSKey},
		{"kafka_sasl_mechanism", "Kafka SASL mechanism: plain, scram-sha-256 or scram-sha-512", &p.KafkaSASLMechanism},
		{"kafka_sasl_username", "Kafka SASL user", &p.KafkaSASLUsername},
		{"kafka_sasl_password", "Kafka SASL password", &p.KafkaSASLPassword},
		{"kafka_record_batches", "on to write many records per Kafka message; off for consumers of the topic that read one record per message", &p.KafkaRecordBatches},
		{"log_spool_max_bytes", "size limit of the on-disk request-log spool (bytes)", &p.LogSpoolMaxBytes},
		{"clickhouse_addr", "ClickHouse native protocol address host:port", &p.ClickHouseAddr},
		{"clickhouse_database", "ClickHouse database of the request log", &p.ClickHouseDatabase},
		{"clickhouse_username", "ClickHouse user", &p.ClickHouseUsername},
		{"clickhouse_password", "ClickHouse password", &p.ClickHousePassword},
		{"clickhouse_retention", "drop request-log partitions older than this (90d, 720h, or off)", &p.ClickHouseRetention},
		{"collector_group", "Kafka consumer group of the collectors", &p.CollectorGroup},
		{"collector_dead_letter_topic", "topic for records that cannot be loaded (default: <kafka_topic>.dead)", &p.CollectorDeadLetterTopic},
		{"collector_batch_rows", "rows that close a collector batch", &p.CollectorBatchRows},
		{"collector_batch_time", "time that closes a collector batch", &p.CollectorBatchTime},
		{"collector_insert_compression", "compression of the collector's INSERTs: lz4, none, or auto (none to a loopback ClickHouse, lz4 otherwise)", &p.CollectorInsertCompression},
		{"collector_reconcile_every", "how often the collector checks the rollups against the raw table, rebuilds what differs and merges settled days into one part (off to never)", &p.CollectorReconcileEvery},
		{"collector_reconcile_window", "how far back each reconciliation looks", &p.CollectorReconcileWindow},
	}
}

func (p *PipelineSettings) validate() []error {
	var errs []error
	for key, v := range map[string]string{
		"request_log": p.RequestLog, "kafka_tls": p.KafkaTLS, "kafka_tls_verify": p.KafkaTLSVerify,
		"kafka_record_batches": p.KafkaRecordBatches,
	} {
		if _, err := parseOnOff(key, v); err != nil {
			errs = append(errs, err)
		}
	}
	if len(p.brokers()) == 0 {
		errs = append(errs, errors.New("kafka_brokers: must name at least one host:port"))
	}
	if p.KafkaTopic == "" {
		errs = append(errs, errors.New("kafka_topic: must not be empty"))
	}
	switch strings.ToLower(p.KafkaSASLMechanism) {
	case "", "plain", "scram-sha-256", "scram-sha-512":
	default:
		errs = append(errs, fmt.Errorf("kafka_sasl_mechanism %q: must be plain, scram-sha-256 or scram-sha-512", p.KafkaSASLMechanism))
	}
	if (p.KafkaTLSCert == "") != (p.KafkaTLSKey == "") {
		errs = append(errs, errors.New("kafka_tls_cert and kafka_tls_key: set both or neither"))
	}
	if n, err := strconv.ParseInt(p.LogSpoolMaxBytes, 10, 64); err != nil || n <= 0 {
		errs = append(errs, fmt.Errorf("log_spool_max_bytes %q: must be a positive number of bytes", p.LogSpoolMaxBytes))
	}
	if p.ClickHouseAddr == "" {
		errs = append(errs, errors.New("clickhouse_addr: must not be empty"))
	}
	if p.ClickHouseDatabase == "" {
		errs = append(errs, errors.New("clickhouse_database: must not be empty"))
	}
	if _, err := p.retention(); err != nil {
		errs = append(errs, err)
	}
	if p.CollectorGroup == "" {
		errs = append(errs, errors.New("collector_group: must not be empty"))
	}
	if n, err := strconv.Atoi(p.CollectorBatchRows); err != nil || n <= 0 {
		errs = append(errs, fmt.Errorf("collector_batch_rows %q: must be a positive number", p.CollectorBatchRows))
	}
	if _, err := parseInterval(p.CollectorBatchTime); err != nil {
		errs = append(errs, fmt.Errorf("collector_batch_time: %w", err))
	}
	switch p.CollectorInsertCompression {
	case collector.CompressionAuto, collector.CompressionLZ4, collector.CompressionNone:
	default:
		errs = append(errs, fmt.Errorf("collector_insert_compression %q: must be %s, %s or %s", p.CollectorInsertCompression,
			collector.CompressionAuto, collector.CompressionLZ4, collector.CompressionNone))
	}
	if _, err := p.reconcileEvery(); err != nil {
		errs = append(errs, err)
	}
	if _, err := parseInterval(p.CollectorReconcileWindow); err != nil {
		errs = append(errs, fmt.Errorf("collector_reconcile_window: %w", err))
	}
	return errs
}

func (p *PipelineSettings) brokers() []string {
	var out []string
	for _, b := range strings.Split(p.KafkaBrokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

func (p *PipelineSettings) requestLog() bool {
	on, _ := parseOnOff("request_log", p.RequestLog)
	return on
}

func (p *PipelineSettings) deadLetterTopic() string {
	if p.CollectorDeadLetterTopic != "" {
		return p.CollectorDeadLetterTopic
	}
	return p.KafkaTopic + ".dead"
}

// retention parses ClickHouseRetention: days ("90d") or a Go duration; 0
// for off.
func (p *PipelineSettings) retention() (int, error) {
	v := strings.TrimSpace(p.ClickHouseRetention)
	if v == "" || strings.EqualFold(v, "off") {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("clickhouse_retention %q: must be a positive number of days (90d), a duration (720h) or off", v)
		}
		return n, nil
	}
	d, err := parseInterval(v)
	if err != nil || d < 24*60*60*1e9 {
		return 0, fmt.Errorf("clickhouse_retention %q: must be a positive number of days (90d), a duration of at least 24h, or off", v)
	}
	return int(d / (24 * 60 * 60 * 1e9)), nil
}

// reconcileEvery parses CollectorReconcileEvery; 0 for off.
func (p *PipelineSettings) reconcileEvery() (time.Duration, error) {
	v := strings.TrimSpace(p.CollectorReconcileEvery)
	if v == "" || strings.EqualFold(v, "off") {
		return 0, nil
	}
	d, err := parseInterval(v)
	if err != nil {
		return 0, fmt.Errorf("collector_reconcile_every: %w", err)
	}
	return d, nil
}
