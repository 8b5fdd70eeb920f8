package embedded

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// Loader is standalone mode's in-process collector: the destination of the
// node's log sink (it has logship.Destination's methods). Each Write
// decodes a batch and loads it in one transaction; records that do not
// decode or validate go to the dead_letters table with the reason, in the
// same transaction, and are counted. A repeated Write loads nothing twice
// (Store.Load skips known request ids), which is what the at-least-once
// sink needs.
type Loader struct {
	store *Store
	now   func() time.Time

	loaded, duplicates, dead atomic.Int64
}

// NewLoader returns a Loader into s. It does not own s: Close leaves it
// open.
func NewLoader(s *Store) *Loader {
	return &Loader{store: s, now: time.Now}
}

// LoaderStats are a Loader's counters since NewLoader.
type LoaderStats struct {
	Loaded, Duplicates, DeadLettered int64
}

// Stats returns the counters.
func (l *Loader) Stats() LoaderStats {
	return LoaderStats{Loaded: l.loaded.Load(), Duplicates: l.duplicates.Load(), DeadLettered: l.dead.Load()}
}

// String names the destination in the sink's logs.
func (l *Loader) String() string { return "embedded analytics store " + l.store.path }

// Close does nothing: the store belongs to the caller.
func (l *Loader) Close() error { return nil }

// Write decodes and loads recs.
func (l *Loader) Write(ctx context.Context, recs [][]byte, _ bool) error {
	batch := make([]logrecord.Record, 0, len(recs))
	var dead []deadLetter
	for _, b := range recs {
		var r logrecord.Record
		err := logrecord.Decode(b, &r)
		if err == nil {
			err = r.Validate()
		}
		if err != nil {
			dead = append(dead, deadLetter{reason: err.Error(), record: b})
			continue
		}
		batch = append(batch, r)
	}
	ins, dup, err := l.store.load(ctx, batch, dead, l.now())
	if err != nil {
		return err
	}
	l.loaded.Add(int64(ins))
	l.duplicates.Add(int64(dup))
	l.dead.Add(int64(len(dead)))
	return nil
}

// deadLetter is a record that cannot be loaded and why.
type deadLetter struct {
	reason string
	record []byte
}

// DeadLetters returns the reasons of the dead-lettered records, oldest
// first, at most limit.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT reason FROM dead_letters ORDER BY received_at_ms, rowid LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, errors.Join(rows.Err(), rows.Close())
}
