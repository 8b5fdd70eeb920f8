// Package clickhousemigrate creates and upgrades Tollgate's ClickHouse
// schema, the request log's raw table, its rollups and the collector's
// loaded offsets, from the versioned SQL migrations embedded from this
// directory (001_init.sql, 002_….sql), and drops old day partitions for
// retention. `tollgate migrate clickhouse up|status` calls Up and Status.
//
// The directory is schema/clickhouse; the package is named
// clickhousemigrate so that it reads apart from the Cassandra migrator
// beside it (cassandramigrate).
//
// It owns the schema_migrations table of the database it migrates, which
// records the name and checksum of every migration applied and when. Up
// applies what is not recorded yet, in version order, statement by
// statement, and records each migration after its last statement, so a
// migration that failed half way is re-run whole: its statements must be
// safe to run again (CREATE … IF NOT EXISTS; DROP … IF EXISTS; a backfill
// INSERT … SELECT inserts only while its table is empty; a check, SELECT
// throwIf(…), only reads; a RENAME moves only a table the same migration
// creates before it, which the re-run creates again, or swaps such a table
// in for one it moves to a name the migration drops before). A recorded
// migration whose checksum differs
// from the embedded file is an error: applied migrations are never edited;
// a change is a new migration.
//
// File names, statement splitting, checksums and the comparison of files
// with records are internal/migration's, shared with the other migrator;
// this package keeps what is ClickHouse SQL's: comments and quotes, the bookkeeping
// table and the database.
//
// Every statement must run on ClickHouse 18.16 (the tests' server) and on
// current releases; the traps are listed at the top of 001_init.sql.
//
// It must never drop or alter data on its own: DropOlderThan drops
// partitions only when called, and never those of loaded_offsets, which
// the collector's exactly-once loading depends on.
package clickhousemigrate
