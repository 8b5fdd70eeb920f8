package cassandra

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"
	"golang.org/x/sync/errgroup"

	"github.com/tollgate/tollgate/internal/entity"
)

// The statements of the store, on the tables of schema/cassandra. Every
// read names a partition; nothing scans.
const (
	selectChanges = `SELECT version, op, kind, workspace, id, body, node, at FROM config_changes WHERE bucket = ? AND version > ?`
	selectRange   = selectChanges + ` AND version <= ?`
	insertChange  = `INSERT INTO config_changes (bucket, version, op, kind, workspace, id, body, node, at) ` +
		`VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?`
	selectHead      = `SELECT version FROM config_head WHERE id = ?`
	insertHead      = `INSERT INTO config_head (id, version) VALUES (?, ?) IF NOT EXISTS`
	updateHead      = `UPDATE config_head SET version = ? WHERE id = ? IF version = ?`
	selectPartition = `SELECT id, body FROM entities WHERE kind = ? AND workspace = ?`
	insertEntity    = `INSERT INTO entities (kind, workspace, id, body, version) VALUES (?, ?, ?, ?, ?)`
	deleteEntity    = `DELETE FROM entities WHERE kind = ? AND workspace = ? AND id = ?`
	deletePartition = `DELETE FROM entities WHERE kind = ? AND workspace = ?`
)

// headID is the key of config_head's single row.
const headID = "config"

// Limits of the unlogged batches that write a replace's entities: one
// partition each (Cassandra exempts single-partition batches from its batch
// size limits, CASSANDRA-10876), well under the mutation size limit.
const (
	batchMaxRows  = 500
	batchMaxBytes = 1 << 20
)

// readChanges returns the changes of bucket after version after, up to
// version upTo (0: no bound), in version order.
func readChanges(ctx context.Context, sess *gocql.Session, bucket int64, after, upTo uint64) ([]change, error) {
	var q *gocql.Query
	if upTo > 0 {
		q = sess.Query(selectRange, bucket, int64(after), int64(upTo))
	} else {
		q = sess.Query(selectChanges, bucket, int64(after))
	}
	iter := q.WithContext(ctx).PageSize(bucketSize).Iter()
	var out []change
	sc := iter.Scanner()
	for sc.Next() {
		var (
			c       change
			v       int64
			kind    string
			at      time.Time
			body    []byte
			op, id  string
			ws, who string
		)
		if err := sc.Scan(&v, &op, &kind, &ws, &id, &body, &who, &at); err != nil {
			return nil, fmt.Errorf("read config changes of bucket %d: %w", bucket, err)
		}
		c.version, c.op, c.kind, c.ws, c.id, c.body, c.node, c.at = uint64(v), op, entity.Kind(kind), ws, id, body, who, at
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read config changes of bucket %d: %w", bucket, err)
	}
	return out, nil
}

// readLogFrom returns every change after version after, walking buckets
// until one ends before its last version. Rows expire oldest first, so a
// bucket that does not reach its end is the log's last.
func readLogFrom(ctx context.Context, sess *gocql.Session, after uint64) ([]change, error) {
	var out []change
	for {
		rows, err := readChanges(ctx, sess, bucketOf(after+1), after, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
		if len(rows) == 0 || !lastInBucket(rows[len(rows)-1].version) {
			return out, nil
		}
		after = rows[len(rows)-1].version
	}
}

// readRange returns the changes in (after, upTo].
func readRange(ctx context.Context, sess *gocql.Session, after, upTo uint64) ([]change, error) {
	var out []change
	for b := bucketOf(after + 1); b <= bucketOf(upTo); b++ {
		rows, err := readChanges(ctx, sess, b, after, upTo)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// readHead returns config_head's version, 0 when there is none yet.
func readHead(ctx context.Context, sess *gocql.Session) (uint64, error) {
	var v int64
	err := sess.Query(selectHead, headID).WithContext(ctx).Scan(&v)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read config head: %w", err)
	}
	return uint64(v), nil
}

// readPartition returns the entities of kind in ws.
func readPartition(ctx context.Context, sess *gocql.Session, kind entity.Kind, ws string) ([]stored, error) {
	iter := sess.Query(selectPartition, string(kind), ws).WithContext(ctx).PageSize(1000).Iter()
	var out []stored
	sc := iter.Scanner()
	for sc.Next() {
		r := stored{kind: kind, ws: ws}
		if err := sc.Scan(&r.id, &r.body); err != nil {
			return nil, fmt.Errorf("read %s of workspace %q: %w", kind, ws, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s of workspace %q: %w", kind, ws, err)
	}
	return out, nil
}

// commit claims c.version for c in the change log. applied is false when
// another writer holds the version.
func (s *Store) commit(ctx context.Context, sess *gocql.Session, c *change) (bool, error) {
	prev := map[string]any{}
	applied, err := sess.Query(insertChange, bucketOf(c.version), int64(c.version), c.op, string(c.kind), c.ws, c.id,
		c.body, c.node, c.at, s.ttl).WithContext(ctx).MapScanCAS(prev)
	if err != nil {
		return false, err
	}
	if applied {
		return true, nil
	}
	row := change{version: c.version}
	row.op, _ = prev["op"].(string)
	kind, _ := prev["kind"].(string)
	row.kind = entity.Kind(kind)
	row.ws, _ = prev["workspace"].(string)
	row.id, _ = prev["id"].(string)
	row.body, _ = prev["body"].([]byte)
	row.node, _ = prev["node"].(string)
	return c.sameAs(&row), nil
}

// writeTimestamp is the write time of the entities rows of change v. Rows
// carry their change's version rather than the clock, so that whichever
// order the writes of several changes land in (a slow writer, a repair
// rewriting an old change), the newest change wins. A replace deletes its
// partitions at writeTimestamp(v)-1, shadowing every older row but not its
// own inserts (at equal timestamps Cassandra lets a deletion win).
func writeTimestamp(v uint64) int64 { return int64(v) * 2 }

// materialise writes c's effect to the entities table.
func materialise(ctx context.Context, sess *gocql.Session, c *change) error {
	ts := writeTimestamp(c.version)
	switch c.op {
	case opCreate, opUpdate:
		return sess.Query(insertEntity, string(c.kind), c.ws, c.id, c.body, int64(c.version)).
			WithContext(ctx).WithTimestamp(ts).Idempotent(true).Exec()
	case opDelete:
		return sess.Query(deleteEntity, string(c.kind), c.ws, c.id).
			WithContext(ctx).WithTimestamp(ts).Idempotent(true).Exec()
	case opReplace:
		items, err := decodeReplace(c.body)
		if err != nil {
			return err
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for _, k := range workspaceKinds() {
			g.Go(func() error {
				return sess.Query(deletePartition, string(k), c.ws).
					WithContext(gctx).WithTimestamp(ts - 1).Idempotent(true).Exec()
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		byKind := map[entity.Kind][]replaceItem{}
		for _, it := range items {
			byKind[it.Kind] = append(byKind[it.Kind], it)
		}
		g, gctx = errgroup.WithContext(ctx)
		g.SetLimit(8)
		for kind, its := range byKind {
			for len(its) > 0 {
				n, size := 0, 0
				for n < len(its) && n < batchMaxRows && (n == 0 || size+len(its[n].Entity) <= batchMaxBytes) {
					size += len(its[n].Entity)
					n++
				}
				chunk := its[:n]
				its = its[n:]
				g.Go(func() error {
					b := sess.NewBatch(gocql.UnloggedBatch).WithContext(gctx).WithTimestamp(ts)
					for _, it := range chunk {
						b.Query(insertEntity, string(kind), c.ws, it.ID, []byte(it.Entity), int64(c.version))
					}
					return sess.ExecuteBatch(b)
				})
			}
		}
		return g.Wait()
	}
	return fmt.Errorf("unknown op %q", c.op)
}

// casHead moves config_head from expect (0: no row yet) to to. When it is
// not applied, cur is the head found (0 if there is none).
func casHead(ctx context.Context, sess *gocql.Session, expect, to uint64) (applied bool, cur uint64, err error) {
	prev := map[string]any{}
	if expect == 0 {
		applied, err = sess.Query(insertHead, headID, int64(to)).WithContext(ctx).MapScanCAS(prev)
	} else {
		applied, err = sess.Query(updateHead, int64(to), headID, int64(expect)).WithContext(ctx).MapScanCAS(prev)
	}
	if err != nil || applied {
		return applied, 0, err
	}
	v, _ := prev["version"].(int64)
	return false, uint64(max(v, 0)), nil
}
