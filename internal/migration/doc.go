// Package migration holds what Tollgate's schema migrators share, whatever
// the database: parsing a migration's file name into its version and name,
// loading a directory of migrations in version order (a repeated version is
// an error), splitting a file into statements, the checksum recorded for an
// applied migration, and comparing the migrations a binary embeds with
// those a database records (applied, pending, modified, unknown).
//
// What differs per database stays with its migrator (schema/cassandra,
// schema/clickhouse): how a line's comments and quotes are read (a
// Dialect's Comment), where and how applied migrations are recorded, and
// the creation of the keyspace or database.
//
// It must never do I/O against a database: it works on files and on the
// records a migrator has already read. The checksum of a migration file
// must never change for a file that is unchanged, since databases keep it
// for every migration they applied.
package migration
