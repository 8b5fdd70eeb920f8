// Package query is the analytics query layer: what a provider can ask of
// the request log (time series, breakdowns, top-N, recent requests and
// per-consumer usage), the Store interface that answers it, and the
// validation every question passes before a store sees it.
//
// It owns the query and result types, the bucket rules (automatic bucket
// sizes, the at-most-MaxPoints limit, alignment), gap filling and the typed
// validation errors that name the bad field. It does no I/O: the
// implementations live in query/clickhouse (cluster mode) and query/sqlite
// (standalone mode's embedded store), and both must pass the conformance
// suite in query/querytest. What the two share beyond their SQL dialect
// lives here too: the filter conditions, breakdown truncation, and reading
// result sets into results (the stores run the statements and hand over
// the rows).
//
// Tenancy is part of every question: a Filter without a workspace is
// invalid unless it says AllWorkspaces, which only an admin caller may set.
// Stores must apply the workspace to every statement they run, and must
// never put a caller's string into SQL text: strings travel as bind
// arguments, and dimension, metric and column names come from fixed maps.
package query
