package logship

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Settings configures a Sink. Start from DefaultSettings.
type Settings struct {
	// Destination, when set, receives the records instead of Kafka (the
	// standalone node's in-process collector); the Kafka settings below
	// are then ignored.
	Destination Destination

	// Brokers are the bootstrap brokers, host:port.
	Brokers []string
	// Topic receives the records. The collector reads the same topic.
	Topic string
	// ClientID names this node to the brokers (quotas, broker logs).
	ClientID string
	// TLS secures the connections to the brokers.
	TLS TLSSettings
	// SASL authenticates to the brokers.
	SASL SASLSettings

	// OneRecordPerMessage writes each record to Kafka as a message of its
	// own, keyed by its request id, instead of many records in one
	// message (a logrecord batch): for consumers of the topic that read a
	// record per message, such as collectors built before batches, which
	// dead-letter batches as malformed. It costs the collector about twice
	// the CPU per record.
	OneRecordPerMessage bool

	// BatchSize is the most records in one write to Kafka.
	BatchSize int
	// BatchBytes is the most encoded bytes in one write; keep it at or below
	// the topic's max.message.bytes (1 MiB by default in Kafka).
	BatchBytes int
	// Linger is how long a partial batch waits for more records before it is
	// written: the latency added to each record at low traffic.
	Linger time.Duration
	// QueueSize is how many records wait in memory for the background
	// goroutine; as many again may wait in the overflow backlog while a
	// Kafka write is abandoned in favour of the spool. With the batch being
	// built, at most 2*QueueSize+BatchSize records are held in memory.
	QueueSize int
	// WriteTimeout bounds one write to Kafka; a write that takes longer is
	// treated as failed and its records are spooled.
	WriteTimeout time.Duration
	// RetryBackoffMax is the longest wait between attempts to send the spool
	// while Kafka is away (the wait doubles from 100ms up to this).
	RetryBackoffMax time.Duration
	// CloseTimeout bounds Close's attempt to send what is queued; what is
	// not sent by then is spooled.
	CloseTimeout time.Duration

	// SpoolDir holds the on-disk spool, normally the node's data dir +
	// "/spool". Required.
	SpoolDir string
	// SpoolMaxBytes bounds the spool on disk; beyond it records are dropped.
	SpoolMaxBytes int64
}

// TLSSettings configures TLS to the brokers.
type TLSSettings struct {
	Enabled bool
	// CAFile is a PEM bundle of the CAs to trust; empty means the system pool.
	CAFile string
	// CertFile and KeyFile are this node's client certificate (mutual TLS);
	// both or neither.
	CertFile string
	KeyFile  string
	// InsecureSkipVerify disables verification of the brokers' certificates,
	// which leaves the connection open to anyone who can impersonate them.
	InsecureSkipVerify bool
}

// SASL mechanisms.
const (
	SASLPlain       = "plain"
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
)

// SASLSettings configures SASL authentication. The password is never
// printed or logged: String and LogValue leave it out.
type SASLSettings struct {
	// Mechanism is "" (no SASL), "plain", "scram-sha-256" or "scram-sha-512".
	Mechanism string
	Username  string
	Password  string
}

// String describes the settings without the password.
func (s SASLSettings) String() string {
	if s.Mechanism == "" {
		return "none"
	}
	return s.Mechanism + " as " + strconv.Quote(s.Username)
}

// LogValue describes the settings to slog without the password.
func (s SASLSettings) LogValue() slog.Value {
	return slog.GroupValue(slog.String("mechanism", s.Mechanism), slog.String("username", s.Username))
}

// DefaultSettings returns the defaults of every setting; SpoolDir is left
// empty because only the caller knows the data dir.
func DefaultSettings() Settings {
	return Settings{
		Brokers:         []string{"127.0.0.1:9092"},
		Topic:           "tollgate.requests",
		ClientID:        "tollgate-gateway",
		BatchSize:       1000,
		BatchBytes:      1 << 20,
		Linger:          50 * time.Millisecond,
		QueueSize:       16384,
		WriteTimeout:    5 * time.Second,
		RetryBackoffMax: time.Second,
		CloseTimeout:    10 * time.Second,
		SpoolMaxBytes:   1 << 30,
	}
}

// minSpoolBytes keeps room for a few segments of a useful size.
const minSpoolBytes = 64 << 10

// Validate reports every bad setting in one error, each by name.
func (s Settings) Validate() error {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	if s.Destination == nil {
		bad = append(bad, s.kafkaProblems()...)
	}
	if s.BatchSize < 1 {
		add("BatchSize: %d must be at least 1", s.BatchSize)
	}
	if s.BatchBytes < 1024 {
		add("BatchBytes: %d must be at least 1024", s.BatchBytes)
	}
	if s.Linger < 0 {
		add("Linger: %s must not be negative", s.Linger)
	}
	if s.QueueSize < 1 {
		add("QueueSize: %d must be at least 1", s.QueueSize)
	}
	if s.WriteTimeout <= 0 {
		add("WriteTimeout: %s must be positive", s.WriteTimeout)
	}
	if s.RetryBackoffMax <= 0 {
		add("RetryBackoffMax: %s must be positive", s.RetryBackoffMax)
	}
	if s.CloseTimeout <= 0 {
		add("CloseTimeout: %s must be positive", s.CloseTimeout)
	}
	if s.SpoolDir == "" {
		add("SpoolDir: required")
	}
	if s.SpoolMaxBytes < minSpoolBytes {
		add("SpoolMaxBytes: %d must be at least %d", s.SpoolMaxBytes, minSpoolBytes)
	}
	if len(bad) == 0 {
		return nil
	}
	return errors.New("log sink settings: " + strings.Join(bad, "; "))
}

// kafkaProblems are the bad Kafka settings.
func (s Settings) kafkaProblems() []string {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	if len(s.Brokers) == 0 {
		add("Brokers: at least one broker is required")
	}
	for i, b := range s.Brokers {
		if host, port, ok := strings.Cut(b, ":"); !ok || host == "" || port == "" {
			add("Brokers[%d]: %q is not host:port", i, b)
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			add("Brokers[%d]: %q has no valid port", i, b)
		}
	}
	if s.Topic == "" {
		add("Topic: required")
	} else if len(s.Topic) > 249 || strings.Trim(s.Topic, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
		// Kafka's own rule for topic names.
		add("Topic: %q is not a valid Kafka topic name", s.Topic)
	}
	if !s.TLS.Enabled && (s.TLS.CAFile != "" || s.TLS.CertFile != "" || s.TLS.KeyFile != "" || s.TLS.InsecureSkipVerify) {
		add("TLS.Enabled: false, but other TLS settings are set")
	}
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		add("TLS.CertFile, TLS.KeyFile: set both or neither")
	}
	switch s.SASL.Mechanism {
	case "":
		if s.SASL.Username != "" || s.SASL.Password != "" {
			add("SASL.Mechanism: empty, but a username or password is set")
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if s.SASL.Username == "" {
			add("SASL.Username: required with SASL %s", s.SASL.Mechanism)
		}
		if s.SASL.Password == "" {
			add("SASL.Password: required with SASL %s", s.SASL.Mechanism)
		}
	default:
		add("SASL.Mechanism: %q is not one of plain, scram-sha-256, scram-sha-512", s.SASL.Mechanism)
	}
	return bad
}

// Config loads the files TLS names; nil when TLS is off. The collector
// connects with the same settings.
func (t TLSSettings) Config() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in, documented on the field
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("TLS.CAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS.CAFile: %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS.CertFile, TLS.KeyFile: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Build returns the SASL mechanism; nil when SASL is off.
func (s SASLSettings) Build() (sasl.Mechanism, error) {
	switch s.Mechanism {
	case SASLPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case SASLScramSHA256, SASLScramSHA512:
		algo := scram.SHA256
		if s.Mechanism == SASLScramSHA512 {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, s.Username, s.Password)
		if err != nil {
			return nil, fmt.Errorf("SASL %s: %w", s.Mechanism, err)
		}
		return m, nil
	}
	return nil, nil
}
