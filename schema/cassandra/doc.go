// Package cassandramigrate creates and upgrades Tollgate's Cassandra schema:
// the keyspace, with the replication an operator chooses, and the tables of
// the versioned CQL migrations embedded from this directory (001_init.cql,
// 002_….cql). `tollgate migrate cassandra up|status` calls Up and Status.
//
// The directory is schema/cassandra; the package is named cassandramigrate
// so that it reads apart from internal/cassandra (sessions), which it uses,
// and from a ClickHouse migrator beside it.
//
// It owns the schema_migrations table, which records, per component and
// version, the name and checksum of every migration applied and when. Up
// applies what is not recorded yet, in version order, statement by
// statement, and records each migration after its last statement, so a
// migration that failed half way is re-run whole: every statement must be
// idempotent (IF NOT EXISTS). A recorded migration whose checksum differs
// from the embedded file is an error: applied migrations are never edited;
// a change is a new migration.
//
// File names, statement splitting, checksums and the comparison of files
// with records are internal/migration's, shared with the other migrator;
// this package keeps what is CQL's: comments and quotes, the bookkeeping
// table and the keyspace and its replication.
//
// It must never drop or alter data on its own, never change the replication
// of an existing keyspace (ALTER KEYSPACE is an operator's decision, made
// with a repair), and never run on a node's start: gateway nodes expect the
// schema to be there.
package cassandramigrate
