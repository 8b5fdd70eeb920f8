// Package upstream balances proxied requests over the targets of Kong-style
// upstreams and keeps track of which targets are healthy.
//
// A service whose host equals the name of an upstream in its workspace is
// proxied through that upstream's Balancer, which picks one target per try
// with the upstream's algorithm (weighted round-robin, consistent hashing over
// a ring of `slots` slots, or least connections) and skips unhealthy targets,
// as Kong's ring-balancer does.
//
// Health follows Kong's health checks and circuit breakers: passive checks
// count the outcomes the proxy reports through Balancer.Done; active checks
// probe targets over HTTP(S) or TCP from one goroutine per upstream. Both feed
// the same per-target counters (successes, TCP failures, timeouts, HTTP
// failures) and thresholds decide when a target goes down or comes back.
//
// The package owns the balancers, the per-target health state and the active
// checkers, which it starts and stops itself (Manager.Sync, Manager.Close).
// It must never block the request path: Pick and Done take a short mutex or
// atomics, never a channel, a network call or a log write.
//
// # Recovery of targets taken out by passive checks
//
// Passive checks can only take targets out: an unhealthy target gets no
// traffic, so no proxied request can prove it healthy again. As in Kong, such
// a target comes back
//
//   - through active checks, when active.unhealthy.interval and
//     active.healthy.successes are both set;
//   - by hand, through Manager.SetHealth (what Kong's Admin API endpoints
//     POST /upstreams/{upstream}/targets/{target}/healthy and /unhealthy do);
//   - on a config change that gives the target a fresh state: removing and
//     adding the target back, or changing the upstream's healthchecks.
//
// Otherwise it stays down. Health is per node, never shared between nodes,
// exactly as in Kong: one node may reach a target that another cannot.
package upstream
