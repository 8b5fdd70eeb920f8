// Package memstore is a config store held in memory: the fake that tests of
// other packages use, and a store for processes that need no persistence.
//
// It owns its maps and the version counter, behind one lock. It passes the
// conformance suite in storetest, so code tested against it behaves the
// same on the persistent stores. It must never do I/O.
package memstore
