// Package querytest is the conformance suite every query.Store must pass:
// Run seeds a new store with the same records (Records) through the
// store's own loading path and checks every kind of query against numbers
// written by hand and against a reference evaluation in Go over the same
// records: counts per bucket, gap filling, error rates, breakdown totals,
// top-N order and limits, tenancy, combined filters, recent requests,
// usage, validation errors, and injection attempts through every string
// parameter. Percentiles may be estimates (t-digests, latency buckets)
// within a few ranks of the exact nearest-rank value, give or take 1 %, or
// must be exact (Suite.ExactPercentiles).
//
// It is imported by tests only, and never writes to a store except
// through the Loader it is given.
package querytest
