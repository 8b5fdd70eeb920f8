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
// # Rounds
//
// Every SyncInterval T (default 100ms), at multiples of T on the clock, a
// node writes its row of each window that changed: its absolute count
// (idempotent on retry) and its demand rate for the key (requests per
// second that asked for a budget, admitted or not, an EWMA), with a TTL of
// the window's length plus Grace. PullDelay δ later (default T/4) it reads
// the partitions of the windows it follows: all nodes' rows. From one read
// it keeps the others' total and every node's rate, and divides the
// remainder R = limit − Σ counts among the nodes in proportion to their
// rates, by largest remainder with ties to the lowest node id, so that the
// parts of all nodes sum to R. Until its next read a node admits at most
// its part, less what it admitted since its row was written:
//
//	Budget = min(limit − (others + mine), part − (mine − mine at write))
//
// A node whose published rate is zero gets a probe of one per round; a
// node that has never read a key gets limit/LiveNodes (cold start); a node
// whose view is stale (it was idle, or missed reads) gets one probe per
// interval. A window just begun is divided from the rates read in the
// previous one, as every count in it was zero when they were read. A
// window far from its limit is synced less often, up to 10 rounds apart
// while the cluster would need over four times that long to use what
// remains; the decision depends only on the rows read, so nodes that read
// the same rows skip the same rounds. A used-up window is not synced
// again until its limit grows (a sliding window's does as the previous
// window's weight fades); until the next round divides that room, a node
// admits nothing from it. When no round has succeeded for more than 3 intervals the store
// is degraded: Add, Get and Budget answer from this node's counts alone,
// with an error wrapping ratelimit.ErrUnsynced.
//
// # Bound on overshoot
//
// Let n be the number of nodes, r_i node i's request rate for the key, T
// the sync interval and δ the pull delay. When rounds are aligned (every
// node's write of a round lands before any node's read of it: clocks agree
// within δ and writes take less than δ), every node divides the same R by
// the same rates, and the parts sum to R; so the admitted total of a window
// of limit N is at most
//
//	N + E + P + C
//
// where
//
//   - E ≤ Σ r_i·δ: admissions between a node's write and its read that
//     exceed its new part, which happens only when the load moves between
//     nodes while less than the cluster's demand over δ remains; zero when
//     the nodes' rates are steady;
//   - P ≤ n − 1: one probe by each node whose published rate was zero when
//     its load began;
//   - C ≤ Σ min(N/LiveNodes, r_j·(T+δ)) over the nodes j that start serving
//     the key mid-window without having read it (cold start);
//
// and sliding windows may go one hit over the weighted count, since the
// plugin admits whole hits below a limit less a fractional weight.
//
// When rounds are not aligned, a node divides a remainder that misses what
// the others admitted since their last write, which adds about
// S = Σ_j r_j·lag_j, where lag_j ≤ T is how long node j's write trails
// the others' reads. With rounds evenly staggered over T that is about
// (n−1)/2 · r · T for n nodes at rate r: 167 for n = 3, r = 1,667/s and
// T = 100ms, where counting totals alone overshoots by (n−1)·r·T = 333.
// The deterministic simulation in this package's tests measures, with 3
// nodes, T = 100ms and δ = 25ms over three one-minute windows each (the
// first one cold): even load of 1,667/s per node admits exactly N in every
// window for N = 100, 1,000 and 100,000; all load (5,000/s) on one node
// exactly N; uneven load (3,000/1,500/500) exactly N; 5,000/s moving from
// node to node every 70ms at most N + 7 (E at work, its bound being 125);
// staggered rounds 1.167·N. Sliding windows add one hit of rounding (the
// plugin admits whole hits below N less the previous window's weight): the
// highest sliding count measured is 101 for N = 100 and 1,002 for
// N = 1,000.
//
// Cassandra requests: at most one batch of row writes (20 rows each) and
// one read per followed window per round; measured 0.0012 per request at
// 1,667 requests/s per node on a limit never reached, and under 0.0001 for
// a limit reached early in each window.
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
