package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runHealth asks a node's status listener whether it is ready: the container
// health check of the distroless image, which has no curl.
func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	s, _, err := loadSettings("health", args, stderr, getenv, nil)
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(s.StatusListen)
	if err != nil {
		return fmt.Errorf("status_listen %q: %w", s.StatusListen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/ready", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("node not reachable on %s: %w", s.StatusListen, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("node not ready: %s", resp.Status)
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}
