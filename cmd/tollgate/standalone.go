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

// loadSettings parses a command's flags and resolves its settings.
func loadSettings(name string, args []string, stderr io.Writer, getenv func(string) string, extra func(*flag.FlagSet)) (Settings, *flag.FlagSet, error) {
	s := DefaultSettings()
	fs := flag.NewFlagSet("tollgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conf string
	s.registerFlags(fs, &conf)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return s, fs, errUsage
	}
	if err := s.load(fs, conf, getenv); err != nil {
		return s, fs, fmt.Errorf("settings: %w", err)
	}
	return s, fs, nil
}

// runStandalone runs a gateway node with the embedded store until ctx ends.
func runStandalone(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	s, _, err := loadSettings("standalone", args, stderr, getenv, nil)
	if err != nil {
		return err
	}
	log := newLogger(stderr, s.LogLevel).With("node_id", s.NodeID)
	st, err := openBoltStore(s.DataDir, log.With("component", "store"))
	if err != nil {
		return err
	}
	n, err := startNode(ctx, s, st, log)
	if err != nil {
		return err
	}
	log.Info("tollgate started",
		"version", version,
		"proxy", strings.Join(addrStrings(n.proxy.Addrs()), ","),
		"admin", listenerAddr(n.adminLn),
		"status", listenerAddr(n.statusLn),
		"data_dir", s.DataDir)
	<-ctx.Done()
	log.Info("shutting down")
	return n.Close()
}

func listenerAddr(l interface{ Addr() net.Addr }) string {
	if l == nil {
		return "off"
	}
	return l.Addr().String()
}
