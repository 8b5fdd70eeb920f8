package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/analytics/embedded"
	"github.com/tollgate/tollgate/gateway/logship"
	"github.com/tollgate/tollgate/gateway/metrics"
)

// requestLog is a node's log sink and what it ships to.
type requestLog struct {
	sink  *logship.Sink
	dest  string
	store *embedded.Store  // standalone only
	load  *embedded.Loader // standalone only
	sends prometheus.Histogram
}

// kafkaSinkSettings maps the pipeline settings onto the sink's.
func kafkaSinkSettings(s Settings) logship.Settings {
	p := s.Pipeline
	set := logship.DefaultSettings()
	set.Brokers = p.brokers()
	set.Topic = p.KafkaTopic
	set.ClientID = "tollgate-" + s.NodeID
	set.TLS.Enabled, _ = parseOnOff("kafka_tls", p.KafkaTLS)
	if set.TLS.Enabled {
		verify, _ := parseOnOff("kafka_tls_verify", p.KafkaTLSVerify)
		set.TLS.InsecureSkipVerify = !verify
		set.TLS.CAFile, set.TLS.CertFile, set.TLS.KeyFile = p.KafkaTLSCA, p.KafkaTLSCert, p.KafkaTLSKey
	}
	if p.KafkaSASLMechanism != "" {
		// validate accepts the mechanism in any case; the sink wants it
		// lower case.
		set.SASL = logship.SASLSettings{Mechanism: strings.ToLower(p.KafkaSASLMechanism), Username: p.KafkaSASLUsername, Password: p.KafkaSASLPassword}
	}
	batches, _ := parseOnOff("kafka_record_batches", p.KafkaRecordBatches)
	set.OneRecordPerMessage = !batches
	set.SpoolDir = filepath.Join(s.DataDir, "spool")
	set.SpoolMaxBytes, _ = strconv.ParseInt(p.LogSpoolMaxBytes, 10, 64)
	return set
}

// openKafkaLog opens a cluster node's sink to Kafka.
func openKafkaLog(s Settings, log *slog.Logger, m *metrics.Metrics) (*requestLog, error) {
	set := kafkaSinkSettings(s)
	rl := &requestLog{dest: "kafka", sends: newSendHistogram()}
	sink, err := logship.Open(set, log.With("component", "requestlog"), rl.hooks(m))
	if err != nil {
		return nil, fmt.Errorf("request log: %w", err)
	}
	rl.sink = sink
	return rl, nil
}

// openEmbeddedLog opens a standalone node's sink to its in-process
// collector, which loads the embedded analytics store under the data dir.
func openEmbeddedLog(ctx context.Context, s Settings, log *slog.Logger, m *metrics.Metrics) (*requestLog, error) {
	if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", s.DataDir, err)
	}
	st, err := embedded.Open(ctx, filepath.Join(s.DataDir, "analytics.db"))
	if err != nil {
		return nil, err
	}
	rl := &requestLog{dest: "embedded", store: st, load: embedded.NewLoader(st), sends: newSendHistogram()}
	set := logship.DefaultSettings()
	set.Destination = rl.load
	set.SpoolDir = filepath.Join(s.DataDir, "spool")
	set.SpoolMaxBytes, _ = strconv.ParseInt(s.Pipeline.LogSpoolMaxBytes, 10, 64)
	// Loads are local: a short linger keeps analytics fresh.
	set.Linger = 20 * time.Millisecond
	sink, err := logship.Open(set, log.With("component", "requestlog"), rl.hooks(m))
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("request log: %w", err)
	}
	rl.sink = sink
	return rl, nil
}

func newSendHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tollgate_log_send_seconds",
		Help:    "Time to write one batch of request log records to their destination.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
}

func (rl *requestLog) hooks(m *metrics.Metrics) logship.Hooks {
	return logship.Hooks{
		ObserveSend: func(_ int, took time.Duration, err error) {
			if err == nil {
				rl.sends.Observe(took.Seconds())
			}
		},
		Dropped: m.LogRecordsDropped,
	}
}

// sinkSeries are the sink's Prometheus series, each read from a Stats
// snapshot at scrape time.
var sinkSeries = []struct {
	name, help string
	counter    bool
	value      func(logship.Stats) float64
}{
	{"tollgate_log_queue_records", "Request log records waiting in memory to be sent.", false,
		func(s logship.Stats) float64 { return float64(s.Queued) }},
	{"tollgate_log_spool_records", "Request log records waiting in the on-disk spool.", false,
		func(s logship.Stats) float64 { return float64(s.SpoolRecords) }},
	{"tollgate_log_spool_bytes", "Size of the on-disk request log spool.", false,
		func(s logship.Stats) float64 { return float64(s.SpoolBytes) }},
	{"tollgate_log_spooling", "1 while new request log records go through the spool (destination away or slow).", false,
		func(s logship.Stats) float64 {
			if s.Spooling {
				return 1
			}
			return 0
		}},
	{"tollgate_log_records_sent_total", "Request log records written to their destination.", true,
		func(s logship.Stats) float64 { return float64(s.Sent) }},
	{"tollgate_log_records_spooled_total", "Request log records written to the on-disk spool.", true,
		func(s logship.Stats) float64 { return float64(s.Spooled) }},
	{"tollgate_log_send_errors_total", "Failed writes of request log batches.", true,
		func(s logship.Stats) float64 { return float64(s.SendErrors) }},
}

// register adds the sink's metrics; dropped records are counted by the
// node's tollgate_log_records_dropped_total through the hooks.
func (rl *requestLog) register(reg prometheus.Registerer) {
	reg.MustRegister(rl.sends)
	for _, m := range sinkSeries {
		read := func() float64 { return m.value(rl.sink.Stats()) }
		if m.counter {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help}, read))
		} else {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: m.name, Help: m.help}, read))
		}
	}
}

// status is the request log's part of /status.
func (rl *requestLog) status() map[string]any {
	st := rl.sink.Stats()
	out := map[string]any{
		"destination":   rl.dest,
		"queued":        st.Queued,
		"sent":          st.Sent,
		"spooling":      st.Spooling,
		"spool_records": st.SpoolRecords,
		"spool_bytes":   st.SpoolBytes,
		"dropped":       st.Dropped,
		"send_errors":   st.SendErrors,
	}
	if rl.load != nil {
		ls := rl.load.Stats()
		out["loaded"] = ls.Loaded
		out["duplicates_skipped"] = ls.Duplicates
		out["dead_lettered"] = ls.DeadLettered
	}
	return out
}

// Close flushes the sink (what it cannot send stays in the spool for the
// next start) and closes the embedded store.
func (rl *requestLog) Close() error {
	err := rl.sink.Close()
	if rl.store != nil {
		if cerr := rl.store.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}
