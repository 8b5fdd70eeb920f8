// Package cqlserver is an in-memory server speaking the Cassandra native
// protocol v4, for tests: they start it in-process and connect to it with
// gocql exactly as to a single Cassandra node. It is test infrastructure,
// not a product: no durability, no replication, no authentication, one
// lock around all data.
//
// It owns the keyspaces, tables and rows written to it, for as long as the
// Server lives; Stop and Listen simulate the node going away and coming
// back with its data. It understands the subset of CQL Tollgate's
// Cassandra code uses: CREATE/DROP KEYSPACE and TABLE, ALTER TABLE
// ADD/DROP, TRUNCATE, USE, INSERT, UPDATE and DELETE (with USING TTL and
// lightweight transactions: IF NOT EXISTS, IF EXISTS, IF col = ?), SELECT
// by partition key with clustering ranges, ORDER BY and LIMIT, BATCH,
// prepared statements and paging, plus the system tables drivers read.
//
// It must never accept a statement it does not implement: anything else
// is answered with an error naming the unsupported construct, so that a
// test fails loudly instead of passing against behaviour Cassandra does
// not have. Consistency levels are accepted and ignored.
package cqlserver
