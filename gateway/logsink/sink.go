// Package logsink defines where a gateway node hands its request log records.
//
// A Sink must never block the request path: implementations queue and ship
// records in the background (Kafka in a cluster, a local spool in standalone
// mode) and count every record they cannot keep.
package logsink

import (
	"sync/atomic"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// Sink receives one record per request, after the response has been sent.
type Sink interface {
	// Enqueue takes a copy of r and returns at once.
	Enqueue(r *logrecord.Record)
}

// Discard is a Sink that counts and drops every record.
type Discard struct{ n atomic.Int64 }

// Enqueue drops r.
func (d *Discard) Enqueue(*logrecord.Record) { d.n.Add(1) }

// Count returns how many records were dropped.
func (d *Discard) Count() int64 { return d.n.Load() }

var _ Sink = (*Discard)(nil)
