package clickhouselocal

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWaitReady(t *testing.T) {
	ping := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ping" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("Ok.\n"))
	}))
	defer ping.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "loading", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	native, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer native.Close()
	closedPort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		return addr
	}()
	exited := make(chan struct{})
	close(exited)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name        string
		ctx         context.Context
		http, tcp   string
		exited      <-chan struct{}
		wantErr     error  // errors.Is
		wantMessage string // or a part of the message
	}{
		{name: "ready", ctx: context.Background(), http: ping.Listener.Addr().String(), tcp: native.Addr().String()},
		{name: "exited", ctx: context.Background(), http: down.Listener.Addr().String(), tcp: native.Addr().String(),
			exited: exited, wantErr: ErrExited},
		{name: "ping fails", ctx: context.Background(), http: down.Listener.Addr().String(), tcp: native.Addr().String(),
			wantMessage: "not answering on " + down.Listener.Addr().String()},
		{name: "native port closed", ctx: context.Background(), http: ping.Listener.Addr().String(), tcp: closedPort,
			wantMessage: "not answering"},
		{name: "context done", ctx: cancelled, http: ping.Listener.Addr().String(), tcp: native.Addr().String(),
			wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WaitReady(tt.ctx, tt.http, tt.tcp, tt.exited, 200*time.Millisecond)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("WaitReady() = %v, want %v", err, tt.wantErr)
				}
			case tt.wantMessage != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantMessage) {
					t.Errorf("WaitReady() = %v, want an error saying %q", err, tt.wantMessage)
				}
			case err != nil:
				t.Errorf("WaitReady() = %v, want nil", err)
			}
		})
	}
}
