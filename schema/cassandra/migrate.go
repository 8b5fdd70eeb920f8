package cassandramigrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/internal/cassandra"
	"github.com/tollgate/tollgate/internal/migration"
)

// Errors.
var (
	// ErrNoKeyspace is returned by Status when the keyspace has not been
	// created yet.
	ErrNoKeyspace = errors.New("cassandra schema not created")
	// ErrModified is returned by Up (wrapped, naming the migrations) when a
	// recorded migration's checksum differs from the embedded file's:
	// someone edited a migration after it was applied.
	ErrModified = migration.ErrModified
)

// createMigrationsTable is the bookkeeping table, created before any
// migration runs. One partition per component keeps every read of it a
// single-partition read.
const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    component  text,
    version    int,
    name       text,
    checksum   text,
    applied_at timestamp,
    PRIMARY KEY (component, version)
)`

// MigrationStatus is one migration as Status sees it: applied, pending,
// modified or unknown to this binary.
type MigrationStatus = migration.Status

// Up creates cfg.Keyspace with replication r if it does not exist, then
// applies, in version order, every embedded migration that
// schema_migrations does not record, and returns those it applied. It is
// idempotent: run again, it applies nothing. The replication of an
// existing keyspace is left as it is (a differing r is logged). log may be
// nil.
//
// Up applies nothing when a recorded migration was modified (ErrModified).
// When a statement fails, the migrations applied before it are returned
// with the error; the failed migration is not recorded, so the next Up
// re-runs it from its first statement.
func Up(ctx context.Context, cfg cassandra.Config, r Replication, log *slog.Logger) ([]Migration, error) {
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	return up(ctx, cfg, r, log, migs)
}

func up(ctx context.Context, cfg cassandra.Config, r Replication, log *slog.Logger, migs []Migration) (applied []Migration, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ks := cfg.Keyspace
	if ks == "" {
		return nil, errors.New("migrate cassandra: no keyspace configured")
	}
	if !cassandra.ValidKeyspace(ks) {
		return nil, fmt.Errorf("migrate cassandra: %q is not a valid keyspace name (letters, digits and _, at most 48)", ks)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("migrate cassandra: %w", err)
	}

	if err := createKeyspace(ctx, cfg, r, log); err != nil {
		return nil, err
	}

	s, err := cassandra.Connect(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("migrate cassandra: %w", err)
	}
	defer s.Close()

	if err := s.Query(createMigrationsTable).WithContext(ctx).Exec(); err != nil {
		return nil, fmt.Errorf("migrate cassandra: create schema_migrations in %s: %w", ks, err)
	}
	recs, err := readRecords(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("migrate cassandra: %w", err)
	}
	if err := migration.CheckModified(migs, recs); err != nil {
		return nil, fmt.Errorf("migrate cassandra: %w", err)
	}
	for _, rec := range migration.Unknown(migs, recs) {
		log.Warn("keyspace records a migration this binary does not know: a newer tollgate applied it",
			"keyspace", ks, "version", rec.Version, "name", rec.Name)
	}

	for _, m := range migration.Pending(migs, recs) {
		start := time.Now()
		log.Info("applying migration", "keyspace", ks, "migration", m.File, "statements", len(m.Statements))
		for i, stmt := range m.Statements {
			if err := s.Query(stmt).WithContext(ctx).Exec(); err != nil {
				return applied, fmt.Errorf("migrate cassandra: %s statement %d (%s): %w", m.File, i+1, migration.FirstLine(stmt), err)
			}
		}
		err := s.Query(`INSERT INTO schema_migrations (component, version, name, checksum, applied_at) VALUES (?, ?, ?, ?, ?)`,
			Component, m.Version, m.Name, m.Checksum, time.Now().UTC()).WithContext(ctx).Exec()
		if err != nil {
			return applied, fmt.Errorf("migrate cassandra: record %s: %w", m.File, err)
		}
		applied = append(applied, m)
		log.Info("applied migration", "keyspace", ks, "migration", m.File, "took", time.Since(start).Round(time.Millisecond))
	}
	if len(applied) == 0 {
		log.Info("schema is up to date", "keyspace", ks, "migrations", len(migs))
	}
	return applied, nil
}

// createKeyspace runs CREATE KEYSPACE IF NOT EXISTS over a session that
// names no keyspace (one that does would fail to connect).
func createKeyspace(ctx context.Context, cfg cassandra.Config, r Replication, log *slog.Logger) error {
	noKS := cfg
	noKS.Keyspace = ""
	s, err := cassandra.Connect(ctx, noKS)
	if err != nil {
		return fmt.Errorf("migrate cassandra: %w", err)
	}
	defer s.Close()
	exists, err := keyspaceExists(ctx, s, cfg.Keyspace)
	if err != nil {
		return fmt.Errorf("migrate cassandra: %w", err)
	}
	if exists {
		have, err := keyspaceReplication(ctx, s, cfg.Keyspace)
		switch {
		case err != nil:
			log.Warn("keyspace exists; cannot read its replication", "keyspace", cfg.Keyspace, "err", err)
		case !have.equal(r):
			log.Warn("keyspace exists with another replication, left as it is: change it with ALTER KEYSPACE, then run a repair",
				"keyspace", cfg.Keyspace, "replication", have.String(), "asked", r.String())
		default:
			log.Info("keyspace exists", "keyspace", cfg.Keyspace, "replication", have.String())
		}
		return nil
	}
	stmt := fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s", cfg.Keyspace, r.CQL())
	if err := s.Query(stmt).WithContext(ctx).Exec(); err != nil {
		return fmt.Errorf("migrate cassandra: create keyspace %s: %w", cfg.Keyspace, err)
	}
	log.Info("created keyspace", "keyspace", cfg.Keyspace, "replication", r.String())
	return nil
}

// keyspaceExists asks system_schema, which Cassandra 3.0 and later keep.
func keyspaceExists(ctx context.Context, s *gocql.Session, ks string) (bool, error) {
	var name string
	err := s.Query(`SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?`, ks).
		WithContext(ctx).Scan(&name)
	if errors.Is(err, gocql.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up keyspace %s: %w", ks, err)
	}
	return true, nil
}

// keyspaceReplication reads a keyspace's replication from system_schema,
// where class is the strategy's full Java name.
func keyspaceReplication(ctx context.Context, s *gocql.Session, ks string) (Replication, error) {
	var m map[string]string
	err := s.Query(`SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?`, ks).
		WithContext(ctx).Scan(&m)
	if err != nil {
		return Replication{}, fmt.Errorf("read replication of %s: %w", ks, err)
	}
	return replicationFromMap(m)
}

func readRecords(ctx context.Context, s *gocql.Session) (map[int]migration.Record, error) {
	recs, err := scanRecords(s.Query(`SELECT version, name, checksum, applied_at FROM schema_migrations WHERE component = ?`, Component).
		WithContext(ctx).Iter())
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return recs, nil
}

func scanRecords(iter *gocql.Iter) (map[int]migration.Record, error) {
	recs := map[int]migration.Record{}
	var rec migration.Record
	for iter.Scan(&rec.Version, &rec.Name, &rec.Checksum, &rec.AppliedAt) {
		recs[rec.Version] = rec
	}
	return recs, iter.Close()
}

// Status lists every embedded migration, applied or pending, and any
// recorded migration this binary does not embed, in version order. When
// the keyspace does not exist yet, it returns every migration as pending
// with an error wrapping ErrNoKeyspace that says to run the migrations.
func Status(ctx context.Context, cfg cassandra.Config) ([]MigrationStatus, error) {
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	return status(ctx, cfg, migs)
}

func status(ctx context.Context, cfg cassandra.Config, migs []Migration) ([]MigrationStatus, error) {
	ks := cfg.Keyspace
	if ks == "" || !cassandra.ValidKeyspace(ks) {
		return nil, fmt.Errorf("migrate cassandra: %q is not a valid keyspace name", ks)
	}
	noKS := cfg
	noKS.Keyspace = ""
	s, err := cassandra.Connect(ctx, noKS)
	if err != nil {
		return nil, fmt.Errorf("migrate cassandra: %w", err)
	}
	defer s.Close()
	exists, err := keyspaceExists(ctx, s, ks)
	if err != nil {
		return nil, fmt.Errorf("migrate cassandra: %w", err)
	}
	if !exists {
		return migration.Statuses(migs, nil), fmt.Errorf("%w: keyspace %s does not exist; run `tollgate migrate cassandra up`", ErrNoKeyspace, ks)
	}
	recs, err := readQualified(ctx, s, ks)
	if err != nil {
		return nil, fmt.Errorf("migrate cassandra: %w", err)
	}
	if recs == nil {
		return migration.Statuses(migs, nil), nil
	}
	return migration.Statuses(migs, recs), nil
}

// readQualified reads ks.schema_migrations over a session without a
// keyspace (so that Status needs no second connection). It returns nil
// records when the table does not exist yet: the keyspace was created by
// hand or Up stopped before creating it.
func readQualified(ctx context.Context, s *gocql.Session, ks string) (map[int]migration.Record, error) {
	exists, err := tableExists(ctx, s, ks, "schema_migrations")
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, nil
	}
	recs, err := scanRecords(s.Query(`SELECT version, name, checksum, applied_at FROM `+ks+`.schema_migrations WHERE component = ?`, Component).
		WithContext(ctx).Iter())
	if err != nil {
		return nil, fmt.Errorf("read %s.schema_migrations: %w", ks, err)
	}
	return recs, nil
}

func tableExists(ctx context.Context, s *gocql.Session, ks, table string) (bool, error) {
	var name string
	err := s.Query(`SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?`, ks, table).
		WithContext(ctx).Scan(&name)
	if errors.Is(err, gocql.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up table %s.%s: %w", ks, table, err)
	}
	return true, nil
}
