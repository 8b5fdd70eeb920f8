package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/gateway/cluster"
	"github.com/tollgate/tollgate/gateway/metrics"
	rlcluster "github.com/tollgate/tollgate/gateway/ratelimit/cluster"
	cstore "github.com/tollgate/tollgate/gateway/store/cassandra"
	"github.com/tollgate/tollgate/internal/cassandra"
)

// runGateway runs a cluster node until ctx ends: config from Cassandra
// (served from memory, cached under the data dir), cluster rate-limit
// counters synced in the background, and the node registry.
func runGateway(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	s, rest, err := loadSettings("gateway", args, stderr, getenv, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("gateway takes no arguments, got %q", rest)
	}
	log := newLogger(stderr, s.LogLevel).With("node_id", s.NodeID)
	n, err := startGateway(ctx, s, log)
	if err != nil {
		return err
	}
	log.Info("tollgate gateway started",
		"version", version,
		"proxy", strings.Join(addrStrings(n.proxy.Addrs()), ","),
		"admin", listenerAddr(n.adminLn),
		"status", listenerAddr(n.statusLn),
		"cassandra", s.Cluster.CassandraHosts,
		"keyspace", s.Cluster.CassandraKeyspace)
	<-ctx.Done()
	log.Info("shutting down")
	return n.Close()
}

// startGateway opens the Cassandra-backed parts and starts a node over them.
func startGateway(ctx context.Context, s Settings, log *slog.Logger) (*node, error) {
	cfg, err := s.Cluster.cassandraConfig(true)
	if err != nil {
		return nil, err
	}
	cfg.Logger = log.With("component", "gocql")
	if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", s.DataDir, err)
	}
	cache := filepath.Join(s.DataDir, "config-cache.json")
	st, err := cstore.Open(ctx, cstore.Options{
		Cassandra:    cfg,
		PollInterval: s.Cluster.pollInterval(),
		CachePath:    cache,
		NodeID:       s.NodeID,
		Logger:       log.With("component", "store"),
	})
	if err != nil {
		return nil, fmt.Errorf("open config store: %w", err)
	}

	// One session, opened when Cassandra is first reachable, serves the
	// counters and the registry; the config store keeps its own.
	sessions := cassandra.NewLazy(cfg, time.Second)
	var registry atomic.Pointer[cluster.Registry]
	cm := newClusterMetrics()
	counters := rlcluster.New(rlcluster.Options{
		Session:      sessions.Session,
		NodeID:       s.NodeID,
		SyncInterval: s.Cluster.syncInterval(),
		Logger:       log.With("component", "ratelimit"),
		Metrics:      cm.rateLimitHooks(),
		LiveNodes: func() int {
			if r := registry.Load(); r != nil {
				return r.LiveNodes()
			}
			return 1
		},
	})

	host, _ := os.Hostname()
	parts := nodeParts{
		shared: counters,
		clustering: func(ctx context.Context) (any, error) {
			r := registry.Load()
			if r == nil {
				return nil, fmt.Errorf("the node registry is not running yet")
			}
			return r.ClusteringStatus(ctx)
		},
		status: func() map[string]any {
			ss := st.SyncState()
			rl := counters.Stats()
			out := map[string]any{
				"mode": "cluster",
				"configuration": map[string]any{
					"applied_version":  ss.AppliedVersion,
					"head_version":     ss.HeadVersion,
					"stale":            ss.Stale,
					"last_sync":        timeOrEmpty(ss.LastSync),
					"last_sync_age_ms": ageMillis(ss.LastSync),
					"last_error":       ss.LastError,
					"resyncs":          ss.Resyncs,
					"from_cache":       ss.FromCache,
				},
				"rate_limiting": map[string]any{
					"policy":          "cluster",
					"degraded":        rl.Degraded,
					"syncs":           rl.Syncs,
					"sync_errors":     rl.SyncErrors,
					"cassandra_ops":   rl.Ops,
					"local_decisions": rl.LocalDecisions,
				},
			}
			if r := registry.Load(); r != nil {
				out["cluster"] = map[string]any{
					"name":           r.Cluster(),
					"live_nodes":     r.LiveNodes(),
					"last_heartbeat": timeOrEmpty(r.LastHeartbeat()),
				}
			}
			return out
		},
		register: func(reg prometheus.Registerer) {
			cm.register(reg, st.SyncState)
		},
		start: func(n *node) error {
			// The registry starts once the node has loaded its config, so
			// its first heartbeat reports the version it serves.
			r, err := cluster.NewRegistry(cluster.RegistryOptions{
				Session: sessions.Session,
				Cluster: s.Cluster.ClusterName,
				Node: cluster.NodeInfo{
					ID:          s.NodeID,
					Hostname:    host,
					ProxyListen: strings.Join(addrStrings(n.proxy.Addrs()), ","),
					AdminListen: listenerAddr(n.adminLn),
					Version:     version,
					StartedAt:   n.started,
				},
				ConfigVersion: func() uint64 {
					v, _ := n.holder.Applied()
					return v
				},
				Logger: log.With("component", "registry"),
			})
			if err != nil {
				return err
			}
			r.Start()
			registry.Store(r)
			return nil
		},
		closers: []func() error{
			func() error {
				if r := registry.Load(); r != nil {
					return r.Close()
				}
				return nil
			},
			counters.Close,
			sessions.Close,
		},
	}
	if s.Pipeline.requestLog() {
		parts.requestLog = func(_ context.Context, m *metrics.Metrics) (*requestLog, error) {
			return openKafkaLog(s, log, m)
		}
	}
	return startNode(ctx, s, st, log, parts)
}

func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func ageMillis(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return time.Since(t).Milliseconds()
}
