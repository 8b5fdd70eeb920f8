package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/analytics/query/sqlite"
	"github.com/tollgate/tollgate/gateway/metrics"
)

var errUsage = errors.New("usage")

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch level {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// loadSettings parses a command's flags, which may stand before or after its
// arguments ("export FILE --format json"), and resolves its settings; it
// returns the arguments that are not flags.
func loadSettings(name string, args []string, stderr io.Writer, getenv func(string) string, extra func(*flag.FlagSet)) (Settings, []string, error) {
	s := DefaultSettings()
	fs := flag.NewFlagSet("tollgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conf string
	s.registerFlags(fs, &conf)
	if extra != nil {
		extra(fs)
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return s, nil, errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if err := s.load(fs, conf, getenv); err != nil {
		return s, nil, fmt.Errorf("settings: %w", err)
	}
	return s, positional, nil
}

// runStandalone runs a gateway node with the embedded store until ctx ends.
func runStandalone(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	s, rest, err := loadSettings("standalone", args, stderr, getenv, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("standalone takes no arguments, got %q", rest)
	}
	log := newLogger(stderr, s.LogLevel).With("node_id", s.NodeID)
	st, err := openBoltStore(s.DataDir, log.With("component", "store"))
	if err != nil {
		return err
	}
	n, err := startNode(ctx, s, st, log, standaloneParts(ctx, s, log))
	if err != nil {
		return err
	}
	log.Info("tollgate started",
		"version", version,
		"proxy", strings.Join(addrStrings(n.proxy.Addrs()), ","),
		"admin", listenerAddr(n.adminLn),
		"status", listenerAddr(n.statusLn),
		"analytics", n.analyticsAddr(),
		"data_dir", s.DataDir)
	<-ctx.Done()
	log.Info("shutting down")
	return n.Close()
}

// standaloneParts are what a standalone node adds: the request log loaded
// by an in-process collector into the embedded analytics store, and the
// analytics API and dashboard over that store (unless request_log or
// analytics_listen is off).
func standaloneParts(ctx context.Context, s Settings, log *slog.Logger) nodeParts {
	var p nodeParts
	if !s.Pipeline.requestLog() {
		if s.AnalyticsListen != "off" {
			log.Warn("analytics is off because request_log is off: there is nothing to show")
		}
		return p
	}
	p.requestLog = func(ctx context.Context, m *metrics.Metrics) (*requestLog, error) {
		return openEmbeddedLog(ctx, s, log, m)
	}
	if s.AnalyticsListen == "off" {
		return p
	}
	var am *analyticsMetrics
	p.register = func(reg prometheus.Registerer) { am = newAnalyticsMetrics(reg) }
	p.start = func(n *node) error {
		a, err := startAnalytics(ctx, s, n.store, sqlite.New(n.reqlog.store.DB()), am, log.With("component", "analytics"))
		if err != nil {
			return err
		}
		n.analytics = a
		return nil
	}
	return p
}

func listenerAddr(l interface{ Addr() net.Addr }) string {
	if l == nil {
		return "off"
	}
	return l.Addr().String()
}
