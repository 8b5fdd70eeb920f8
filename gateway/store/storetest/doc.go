// Package storetest is the conformance suite of the config store: every
// store.Store implementation runs Run in its tests and must pass it
// unchanged.
//
// It owns the behaviour the rest of the gateway relies on — identity and
// unique keys per workspace, listing, atomic Replace, versions and change
// notifications, cancellation and Close — and states it through the
// store.Store interface only. It must never assume how or where a store keeps
// its data (no ordering by id, no particular offset format, no timing beyond
// generous timeouts).
package storetest
