// Package load is Tollgate's load generator: it drives HTTP traffic at a
// gateway (or any HTTP server) and measures what clients see. The scale-out
// scenarios that prove the cluster grows by adding nodes live here too.
//
// It owns the fixed-rate, open-loop generator (Run) and the latency
// Histogram it records into. The generator schedules requests at a constant
// rate whatever the server's response times, and measures each latency from
// the moment the request was due, not from the moment it was sent, so a
// stalled server cannot hide its stall by slowing the generator down
// ("coordinated omission", Gil Tene; wrk2 does the same). It owns the
// closed-loop run (ClosedLoop) too, which finds the most a server
// sustains: each client sends as soon as its last answer came, in this
// process or through wrk.
//
// It must never read flags or the environment (load/cmd/fixedrate does) and
// never leave a goroutine, a process or a connection behind when Run or
// ClosedLoop returns.
package load
