package clickhousemigrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tollgate/tollgate/internal/migration"
)

// Errors.
var (
	// ErrNoDatabase is returned by Status when the database has not been
	// created yet.
	ErrNoDatabase = errors.New("clickhouse schema not created")
	// ErrModified is returned by Up (wrapped, naming the migrations) when a
	// recorded migration's checksum differs from the embedded file's:
	// someone edited a migration after it was applied.
	ErrModified = migration.ErrModified
)

// createMigrationsTable is the bookkeeping table, created before any
// migration runs. Two runs of Up at once may both record a migration;
// ReplacingMergeTree folds the rows and readers keep one per version.
const createMigrationsTable = `CREATE TABLE IF NOT EXISTS %s.schema_migrations (
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime('UTC')
) ENGINE = ReplacingMergeTree()
ORDER BY version`

// MigrationStatus is one migration as Status sees it: applied, pending,
// modified or unknown to this binary.
type MigrationStatus = migration.Status

// databaseName is what Up accepts as a database: a plain identifier, so
// that it can be put into statements unquoted.
var databaseName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// ValidDatabase says name can be used as Tollgate's database: letters,
// digits and _, not starting with a digit, at most 64 characters.
func ValidDatabase(name string) bool { return databaseName.MatchString(name) }

// Up creates database if it does not exist, then applies, in version
// order, every embedded migration that schema_migrations does not record,
// and returns those it applied. It is idempotent: run again, it applies
// nothing. log may be nil.
//
// Up applies nothing when a recorded migration was modified (ErrModified).
// When a statement fails, the migrations applied before it are returned
// with the error; the failed migration is not recorded, so the next Up
// re-runs it from its first statement.
func Up(ctx context.Context, conn driver.Conn, database string, log *slog.Logger) ([]Migration, error) {
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	return up(ctx, conn, database, log, migs)
}

func up(ctx context.Context, conn driver.Conn, db string, log *slog.Logger, migs []Migration) (applied []Migration, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !ValidDatabase(db) {
		return nil, fmt.Errorf("migrate clickhouse: %q is not a valid database name (letters, digits and _, at most 64)", db)
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		return nil, fmt.Errorf("migrate clickhouse: create database %s: %w", db, err)
	}
	if err := conn.Exec(ctx, fmt.Sprintf(createMigrationsTable, db)); err != nil {
		return nil, fmt.Errorf("migrate clickhouse: create %s.schema_migrations: %w", db, err)
	}
	recs, err := readRecords(ctx, conn, db)
	if err != nil {
		return nil, fmt.Errorf("migrate clickhouse: %w", err)
	}
	if err := migration.CheckModified(common(migs), recs); err != nil {
		return nil, fmt.Errorf("migrate clickhouse: %w", err)
	}
	for _, rec := range migration.Unknown(common(migs), recs) {
		log.Warn("database records a migration this binary does not know: a newer tollgate applied it",
			"database", db, "version", rec.Version, "name", rec.Name)
	}

	for _, pm := range migration.Pending(common(migs), recs) {
		m := Migration(pm)
		start := time.Now()
		log.Info("applying migration", "database", db, "migration", m.File, "statements", len(m.Statements))
		stmts := m.In(db)
		for i, stmt := range stmts {
			at := fmt.Sprintf("%d of %d", i+1, len(stmts))
			// A backfill reads every stored request (or a rollup's
			// rows): minutes on a large table, so say what is running.
			filling := fillTarget(stmt)
			if filling != "" {
				var rows uint64
				if err := conn.QueryRow(ctx, "SELECT count() FROM "+filling).Scan(&rows); err == nil && rows > 0 {
					// The statement's own guard skips it, so a failure
					// of it leaves the table as it was.
					log.Info("table already filled; not filling it again", "migration", m.File, "statement", at, "table", filling)
					filling = ""
				} else {
					log.Info("filling a new table from the stored rows; this takes minutes on a large table",
						"migration", m.File, "statement", at, "table", filling)
				}
			}
			stmtStart := time.Now()
			if err := conn.Exec(ctx, stmt); err != nil {
				err = fmt.Errorf("migrate clickhouse: %s statement %d (%s): %w", m.File, i+1, migration.FirstLine(stmt), err)
				if filling != "" {
					// The fill skips a table that has rows, so that a
					// re-run counts nothing twice; a fill cut short
					// leaves some.
					err = fmt.Errorf("%w; %s may be partly filled: run DROP TABLE %s and then up again", err, filling, filling)
				}
				if isCheck(stmt) {
					err = fmt.Errorf("%w; a check of the migration failed: the comment above this statement in %s "+
						"(schema/clickhouse/README.md) says what it checks and what to do", err, m.File)
				}
				return applied, err
			}
			if took := time.Since(stmtStart); took >= time.Second {
				log.Info("statement done", "migration", m.File, "statement", at, "took", took.Round(time.Millisecond))
			}
		}
		if err := insertRecord(ctx, conn, db, m); err != nil {
			return applied, fmt.Errorf("migrate clickhouse: record %s: %w", m.File, err)
		}
		applied = append(applied, m)
		log.Info("applied migration", "database", db, "migration", m.File, "took", time.Since(start).Round(time.Millisecond))
	}
	if len(applied) == 0 {
		log.Info("schema is up to date", "database", db, "migrations", len(migs))
	}
	return applied, nil
}

// insertRecord records m as applied. It goes through a batch with a
// column list: 18.16 hangs on the driver's INSERT … VALUES and fails
// column-less batches.
func insertRecord(ctx context.Context, conn driver.Conn, db string, m Migration) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".schema_migrations (version, name, checksum, applied_at)")
	if err != nil {
		return err
	}
	if err := b.Append(uint32(m.Version), m.Name, m.Checksum, time.Now().UTC()); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}

func readRecords(ctx context.Context, conn driver.Conn, db string) (map[int]migration.Record, error) {
	rows, err := conn.Query(ctx, "SELECT version, name, checksum, applied_at FROM "+db+".schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read %s.schema_migrations: %w", db, err)
	}
	defer rows.Close()
	recs := map[int]migration.Record{}
	for rows.Next() {
		var (
			v   uint32
			rec migration.Record
		)
		if err := rows.Scan(&v, &rec.Name, &rec.Checksum, &rec.AppliedAt); err != nil {
			return nil, fmt.Errorf("read %s.schema_migrations: %w", db, err)
		}
		rec.Version = int(v)
		// Rows not merged yet: keep the first application.
		if prev, ok := recs[rec.Version]; ok && !rec.AppliedAt.Before(prev.AppliedAt) {
			continue
		}
		recs[rec.Version] = rec
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s.schema_migrations: %w", db, err)
	}
	return recs, nil
}

// Status lists every embedded migration, applied or pending, and any
// recorded migration this binary does not embed, in version order. When
// the database does not exist yet, it returns every migration as pending
// with an error wrapping ErrNoDatabase that says to run the migrations.
func Status(ctx context.Context, conn driver.Conn, database string) ([]MigrationStatus, error) {
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	return status(ctx, conn, database, migs)
}

func status(ctx context.Context, conn driver.Conn, db string, migs []Migration) ([]MigrationStatus, error) {
	if !ValidDatabase(db) {
		return nil, fmt.Errorf("migrate clickhouse: %q is not a valid database name", db)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", db).Scan(&n); err != nil {
		return nil, fmt.Errorf("migrate clickhouse: look up database %s: %w", db, err)
	}
	if n == 0 {
		return migration.Statuses(common(migs), nil), fmt.Errorf("%w: database %s does not exist; run `tollgate migrate clickhouse up`", ErrNoDatabase, db)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 'schema_migrations'", db).Scan(&n); err != nil {
		return nil, fmt.Errorf("migrate clickhouse: look up %s.schema_migrations: %w", db, err)
	}
	if n == 0 {
		return migration.Statuses(common(migs), nil), nil
	}
	recs, err := readRecords(ctx, conn, db)
	if err != nil {
		return nil, fmt.Errorf("migrate clickhouse: %w", err)
	}
	return migration.Statuses(common(migs), recs), nil
}

// fillTarget returns the table a statement fills (INSERT INTO table …),
// or "" for any other statement. The migrations' fills copy the stored
// requests (or a rollup's rows) into a new table while it is empty
// (TestFillsAreGuarded).
func fillTarget(stmt string) string {
	if f := strings.Fields(stmt); len(f) > 2 && f[0] == "INSERT" && f[1] == "INTO" {
		return f[2]
	}
	return ""
}

// isCheck says stmt is one of the migrations' checks, a SELECT that
// throws when what a migration has done so far is not what it should be,
// so that the statements after it do not run.
func isCheck(stmt string) bool { return strings.HasPrefix(stmt, "SELECT throwIf(") }
