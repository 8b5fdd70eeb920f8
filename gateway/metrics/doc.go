// Package metrics holds the Prometheus instruments of a gateway node: request
// counts and latencies by service and route, upstream target health, the
// config version being served, and counts of requests the node could not
// place on a healthy target.
//
// It owns the metric definitions and a cache of per-route label children so
// that the request path does one map lookup per request and never formats
// label values. It registers only on the registry it is given (never
// Prometheus' default one) and never serves HTTP: cmd/ exposes the registry.
// A nil *Metrics is valid and records nothing.
package metrics
