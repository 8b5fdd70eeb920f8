package cluster

import (
	"context"
	"fmt"

	"github.com/gocql/gocql"
)

// backend is the storage the store syncs with: Cassandra through gocql, or
// an in-memory fake in this package's tests. Each method call is one
// Cassandra request.
type backend interface {
	// writeSlots upserts this node's rows (one unlogged batch when more
	// than one).
	writeSlots(ctx context.Context, node string, rows []slotWrite) error
	// readSlots returns every node's row of one window partition.
	readSlots(ctx context.Context, key, period string, start int64) ([]slotRow, error)
	// casQuota runs one lightweight transaction on a quota row: with
	// expect < 0 an INSERT ... IF NOT EXISTS of used, else an UPDATE ...
	// IF used = expect. When it does not apply it returns the row's used
	// value, or -1 when there is no row.
	casQuota(ctx context.Context, key, period string, start int64, used, expect int64, ttl int) (applied bool, current int64, err error)
}

// slotRow is one node's row of a window partition.
type slotRow struct {
	node  string
	hits  int64
	rate  float64
	claim int64
}

// gocqlBackend is the backend over Cassandra.
type gocqlBackend struct {
	session func() (*gocql.Session, error)
}

func (b gocqlBackend) get() (*gocql.Session, error) {
	if b.session == nil {
		return nil, errNoSession
	}
	return b.session()
}

func (b gocqlBackend) writeSlots(ctx context.Context, node string, rows []slotWrite) error {
	sess, err := b.get()
	if err != nil {
		return err
	}
	if len(rows) == 1 {
		w := rows[0]
		return sess.Query(insertSlot, w.key, w.period, w.start, node, w.hits, w.rate, w.claim, w.ttl).
			WithContext(ctx).Idempotent(true).Exec()
	}
	batch := sess.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
	for _, w := range rows {
		batch.Query(insertSlot, w.key, w.period, w.start, node, w.hits, w.rate, w.claim, w.ttl)
	}
	return sess.ExecuteBatch(batch)
}

func (b gocqlBackend) readSlots(ctx context.Context, key, period string, start int64) ([]slotRow, error) {
	sess, err := b.get()
	if err != nil {
		return nil, err
	}
	iter := sess.Query(selectSlot, key, period, start).WithContext(ctx).Idempotent(true).Iter()
	var (
		rows []slotRow
		r    slotRow
	)
	for iter.Scan(&r.node, &r.hits, &r.rate, &r.claim) {
		rows = append(rows, r)
	}
	if err := iter.Close(); err != nil {
		return nil, err
	}
	return rows, nil
}

func (b gocqlBackend) casQuota(ctx context.Context, key, period string, start int64, used, expect int64, ttl int) (bool, int64, error) {
	sess, err := b.get()
	if err != nil {
		return false, 0, err
	}
	var q *gocql.Query
	if expect < 0 {
		q = sess.Query(insertQuota, key, period, start, used, ttl)
	} else {
		q = sess.Query(updateQuota, ttl, used, key, period, start, expect)
	}
	row := map[string]any{}
	applied, err := q.WithContext(ctx).MapScanCAS(row)
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit_quotas: %w", err)
	}
	current := int64(-1)
	switch v := row["used"].(type) {
	case int64:
		current = v
	case int:
		current = int64(v)
	}
	return applied, current, nil
}
