package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate/tollgate/analytics/api"
	"github.com/tollgate/tollgate/analytics/dashboard"
	"github.com/tollgate/tollgate/analytics/directory"
	"github.com/tollgate/tollgate/analytics/query"
	chquery "github.com/tollgate/tollgate/analytics/query/clickhouse"
	"github.com/tollgate/tollgate/gateway/store"
	cstore "github.com/tollgate/tollgate/gateway/store/cassandra"
)

// analyticsMetrics count the analytics API's requests.
type analyticsMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newAnalyticsMetrics(reg prometheus.Registerer) *analyticsMetrics {
	m := &analyticsMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_analytics_requests_total", Help: "Analytics API requests, by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tollgate_analytics_request_seconds", Help: "Time to answer an analytics API request, by endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10),
		}, []string{"endpoint"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// endpoint is the metrics label of a request's path: the API endpoints by
// name, everything else (dashboard assets, unknown paths) as one of two
// labels, so that callers cannot grow the label set.
func endpoint(path string) string {
	switch path {
	case "/v1/series", "/v1/breakdown", "/v1/top", "/v1/recent", "/v1/usage", "/v1/whoami", "/v1/entities",
		"/openapi.json", "/healthz":
		return path
	}
	if strings.HasPrefix(path, "/v1/") {
		return "other"
	}
	return "dashboard"
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (m *analyticsMetrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		ep := endpoint(r.URL.Path)
		m.requests.WithLabelValues(ep, strconv.Itoa(rec.code)).Inc()
		m.duration.WithLabelValues(ep).Observe(time.Since(start).Seconds())
	})
}

// analyticsServer is the analytics API and dashboard on their listener,
// with the directory of tokens and names it reads.
type analyticsServer struct {
	dir *directory.Directory
	ln  net.Listener
	srv *http.Server
}

// startAnalytics serves the analytics API over qs on s.AnalyticsListen,
// with tokens and names from the config store st.
func startAnalytics(ctx context.Context, s Settings, st store.Store, qs query.Store, m *analyticsMetrics, log *slog.Logger) (*analyticsServer, error) {
	dir, err := directory.New(ctx, st, log.With("component", "directory"))
	if err != nil {
		return nil, fmt.Errorf("analytics: %w", err)
	}
	h, err := api.New(api.Config{Store: qs, Directory: dir, AdminToken: s.AdminToken, Dashboard: dashboard.FS(), Logger: log})
	if err != nil {
		dir.Close()
		return nil, fmt.Errorf("analytics: %w", err)
	}
	ln, err := net.Listen("tcp", s.AnalyticsListen)
	if err != nil {
		dir.Close()
		return nil, fmt.Errorf("analytics_listen %s: %w", s.AnalyticsListen, err)
	}
	a := &analyticsServer{dir: dir, ln: ln, srv: &http.Server{
		Handler:           m.instrument(h),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
	go a.srv.Serve(ln)
	return a, nil
}

// Addr is where the analytics API listens.
func (a *analyticsServer) Addr() net.Addr { return a.ln.Addr() }

// Close stops serving, letting requests in flight finish for a few
// seconds, and stops the directory.
func (a *analyticsServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := a.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = a.srv.Close()
	}
	return errors.Join(err, a.dir.Close())
}

// runAnalytics runs `tollgate analytics` until ctx ends: the analytics API
// and dashboard over ClickHouse, with tokens and names from the config in
// Cassandra, and /status, /ready and /metrics on the status listener.
func runAnalytics(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	s, rest, err := loadSettings("analytics", args, stderr, getenv, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("analytics takes no arguments, got %q", rest)
	}
	if s.AnalyticsListen == "off" {
		return errors.New("analytics_listen is off: set it to the address the analytics API should listen on")
	}
	log := newLogger(stderr, s.LogLevel).With("component", "analytics", "node_id", s.NodeID)

	cfg, err := s.Cluster.cassandraConfig(true)
	if err != nil {
		return err
	}
	cfg.Logger = log.With("component", "gocql")
	if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir %s: %w", s.DataDir, err)
	}
	// The config cache lets the service start, with the names and tokens
	// it last saw, while Cassandra is away.
	st, err := cstore.Open(ctx, cstore.Options{
		Cassandra:    cfg,
		PollInterval: s.Cluster.pollInterval(),
		CachePath:    filepath.Join(s.DataDir, "analytics-config-cache.json"),
		NodeID:       s.NodeID,
		Logger:       log.With("component", "store"),
	})
	if err != nil {
		return fmt.Errorf("open config store: %w", err)
	}
	defer st.Close()

	conn, err := clickhouseConn(s, s.Pipeline.ClickHouseDatabase, queryReadTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	qs, err := chquery.New(conn, s.Pipeline.ClickHouseDatabase, chquery.RollupSettings())
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a, err := startAnalytics(ctx, s, st, qs, newAnalyticsMetrics(reg), log)
	if err != nil {
		return err
	}
	defer a.Close()

	if s.StatusListen != "off" {
		ln, err := net.Listen("tcp", s.StatusListen)
		if err != nil {
			return fmt.Errorf("status_listen %s: %w", s.StatusListen, err)
		}
		srv := &http.Server{Handler: analyticsStatus(a, st, time.Now(), reg, func(ctx context.Context) error {
			return conn.Ping(ctx)
		}), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
	}
	log.Info("tollgate analytics started", "version", version, "analytics", a.Addr().String(),
		"clickhouse", s.Pipeline.ClickHouseAddr, "database", s.Pipeline.ClickHouseDatabase,
		"cassandra", s.Cluster.CassandraHosts, "status", s.StatusListen)
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

// analyticsStatus serves the analytics service's /status, /ready (ready
// while ClickHouse answers a ping) and /metrics.
func analyticsStatus(a *analyticsServer, st *cstore.Store, started time.Time, reg *prometheus.Registry, ping func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	pingErr := func(r *http.Request) string {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ping(ctx); err != nil {
			return err.Error()
		}
		return ""
	}
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		ss := st.SyncState()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"component": "analytics", "version": version,
			"listen":           a.Addr().String(),
			"uptime_s":         int64(time.Since(started).Seconds()),
			"clickhouse_error": pingErr(r),
			"configuration": map[string]any{
				"applied_version": ss.AppliedVersion, "stale": ss.Stale,
				"last_sync": timeOrEmpty(ss.LastSync), "last_error": ss.LastError, "from_cache": ss.FromCache,
			},
		})
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if e := pingErr(r); e != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]string{"message": "not ready: clickhouse " + e})
			return
		}
		io.WriteString(w, `{"message":"ready"}`+"\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}
