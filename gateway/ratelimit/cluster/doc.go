// Package cluster is the rate-limiting plugin's "cluster" policy: a
// ratelimit.Shared whose counters are shared by every gateway node through
// Cassandra's ratelimit_slots table, and whose exact quotas live in
// ratelimit_quotas (schema/cassandra/001_init.cql).
//
// It owns this node's counters (per key, window kind and window start,
// under sharded locks), the background loop that syncs them, and the
// division of what remains of a limit among the nodes. It never does I/O
// in Add, Get or Budget; TakeExact is the one call that does, by design.
//
// # Rounds and claims
//
// Every SyncInterval T (default 100ms), at multiples of T on the clock, a
// node writes its row of each window that changed and, PullDelay later
// (default T/4), reads the partitions of the windows it follows: every
// node's row. A row holds three values:
//
//   - hits: the node's absolute count in the window (an idempotent upsert:
//     a retried write never double counts);
//   - rate: the node's demand for the key, requests per second that asked
//     for a budget, admitted or not (an EWMA over rounds);
//   - claim: the most the node may admit in the window until it writes
//     again, never below hits.
//
// A node admits while its count is below the claim in effect (and the
// limit less the cluster total it last read is positive):
//
//	Budget = min(limit − (others + mine), claim − mine)
//
// Claims are what make the limit hold. A node lowers its claim at once,
// before it writes the lower value, and raises it in two steps: it writes
// the higher claim, and only after the write was acknowledged and a later
// read of the partition returned, it takes the raise, trimmed to the limit
// less the other nodes' claims in that read (a node's claim counts as at
// least its hits). Of two nodes raising at the same time, the one whose
// read comes second sees the other's raise, so the claims in effect never
// sum to more than the limit, whatever the order of writes and reads, the
// clocks' offsets or the calls' latencies, as long as a read returns every
// write acknowledged before it (QUORUM writes and reads, or LOCAL_QUORUM
// within one data center). No window admits more than its limit.
//
// How much a node asks for: its count when it last read, plus its part of
// what remained then (remainder R = limit − Σ hits), divided among the
// nodes that published a row by share: a standing tenth equally, the rest
// in proportion to their rates, by largest remainder with ties to the
// lowest node id, so that the parts sum to R. A part is capped at horizon
// (2) times the node's demand until its next round, so that a busy node
// does not hold budget it cannot spend before the others could use it. A
// node the others have not divided for yet (no row, or a zero rate) asks
// for what their claims leave, at most limit/LiveNodes; a node that never
// read the key asks for limit/LiveNodes. A node whose claim covers fewer
// than two rounds of its demand syncs in the next round rather than wait
// for its turn.
//
// A node the others divided the limit without — one that never read the
// key, or whose rate was zero in the last read because it was idle — may
// admit an allowance beyond its claim while it waits a round for its
// claim to grow, when that read found at least half the limit remaining
// and the claims read leave room: max(ColdHits, ColdShare × limit / live
// nodes), defaults 1 and 0.5%. Without it a key far from its limit (a
// billion a minute, say) would be refused for a round whenever a node
// starts or resumes serving it. It is the one exception to the ceiling:
// the nodes may admit more than the limit only when the others spend over
// half of it between such a node's read and its use of the allowance, and
// then by at most the allowances, ColdShare × limit + n × ColdHits.
//
// A window far from its limit is synced less often, up to 10 rounds apart
// while the cluster would need over four times that long to use what
// remains. A used-up window is not synced again until its limit grows (a
// sliding window's does, as the previous window's weight fades). The
// next window of a busy fixed window is claimed in the last round before
// it begins, so its first requests need not wait for a round; a window
// just begun is divided by the rates read in the previous one. A node
// that stops (Close) writes claims no larger than its counts and a zero
// rate, so the others take what it held. When no round has succeeded for
// more than 3 intervals the store is degraded: Add, Get and Budget answer
// from this node's counts alone, with an error wrapping
// ratelimit.ErrUnsynced.
//
// # Accuracy
//
// Overshoot: none, but for the allowance (at most ColdShare × limit +
// n × ColdHits per window for n nodes, and only when the window was far
// from its limit at the nodes' last reads) and sliding windows' rounding
// (the plugin admits whole hits below a limit less a fractional weight:
// at most one hit over the weighted count). It depends on neither the sync interval, nor the node
// count, nor the request rate. Nodes that only enforce the cluster total
// they read would overshoot at the window boundary by about
// (n − 1)·r·T for n nodes at r requests/s each: 333 of a limit of 1,000
// for n = 3, r = 1,667/s and T = 100ms.
//
// Undershoot: what the claims strand. A node's claim above its count is
// budget no other node can spend until its next round, at most
// horizon·r·T plus the standing part, so a window whose load stops or
// moves late in the window may end a little below the limit; under load
// that stays above the limit to the end, every node keeps asking and the
// last units go where the demand is.
//
// The deterministic simulations in this package's tests (3 nodes, T =
// 100ms, three one-minute windows each, the first one cold) measure
// admitted/N in every window: even load of 1,667/s per node, exactly N
// for N = 100, 1,000 and 100,000; all load (5,000/s) on one node, exactly
// N; uneven load (3,000/1,500/500), exactly N; 5,000/s moving from node to
// node every 70ms, exactly N; rounds evenly staggered over T, exactly N.
// With random clock offsets, random write-to-read delays and database
// calls taking up to 150ms to land or be answered (longer than a round),
// over many seeds: exactly N in every window. Sliding windows: the highest
// weighted count is 100.8 for N = 100 and 1,000.6 for N = 1,000.
//
// Cassandra requests: at most one batch of row writes (20 rows each) and
// one read per followed window per round; measured 0.0001 per request at
// 1,667 requests/s per node on a limit reached in each window and 0.0012
// on a limit never reached.
//
// # Exact quotas
//
// TakeExact (sync_rate 0) keeps one row per key and window and advances it
// with lightweight transactions: INSERT ... IF NOT EXISTS for the first
// hit, UPDATE ... IF used = <last seen> after, retried with the value a
// failed transaction returns. It is exact, at a price: each call is one
// (two when another node moved the count) Paxos transaction on the request
// path, about four round trips between the coordinator and the replicas,
// all nodes contend on one hot row per key and window, and throughput per
// key is a few hundred per second at best. Use it for low quotas (day,
// month); a node that has seen a quota used up refuses without I/O until
// the window ends.
package cluster
