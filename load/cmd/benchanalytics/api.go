package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tollgate/tollgate/analytics/api"
	chstore "github.com/tollgate/tollgate/analytics/query/clickhouse"
)

// startAPI serves the analytics API on a loopback port, as `tollgate
// analytics` does: over analytics/query/clickhouse on a connection of its
// own (recorded, for the baselines and the tables read), with the
// directory of the seeded entities, an admin token and a workspace token
// for the busiest workspace.
func (b *bench) startAPI(tr *traffic) error {
	conn, err := b.ch.Open(database)
	if err != nil {
		return err
	}
	b.OnClose(conn.Close)
	b.rec = &recordingConn{Conn: conn}
	b.rollupSettings = chstore.RollupSettings()
	if b.cfg.cache == "off" {
		// The store's statements, and the baselines, as they ran before
		// the store asked for the cache.
		b.rollupSettings["use_uncompressed_cache"] = 0
	}
	store, err := chstore.New(b.rec, database, b.rollupSettings)
	if err != nil {
		return err
	}
	dir := newDirectory(tr)
	b.adminToken = randomToken("bench-admin-")
	b.workspace = tr.workspaces[0].name
	b.wsToken = randomToken("tga_")
	dir.addToken(b.wsToken, api.Token{ID: "bench-token", Name: "bench", Workspace: b.workspace})

	logf, err := os.Create(filepath.Join(b.Dir, "api.log"))
	if err != nil {
		return err
	}
	b.OnClose(logf.Close)
	// Ranges end where the seeded data ends: seeding took a while, or the
	// data was reused from an earlier run, and "the last hour" should be
	// the last hour of traffic. The clock still moves, as a real one does.
	end, where := tr.To(), "where the seeded data ends"
	if !b.cfg.now.IsZero() {
		end, where = b.cfg.now, "at BENCH_NOW="+b.cfg.now.UTC().Format(time.RFC3339)
		if end.Before(tr.from.Add(time.Hour)) || end.After(tr.To()) {
			return fmt.Errorf("BENCH_NOW=%s is not within the seeded window, %s to %s", end.Format(time.RFC3339),
				tr.from.Add(time.Hour).Format(time.RFC3339), tr.To().Format(time.RFC3339))
		}
	}
	lag := max(0, time.Since(end))
	b.Progress("the API's clock runs %v behind, so that ranges end %s", lag.Round(time.Second), where)
	srv, err := api.New(api.Config{
		Store:      store,
		Directory:  dir,
		AdminToken: b.adminToken,
		Logger:     slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Now:        func() time.Time { return time.Now().Add(-lag) },
	})
	if err != nil {
		return fmt.Errorf("analytics api: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("analytics api listen: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	b.OnClose(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := hs.Shutdown(ctx)
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return err
	})
	b.apiURL = "http://" + ln.Addr().String()
	b.Progress("analytics API on %s (log %s)", b.apiURL, logf.Name())
	return nil
}
