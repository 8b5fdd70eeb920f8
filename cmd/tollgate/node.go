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
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate/tollgate/gateway/admin"
	"github.com/tollgate/tollgate/gateway/logsink"
	"github.com/tollgate/tollgate/gateway/metrics"
	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/proxy"
	"github.com/tollgate/tollgate/gateway/ratelimit"
	"github.com/tollgate/tollgate/gateway/snapshot"
	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/bolt"
	"github.com/tollgate/tollgate/gateway/upstream"
)

// node is one running gateway: proxy listeners, Admin API, status listener,
// over a config store. Close stops everything it started.
type node struct {
	log      *slog.Logger
	settings Settings
	started  time.Time
	ready    atomic.Bool

	store     store.Store
	parts     nodeParts
	counters  *ratelimit.Local
	upstreams *upstream.Manager
	holder    *snapshot.Holder
	proxy     *proxy.Server
	sink      logsink.Sink
	reqlog    *requestLog // nil when the request log is off
	// analytics serves the analytics API over the embedded store
	// (standalone only; nil when off).
	analytics *analyticsServer

	adminLn, statusLn net.Listener
	adminSrv          *http.Server
	statusSrv         *http.Server
	wg                sync.WaitGroup
	closeOnce         sync.Once
	closeErr          error
}

// openBoltStore opens the standalone config store under the data dir.
func openBoltStore(dataDir string, log *slog.Logger) (*bolt.Store, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, "config.db")
	st, err := bolt.Open(path, bolt.Options{Logger: log, LockTimeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open config store %s: %w", path, err)
	}
	return st, nil
}

// nodeParts are what cluster mode adds to a node; standalone passes none.
type nodeParts struct {
	// shared are the cluster rate-limit counters (plugin.Env.Shared).
	shared ratelimit.Shared
	// clustering answers the Admin API's GET /clustering/status.
	clustering func(context.Context) (any, error)
	// status adds fields to /status.
	status func() map[string]any
	// register adds collectors to the node's metric registry.
	register func(prometheus.Registerer)
	// start runs once the node serves (heartbeats, background syncs).
	start func(n *node) error
	// closers run when the node closes, after its listeners stop and
	// before its store closes, in order.
	closers []func() error
	// requestLog opens the node's log sink; nil leaves the request log
	// off (records are counted and dropped).
	requestLog func(ctx context.Context, m *metrics.Metrics) (*requestLog, error)
}

// startNode starts a node over st, which it owns from then on.
func startNode(ctx context.Context, s Settings, st store.Store, log *slog.Logger, parts nodeParts) (n *node, err error) {
	listeners, err := ParseProxyListen(s.ProxyListen)
	if err != nil {
		st.Close()
		return nil, err
	}
	trusted, err := ParseTrustedIPs(s.TrustedIPs)
	if err != nil {
		st.Close()
		return nil, err
	}
	n = &node{log: log, settings: s, started: time.Now(), store: st, parts: parts}
	defer func() {
		if err != nil {
			n.Close()
			n = nil
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	if parts.register != nil {
		parts.register(reg)
	}

	n.counters = ratelimit.NewLocal(ratelimit.LocalOptions{})
	n.upstreams = upstream.NewManager(upstream.Options{
		Logger:         log.With("component", "upstream"),
		OnHealthChange: m.OnHealthChange,
	})
	plugins := bundledPlugins()
	n.holder = snapshot.NewHolder(st, snapshot.Deps{
		Plugins:   plugins,
		Env:       plugin.Env{Logger: log.With("component", "plugin"), Counters: n.counters, Shared: parts.shared, Now: time.Now},
		Upstreams: n.upstreams,
		Logger:    log.With("component", "snapshot"),
		Metrics:   m,
	})
	if err := n.holder.Start(ctx); err != nil {
		return n, fmt.Errorf("load configuration: %w", err)
	}

	n.sink = &logsink.Discard{}
	if parts.requestLog != nil {
		rl, err := parts.requestLog(ctx, m)
		if err != nil {
			return n, err
		}
		n.reqlog, n.sink = rl, rl.sink
		rl.register(reg)
	}

	pl := make([]proxy.Listener, len(listeners))
	for i, l := range listeners {
		pl[i] = proxy.Listener{Addr: l.Addr, TLS: l.TLS}
	}
	n.proxy, err = proxy.New(proxy.Config{
		Listeners:    pl,
		Snapshots:    n.holder,
		Upstreams:    n.upstreams,
		Sink:         n.sink,
		Metrics:      m,
		Logger:       log.With("component", "proxy"),
		NodeID:       s.NodeID,
		TrustedIPs:   trusted,
		RealIPHeader: s.RealIPHeader,
	})
	if err != nil {
		return n, err
	}
	if err := n.proxy.Start(); err != nil {
		return n, err
	}

	if s.AdminListen != "off" {
		if !s.adminIsLoopback() && s.AdminToken == "" {
			log.Warn("the Admin API listens beyond loopback without a token: anyone who reaches it can change the configuration; set TOLLGATE_ADMIN_TOKEN", "admin_listen", s.AdminListen)
		}
		host, _ := os.Hostname()
		h, err := admin.New(admin.Config{
			Store:      st,
			Plugins:    plugins,
			Token:      s.AdminToken,
			Logger:     log.With("component", "admin"),
			Version:    version,
			NodeID:     s.NodeID,
			Hostname:   host,
			Status:     n.statusFields,
			Health:     n.upstreamHealth,
			Clustering: parts.clustering,
		})
		if err != nil {
			return n, err
		}
		n.adminLn, err = net.Listen("tcp", s.AdminListen)
		if err != nil {
			return n, fmt.Errorf("admin_listen %s: %w", s.AdminListen, err)
		}
		n.adminSrv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		n.serve(n.adminSrv, n.adminLn)
	}

	if s.StatusListen != "off" {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(n.statusFields())
		})
		mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if !n.ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `{"message":"not ready"}`+"\n")
				return
			}
			io.WriteString(w, `{"message":"ready"}`+"\n")
		})
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		// Go's profiler, for diagnosing a live node; the status listener is
		// on loopback by default.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		n.statusLn, err = net.Listen("tcp", s.StatusListen)
		if err != nil {
			return n, fmt.Errorf("status_listen %s: %w", s.StatusListen, err)
		}
		n.statusSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		n.serve(n.statusSrv, n.statusLn)
	}
	if parts.start != nil {
		if err := parts.start(n); err != nil {
			return n, err
		}
	}
	n.ready.Store(true)
	return n, nil
}

func (n *node) serve(srv *http.Server, ln net.Listener) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("listener stopped", "addr", ln.Addr().String(), "error", err)
		}
	}()
}

// statusFields is the node's state, for the status listener and the Admin
// API's GET /status.
func (n *node) statusFields() map[string]any {
	v, at := n.holder.Applied()
	out := map[string]any{
		"node_id":               n.settings.NodeID,
		"version":               version,
		"ready":                 n.ready.Load(),
		"uptime_seconds":        int64(time.Since(n.started).Seconds()),
		"config_version":        v,
		"config_applied_at":     at.UTC().Format(time.RFC3339Nano),
		"log_records_discarded": int64(0),
		"proxy_listeners":       addrStrings(n.proxy.Addrs()),
	}
	if n.proxy != nil {
		out["proxy_listeners"] = addrStrings(n.proxy.Addrs())
		ps := n.proxy.Stats()
		out["server"] = map[string]any{
			"connections_accepted": ps.ConnectionsAccepted,
			"connections_handled":  ps.ConnectionsAccepted,
			"connections_active":   ps.ConnectionsActive,
			"total_requests":       ps.TotalRequests,
		}
	}
	if d, ok := n.sink.(*logsink.Discard); ok {
		out["log_records_discarded"] = d.Count()
	}
	if n.reqlog != nil {
		out["request_log"] = n.reqlog.status()
	}
	if n.parts.status != nil {
		for k, v := range n.parts.status() {
			out[k] = v
		}
	}
	return out
}

func (n *node) upstreamHealth(ws, name string) []admin.TargetHealth {
	var out []admin.TargetHealth
	for _, h := range n.upstreams.Health() {
		if h.Workspace != ws || h.Upstream != name {
			continue
		}
		state := "HEALTHY"
		if !h.Healthy {
			state = "UNHEALTHY"
		}
		out = append(out, admin.TargetHealth{Target: h.Target, Weight: h.Weight, Health: state})
	}
	return out
}

func addrStrings(as []net.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// analyticsAddr is where the node serves the analytics API, or "off".
func (n *node) analyticsAddr() string {
	if n.analytics == nil {
		return "off"
	}
	return n.analytics.Addr().String()
}

// Close stops the node: listeners first (draining in-flight requests for up
// to 10 s), then the config watcher, balancers, counters and the store.
func (n *node) Close() error {
	n.closeOnce.Do(func() {
		n.ready.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var errs []error
		if n.proxy != nil {
			errs = append(errs, n.proxy.Shutdown(ctx))
		}
		for _, srv := range []*http.Server{n.adminSrv, n.statusSrv} {
			if srv != nil {
				errs = append(errs, srv.Shutdown(ctx))
			}
		}
		n.wg.Wait()
		// The analytics API reads the request log's store and the config
		// store: it stops before either closes.
		if n.analytics != nil {
			errs = append(errs, n.analytics.Close())
		}
		if n.holder != nil {
			errs = append(errs, n.holder.Close())
		}
		if n.upstreams != nil {
			errs = append(errs, n.upstreams.Close())
		}
		if n.counters != nil {
			errs = append(errs, n.counters.Close())
		}
		// The proxy has stopped: no record comes after this flush.
		if n.reqlog != nil {
			errs = append(errs, n.reqlog.Close())
		}
		for _, c := range n.parts.closers {
			errs = append(errs, c())
		}
		errs = append(errs, n.store.Close())
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}
