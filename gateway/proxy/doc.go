// Package proxy is the gateway's request path: it accepts client
// connections, routes each request with the current config snapshot, runs
// the plugin pipeline, picks a target, forwards the request upstream and
// relays the response, then hands one log record per request to the sink.
//
// The path reads top to bottom: listener (fasthttp) → router (the
// snapshot's immutable table) → plugin Access → balancer → upstream
// (fasthttp HostClient per address, bodies streamed both ways) → plugin
// HeaderFilter/BodyFilter → client → plugin Log and the log record. One
// function, classify, maps every failure to the status and Kong-style body
// the client gets (timeout → 504, connect failure → 502, no healthy target
// → 503, client gone → 499).
//
// Client and upstream connections yield the goroutine once between a write
// and the next read (turns.go): the read then usually finds the answer
// instead of failing with EAGAIN, a system call saved per turn. On Linux
// their short writes (a request or response head, a short body) wait for
// the other connections' writes of the same round and go out together
// (batch_linux.go), so that the peers reading them are woken once per
// round rather than once per write.
//
// It owns the listeners, the per-request state (pooled), the adapters that
// show fasthttp requests and responses to plugins through the engine-free
// plugin.Request and plugin.Response, and the pool of upstream clients. It
// never reads the config store, never blocks on the log sink, and never
// lets fasthttp types reach plugins.
package proxy
