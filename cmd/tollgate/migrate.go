package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/tollgate/tollgate/collector"
	"github.com/tollgate/tollgate/internal/migration"
	cassandramigrate "github.com/tollgate/tollgate/schema/cassandra"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

// migrateReadTimeout is how long the migrate command waits for ClickHouse
// to send anything back.
const migrateReadTimeout = 24 * time.Hour

const migrateUsage = `Usage:
  tollgate migrate cassandra up [flags]       create the keyspace and apply pending migrations
  tollgate migrate cassandra status [flags]   list migrations, applied and pending
  tollgate migrate clickhouse up [flags]      create the request-log database and apply pending migrations
  tollgate migrate clickhouse status [flags]  list migrations, applied and pending
  tollgate migrate clickhouse compact [flags] merge every settled day of the rollups into one part

The keyspace's replication comes from cassandra_repl_strategy,
cassandra_repl_factor and cassandra_data_centers (as in Kong); it is set when
the keyspace is created and never changed afterwards.

compact merges each day partition of the rollups (of hours and longer
periods) that holds several parts, for every day that ended 10 minutes ago
or more: queries over long ranges then read one part per day. A collector
with collector_reconcile_every does this for the days of its window; run
compact once after an upgrade, for the days before.
`

// runMigrate runs `tollgate migrate cassandra up|status`.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) >= 2 && args[0] == "clickhouse" {
		return runMigrateClickHouse(ctx, args[1], args[2:], stdout, stderr, getenv)
	}
	if len(args) < 2 || args[0] != "cassandra" {
		fmt.Fprint(stderr, migrateUsage)
		return errUsage
	}
	action := args[1]
	s, rest, err := loadSettings("migrate cassandra "+action, args[2:], stderr, getenv, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("migrate cassandra %s takes no arguments, got %q", action, rest)
	}
	cfg, err := s.Cluster.cassandraConfig(true)
	if err != nil {
		return err
	}
	log := newLogger(stderr, s.LogLevel).With("component", "migrate")
	switch action {
	case "up":
		r, err := cassandramigrate.NewReplication(s.Cluster.CassandraReplStrategy, s.Cluster.CassandraReplFactor, s.Cluster.CassandraDataCenters)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		applied, err := cassandramigrate.Up(ctx, cfg, r, log)
		if err != nil {
			return fmt.Errorf("migrate cassandra up: %w", err)
		}
		if len(applied) == 0 {
			fmt.Fprintf(stdout, "keyspace %s is up to date\n", cfg.Keyspace)
			return nil
		}
		for _, m := range applied {
			fmt.Fprintf(stdout, "applied %s\n", m.File)
		}
		fmt.Fprintf(stdout, "keyspace %s: %d migration(s) applied\n", cfg.Keyspace, len(applied))
		return nil
	case "status":
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		st, err := cassandramigrate.Status(ctx, cfg)
		if err != nil && !errors.Is(err, cassandramigrate.ErrNoKeyspace) {
			return fmt.Errorf("migrate cassandra status: %w", err)
		}
		printMigrations(stdout, st)
		// A missing keyspace is an answer, not a failure of the command,
		// but the exit status says the schema is not there.
		return err
	}
	fmt.Fprint(stderr, migrateUsage)
	return errUsage
}

// runMigrateClickHouse runs `tollgate migrate clickhouse up|status|compact`.
func runMigrateClickHouse(ctx context.Context, action string, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if action != "up" && action != "status" && action != "compact" {
		fmt.Fprint(stderr, migrateUsage)
		return errUsage
	}
	s, rest, err := loadSettings("migrate clickhouse "+action, args, stderr, getenv, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("migrate clickhouse %s takes no arguments, got %q", action, rest)
	}
	db := s.Pipeline.ClickHouseDatabase
	// The connection starts in "default": the database may not exist yet.
	// An INSERT … SELECT that fills a new table from the stored requests
	// sends nothing back until it is done, which on a large database is
	// many minutes: only a day of silence is taken for a lost server.
	conn, err := clickhouseConn(s, "default", migrateReadTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	log := newLogger(stderr, s.LogLevel).With("component", "migrate")
	switch action {
	case "up":
		// No deadline: a migration that fills a new table from the stored
		// requests runs for minutes on a large database (Ctrl-C stops it).
		applied, err := clickhousemigrate.Up(ctx, conn, db, log)
		if err != nil {
			return fmt.Errorf("migrate clickhouse up on %s: %w", s.Pipeline.ClickHouseAddr, err)
		}
		if len(applied) == 0 {
			fmt.Fprintf(stdout, "database %s is up to date\n", db)
			return nil
		}
		for _, m := range applied {
			fmt.Fprintf(stdout, "applied %s\n", m.File)
		}
		fmt.Fprintf(stdout, "database %s: %d migration(s) applied\n", db, len(applied))
		return nil
	case "compact":
		// No deadline either: a month of a large rollup takes minutes.
		merged, err := clickhousemigrate.Compact(ctx, conn, db, time.Unix(0, 0),
			time.Now().Add(-collector.DefaultReconcileSettle), log)
		fmt.Fprintf(stdout, "database %s: %d partition(s) merged into one part\n", db, len(merged))
		if err != nil {
			return fmt.Errorf("migrate clickhouse compact on %s: %w", s.Pipeline.ClickHouseAddr, err)
		}
		return nil
	default:
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		st, err := clickhousemigrate.Status(ctx, conn, db)
		if err != nil && !errors.Is(err, clickhousemigrate.ErrNoDatabase) {
			return fmt.Errorf("migrate clickhouse status on %s: %w", s.Pipeline.ClickHouseAddr, err)
		}
		printMigrations(stdout, st)
		return err
	}
}

// printMigrations writes the status of each migration as a table.
func printMigrations(w io.Writer, st []migration.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT")
	for _, m := range st {
		at := ""
		if m.Applied {
			at = m.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%03d\t%s\t%s\t%s\n", m.Version, m.Name, m.State(), at)
	}
	tw.Flush()
}
