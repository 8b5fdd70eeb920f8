// Package cassandra is the cluster config store: every gateway node keeps
// the whole config in memory and shares it with the others through
// Cassandra's entities, config_changes and config_head tables
// (schema/cassandra/001_init.cql, whose comments are the contract).
//
// It owns the node's mirror of the config, the sync goroutine that keeps it
// current, the cache file, and the rows it writes in those three tables. It
// passes the conformance suite in storetest. It must never make the request
// path wait on Cassandra: a gateway reads Snapshot after a Subscribe
// signal, and a Snapshot taken while Cassandra is away answers from the
// mirror. It never validates entities beyond their identity.
//
// # Writes: a change log sequenced by lightweight transactions
//
// A write (Create, Update, Delete, Replace) first syncs the mirror, checks
// ids and unique keys against it (names, usernames, credential keys: the
// same checks and errors as memstore), then commits the change as version
// v = applied+1:
//
//	INSERT INTO config_changes (...) VALUES (...) IF NOT EXISTS USING TTL ?
//
// in partition bucket = v/1024. Of the nodes that checked against version
// v-1, exactly one claims v; the others catch up and check again (at most
// 20 attempts, with jittered backoff), so uniqueness holds under concurrent
// writers on different nodes and versions are contiguous. The change row
// carries the entity's JSON (Replace: a JSON array of {kind, id, entity}
// for every entity of the workspace).
//
// After the commit the writer applies the change to its mirror, notifies
// subscribers, writes the entities rows, then moves config_head to v with a
// compare-and-set. config_head is therefore a watermark: every change up to
// it has its entities rows written. Entities rows are written with the
// change's version as their write timestamp (2v; a Replace deletes its
// partitions at 2v-1), so that whatever order the writes of several changes
// land in, the newest change wins. If the writer dies between the commit
// and config_head, the head lags the log: the next writer, or any node's
// poller once the lag has lasted a few seconds, writes the missing rows
// from the log and moves the head.
//
// # Reads: the mirror, caught up
//
// Get, GetByKey, List, Snapshot and Version first ask the sync goroutine
// for a round (rounds are shared by the callers that wait for them), so a
// read after a write on another node sees it; then they answer from the
// mirror. When the last round failed, reads answer from the mirror at once
// and SyncState says the config is stale.
//
// The sync goroutine polls every PollInterval (100ms by default): one
// SELECT of the changes after the applied version in the bucket of the
// next one (the following bucket too when a bucket is exhausted), applied
// strictly in version order under one lock. config_head is read only every
// tenth empty poll, and for writers, to notice a head far ahead.
//
// # Resync
//
// With LWT claims the log has no holes except expiry: a change missing
// before a later one, or a head beyond the applied version with nothing in
// the log to reach it, means the log expired under the node (ChangeTTL, a
// day by default). The node then rebuilds the mirror: it reads
// config_head, the changes after it, every entities partition (every kind
// of every workspace: those with a workspace entity, "default", those the
// node knows and those the log names), then the log again, and replays the
// changes over the partitions. Replay is idempotent (each change sets or
// deletes whole entities; the last change of an entity wins), and reading
// the log after the entities covers any change whose rows the partition
// reads saw. A resync is logged at Warn with its reason ("change log
// expired after version X"). A node that opens without a cache resyncs the
// same way.
//
// # Cache
//
// After the mirror changes (at most once a second, and on Close) the node
// writes it to Options.CachePath: version and every entity's JSON with its
// workspace, to a temporary file renamed over the old one. When Open cannot
// reach Cassandra it serves the cache (SyncState.FromCache, logged at Warn
// with the cache's version and age), keeps retrying in the background and
// catches up when Cassandra returns; if the cluster does not know the
// cached version (a recreated keyspace), the cluster wins. Without
// Cassandra and without a cache, Open fails and says what to do.
//
// # Limits
//
//   - Config writes are serialised cluster-wide (one version at a time,
//     each a Paxos round plus a few writes): fine for admin traffic, not
//     for a write-heavy workload.
//   - A Replace's change row carries the whole workspace and must stay
//     below Cassandra's maximum mutation size (half the commit log segment,
//     16 MiB by default); the store refuses changes over 15 MiB
//     (ErrTooLarge).
//   - Entities rows use version-derived write timestamps; anything else
//     writing the entities table with wall-clock timestamps would shadow
//     them.
//   - A write whose commit times out may or may not have been committed;
//     it returns an error that says so, and the node applies the change
//     from the log if it was.
//   - A resync finds workspaces through their workspace entities, the
//     default workspace, the node's own config and the log: the entities
//     of a workspace that has no workspace entity and that the log and the
//     node have both forgotten are not found (the admin API always creates
//     the workspace entity first).
//   - Every node holds the whole config in memory, as Kong does.
package cassandra
