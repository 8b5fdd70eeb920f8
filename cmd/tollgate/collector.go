package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate/tollgate/collector"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

// collectorConfig maps the settings onto the collector's.
func collectorConfig(s Settings) (collector.Config, error) {
	p := s.Pipeline
	cfg := collector.DefaultConfig()
	cfg.Brokers = p.brokers()
	cfg.Topic = p.KafkaTopic
	cfg.GroupID = p.CollectorGroup
	cfg.DeadLetterTopic = p.deadLetterTopic()
	ks := kafkaSinkSettings(s)
	tlsCfg, err := ks.TLS.Config()
	if err != nil {
		return cfg, fmt.Errorf("kafka_tls: %w", err)
	}
	cfg.KafkaTLS = tlsCfg
	if cfg.KafkaSASL, err = ks.SASL.Build(); err != nil {
		return cfg, fmt.Errorf("kafka_sasl_mechanism: %w", err)
	}
	cfg.ClickHouseAddr = p.ClickHouseAddr
	cfg.ClickHouseDatabase = p.ClickHouseDatabase
	cfg.ClickHouseUsername = p.ClickHouseUsername
	cfg.ClickHousePassword = p.ClickHousePassword
	cfg.BatchRows, _ = strconv.Atoi(p.CollectorBatchRows)
	cfg.BatchInterval, _ = parseInterval(p.CollectorBatchTime)
	cfg.InsertCompression = p.CollectorInsertCompression
	cfg.ReconcileEvery, _ = p.reconcileEvery()
	cfg.ReconcileWindow, _ = parseInterval(p.CollectorReconcileWindow)
	return cfg, cfg.Validate()
}

// collectorMetrics are the collector's Prometheus series.
type collectorMetrics struct {
	consumed     *prometheus.CounterVec
	inserted     prometheus.Counter
	dead         *prometheus.CounterVec
	duplicates   prometheus.Counter
	insertErrors prometheus.Counter
	batchRows    prometheus.Histogram
	insertTime   prometheus.Histogram
	lag          *prometheus.GaugeVec
	rebuilt      *prometheus.CounterVec
	reconciles   *prometheus.CounterVec
	compacted    prometheus.Counter
}

func newCollectorMetrics(reg prometheus.Registerer) *collectorMetrics {
	m := &collectorMetrics{
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_collector_consumed_total", Help: "Records read from Kafka, by partition.",
		}, []string{"partition"}),
		inserted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_collector_inserted_total", Help: "Rows ClickHouse acknowledged.",
		}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_collector_dead_lettered_total", Help: "Records sent to the dead-letter topic, by reason.",
		}, []string{"reason"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_collector_duplicates_skipped_total", Help: "Records not inserted because ClickHouse already had them.",
		}),
		insertErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_collector_insert_errors_total", Help: "Failed ClickHouse insert attempts (retried).",
		}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tollgate_collector_batch_rows", Help: "Rows per inserted batch.",
			Buckets: prometheus.ExponentialBuckets(10, 4, 8),
		}),
		insertTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tollgate_collector_insert_seconds", Help: "Time to insert one batch, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tollgate_collector_lag_messages", Help: "Kafka messages (each a batch of records) behind the partition's high watermark.",
		}, []string{"partition"}),
	}
	m.rebuilt = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_collector_rollup_hours_rebuilt_total", Help: "Rollup hours rebuilt from the raw table by reconciliation, by table.",
	}, []string{"table"})
	m.reconciles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_collector_reconciles_total", Help: "Reconciliation runs, by result (ok or error).",
	}, []string{"result"})
	m.compacted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tollgate_collector_partitions_compacted_total", Help: "Settled day partitions of rollups merged into one part after reconciliation.",
	})
	reg.MustRegister(m.consumed, m.inserted, m.dead, m.duplicates, m.insertErrors, m.batchRows, m.insertTime, m.lag, m.rebuilt, m.reconciles, m.compacted)
	return m
}

func (m *collectorMetrics) hooks() collector.Hooks {
	return collector.Hooks{
		Consumed: func(p, n int) { m.consumed.WithLabelValues(strconv.Itoa(p)).Add(float64(n)) },
		BatchInserted: func(rows int, took time.Duration) {
			m.inserted.Add(float64(rows))
			m.batchRows.Observe(float64(rows))
			m.insertTime.Observe(took.Seconds())
		},
		InsertFailed:      func(error) { m.insertErrors.Inc() },
		DeadLettered:      func(reason string) { m.dead.WithLabelValues(reason).Inc() },
		DuplicatesSkipped: func(n int) { m.duplicates.Add(float64(n)) },
		Lag:               func(p int, lag int64) { m.lag.WithLabelValues(strconv.Itoa(p)).Set(float64(lag)) },
		PeriodRebuilt:     func(table string) { m.rebuilt.WithLabelValues(table).Inc() },
		Reconciled: func(_ collector.Report, err error) {
			result := "ok"
			if err != nil {
				result = "error"
			}
			m.reconciles.WithLabelValues(result).Inc()
		},
		Compacted: func(n int, _ error) { m.compacted.Add(float64(n)) },
	}
}

// runCollector runs `tollgate collector` until ctx ends: a member of the
// collectors' consumer group loading the request log into ClickHouse, with
// /status, /ready and /metrics on the status listener, and retention on a
// schedule when clickhouse_retention is set.
func runCollector(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	s, rest, err := loadSettings("collector", args, stderr, getenv, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("collector takes no arguments, got %q", rest)
	}
	cfg, err := collectorConfig(s)
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	log := newLogger(stderr, s.LogLevel).With("component", "collector", "node_id", s.NodeID)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newCollectorMetrics(reg)
	c, err := collector.New(cfg, log, m.hooks())
	if err != nil {
		return err
	}
	defer c.Close()

	var running atomic.Bool
	if s.StatusListen != "off" {
		ln, err := net.Listen("tcp", s.StatusListen)
		if err != nil {
			return fmt.Errorf("status_listen %s: %w", s.StatusListen, err)
		}
		srv := &http.Server{Handler: collectorStatus(c, &running, reg), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if days, _ := s.Pipeline.retention(); days > 0 {
		go runRetention(ctx, s, time.Duration(days)*24*time.Hour, log)
	}
	log.Info("tollgate collector started", "version", version, "brokers", cfg.Brokers, "topic", cfg.Topic,
		"group", cfg.GroupID, "clickhouse", cfg.ClickHouseAddr, "database", cfg.ClickHouseDatabase, "status", s.StatusListen)
	running.Store(true)
	err = c.Run(ctx)
	running.Store(false)
	log.Info("collector stopped", "stats", c.Stats())
	return err
}

func collectorStatus(c *collector.Collector, running *atomic.Bool, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		st := c.Stats()
		json.NewEncoder(w).Encode(map[string]any{
			"component": "collector", "version": version, "running": running.Load(),
			"consumed": st.Consumed, "inserted": st.Inserted, "dead_lettered": st.DeadLettered,
			"duplicates_skipped": st.DuplicatesSkipped, "batches": st.Batches, "insert_errors": st.InsertErrors,
			"generations": st.Generations, "last_batch_rows": st.LastBatchRows,
			"last_insert_ms": st.LastInsert.Milliseconds(), "lag": st.Lag,
			"partitions_compacted": st.PartitionsCompacted, "compact_errors": st.CompactErrors,
		})
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !running.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"message":"not ready"}`+"\n")
			return
		}
		io.WriteString(w, `{"message":"ready"}`+"\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

// queryReadTimeout is how long the analytics service and retention wait
// for ClickHouse to send anything back.
const queryReadTimeout = 5 * time.Minute

// clickhouseConn opens a native-protocol connection with the settings'
// credentials to database. A statement that sends nothing back for
// readTimeout fails.
func clickhouseConn(s Settings, database string, readTimeout time.Duration) (driver.Conn, error) {
	p := s.Pipeline
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:    clickhouse.Native,
		Addr:        []string{p.ClickHouseAddr},
		Auth:        clickhouse.Auth{Database: database, Username: p.ClickHouseUsername, Password: p.ClickHousePassword},
		DialTimeout: 5 * time.Second,
		ReadTimeout: readTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", p.ClickHouseAddr, err)
	}
	return conn, nil
}

// runRetention drops request-log partitions older than age once an hour.
func runRetention(ctx context.Context, s Settings, age time.Duration, log *slog.Logger) {
	conn, err := clickhouseConn(s, s.Pipeline.ClickHouseDatabase, queryReadTimeout)
	if err != nil {
		log.Error("retention disabled", "err", err)
		return
	}
	defer conn.Close()
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		dropped, err := clickhousemigrate.DropOlderThan(ctx, conn, s.Pipeline.ClickHouseDatabase, age)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("retention: dropping old partitions failed; retrying in an hour", "err", err)
		case len(dropped) > 0:
			log.Info("retention: dropped old partitions", "partitions", len(dropped), "older_than", age.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
