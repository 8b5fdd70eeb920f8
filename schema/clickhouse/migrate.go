package clickhousemigrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Errors.
var (
	// ErrNoDatabase is returned by Status when the database has not been
	// created yet.
	ErrNoDatabase = errors.New("clickhouse schema not created")
	// ErrModified is returned by Up (wrapped, naming the migrations) when a
	// recorded migration's checksum differs from the embedded file's:
	// someone edited a migration after it was applied.
	ErrModified = errors.New("applied migration modified")
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

// MigrationStatus is one migration as Status sees it.
type MigrationStatus struct {
	Version int
	Name    string
	// Applied says the migration is recorded in schema_migrations, at
	// AppliedAt.
	Applied   bool
	AppliedAt time.Time
	// Modified says the recorded checksum differs from the embedded
	// file's (Up refuses to run then).
	Modified bool
	// Unknown says the migration is recorded but not embedded in this
	// binary: a newer Tollgate applied it.
	Unknown bool
}

// State is "applied", "pending", "modified" or "unknown" (see the fields).
func (s MigrationStatus) State() string {
	switch {
	case s.Unknown:
		return "unknown"
	case s.Modified:
		return "modified"
	case s.Applied:
		return "applied"
	}
	return "pending"
}

// record is a schema_migrations row.
type record struct {
	version   int
	name      string
	checksum  string
	appliedAt time.Time
}

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
	if err := checkModified(migs, recs); err != nil {
		return nil, err
	}
	known := map[int]bool{}
	for _, m := range migs {
		known[m.Version] = true
	}
	for v, rec := range recs {
		if !known[v] {
			log.Warn("database records a migration this binary does not know: a newer tollgate applied it",
				"database", db, "version", v, "name", rec.name)
		}
	}

	for _, m := range migs {
		if _, ok := recs[m.Version]; ok {
			continue
		}
		start := time.Now()
		log.Info("applying migration", "database", db, "migration", m.File, "statements", len(m.Statements))
		for i, stmt := range m.In(db) {
			if err := conn.Exec(ctx, stmt); err != nil {
				return applied, fmt.Errorf("migrate clickhouse: %s statement %d (%s): %w", m.File, i+1, firstLine(stmt), err)
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

func readRecords(ctx context.Context, conn driver.Conn, db string) (map[int]record, error) {
	rows, err := conn.Query(ctx, "SELECT version, name, checksum, applied_at FROM "+db+".schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read %s.schema_migrations: %w", db, err)
	}
	defer rows.Close()
	recs := map[int]record{}
	for rows.Next() {
		var (
			v   uint32
			rec record
		)
		if err := rows.Scan(&v, &rec.name, &rec.checksum, &rec.appliedAt); err != nil {
			return nil, fmt.Errorf("read %s.schema_migrations: %w", db, err)
		}
		rec.version = int(v)
		// Rows not merged yet: keep the first application.
		if prev, ok := recs[rec.version]; ok && !rec.appliedAt.Before(prev.appliedAt) {
			continue
		}
		recs[rec.version] = rec
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s.schema_migrations: %w", db, err)
	}
	return recs, nil
}

// checkModified names every applied migration whose file changed.
func checkModified(migs []Migration, recs map[int]record) error {
	var bad []string
	for _, m := range migs {
		if rec, ok := recs[m.Version]; ok && rec.checksum != m.Checksum {
			bad = append(bad, fmt.Sprintf("%s (recorded checksum %.12s…, file %.12s…)", m.File, rec.checksum, m.Checksum))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("migrate clickhouse: %w: %s; an applied migration must not change: restore it and put the change in a new migration",
		ErrModified, strings.Join(bad, ", "))
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
	pending := func() []MigrationStatus {
		out := make([]MigrationStatus, 0, len(migs))
		for _, m := range migs {
			out = append(out, MigrationStatus{Version: m.Version, Name: m.Name})
		}
		return out
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", db).Scan(&n); err != nil {
		return nil, fmt.Errorf("migrate clickhouse: look up database %s: %w", db, err)
	}
	if n == 0 {
		return pending(), fmt.Errorf("%w: database %s does not exist; run `tollgate migrate clickhouse up`", ErrNoDatabase, db)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 'schema_migrations'", db).Scan(&n); err != nil {
		return nil, fmt.Errorf("migrate clickhouse: look up %s.schema_migrations: %w", db, err)
	}
	if n == 0 {
		return pending(), nil
	}
	recs, err := readRecords(ctx, conn, db)
	if err != nil {
		return nil, fmt.Errorf("migrate clickhouse: %w", err)
	}
	out := make([]MigrationStatus, 0, len(migs))
	known := map[int]bool{}
	for _, m := range migs {
		known[m.Version] = true
		st := MigrationStatus{Version: m.Version, Name: m.Name}
		if rec, ok := recs[m.Version]; ok {
			st.Applied, st.AppliedAt = true, rec.appliedAt
			st.Modified = rec.checksum != m.Checksum
		}
		out = append(out, st)
	}
	for v, rec := range recs {
		if !known[v] {
			out = append(out, MigrationStatus{Version: v, Name: rec.name, Applied: true, AppliedAt: rec.appliedAt, Unknown: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// firstLine shortens a statement for an error message.
func firstLine(stmt string) string {
	if i := strings.IndexByte(stmt, '\n'); i >= 0 {
		return stmt[:i] + " …"
	}
	return stmt
}
