package clickhouselocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ErrExited is returned by WaitReady when the server process exits before
// it answers.
var ErrExited = errors.New("clickhouse exited while starting")

// pollEvery is the pause between WaitReady's probes.
const pollEvery = 50 * time.Millisecond

// WaitReady waits until a starting server answers: its HTTP interface's
// /ping, which answers once the server has loaded its tables, and then its
// native port. It fails with ErrExited when exited is closed (the caller
// closes it when the process ends), with an error naming httpAddr when
// within passes, and with ctx's error when ctx is done. The caller adds
// the server's log to the error.
func WaitReady(ctx context.Context, httpAddr, tcpAddr string, exited <-chan struct{}, within time.Duration) error {
	// No keep-alive: a probe leaves no idle connection, or goroutine,
	// behind.
	client := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	deadline := time.Now().Add(within)
	var timer *time.Timer
	for {
		// Before each probe too: a ctx cancelled before the call ends
		// it without one.
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if answers(ctx, client, httpAddr, tcpAddr) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clickhouse not answering on %s after %v", httpAddr, within)
		}
		if timer == nil {
			timer = time.NewTimer(pollEvery)
			defer timer.Stop()
		} else {
			timer.Reset(pollEvery)
		}
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// answers says /ping answers 200 and the native port takes a connection.
func answers(ctx context.Context, client *http.Client, httpAddr, tcpAddr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/ping", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	c, err := net.DialTimeout("tcp", tcpAddr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
