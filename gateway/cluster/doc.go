// Package cluster is the node registry of a Tollgate cluster: every gateway
// node heartbeats its row in Cassandra's cluster_nodes table (node id,
// hostname, listen addresses, version, the config version it has applied,
// when it started and when it was last seen) with a TTL, and any node can
// list the live ones for GET /clustering/status.
//
// A node that stops, crashes or loses Cassandra stops heartbeating and its
// row expires after the TTL: nothing is ever deleted, so reads of the
// registry's one partition per cluster meet at most the expired rows of
// nodes that died within gc_grace_seconds, never a tombstone per beat.
//
// It owns the heartbeat goroutine (Start, Close) and the tracking that
// decides when a node lags: a live node lags when its config version is
// below one that the most advanced live node had reported a grace period
// ago (two heartbeats by default). Comparing against the newest maximum
// alone would flag every node for the moment between a write and its next
// heartbeat; comparing against the maximum of a grace period ago flags only
// a node that has not caught up with what the others applied by then, even
// under a steady stream of writes.
//
// It never serves requests, never blocks its caller on Cassandra except in
// Beat, List and the ClusteringStatus built from List (LiveNodes answers
// from memory), never closes the session it is given, and never deletes
// rows.
package cluster
