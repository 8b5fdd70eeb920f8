package collector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Loader writes rows to a ClickHouse database migrated by
// schema/clickhouse and reads back which Kafka offsets are loaded. It is
// safe for concurrent use; it does not own conn.
type Loader struct {
	conn driver.Conn
	db   string
}

// NewLoader returns a Loader over conn for database.
func NewLoader(conn driver.Conn, database string) *Loader {
	return &Loader{conn: conn, db: database}
}

// Insert writes rows in one INSERT, tagged with queryID so that
// QueryRunning can tell whether an insert that failed on the client is
// still running on the server. The requests table's materialized views
// record the rows' offsets in loaded_offsets in the same INSERT.
func (l *Loader) Insert(ctx context.Context, queryID string, rows *Rows) error {
	if rows.Len() == 0 {
		return nil
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithQueryID(queryID))
	b, err := l.conn.PrepareBatch(ctx, "INSERT INTO "+l.db+".requests ("+insertColumns+")")
	if err != nil {
		return fmt.Errorf("prepare insert into %s.requests: %w", l.db, err)
	}
	if err := rows.appendTo(b); err != nil {
		_ = b.Abort()
		return err
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s.requests: %w", rows.Len(), l.db, err)
	}
	return nil
}

// Existing returns which of ids the requests table holds among the
// requests that started in [from, to] (milliseconds included): the range
// lets ClickHouse read only the days and granules that can hold them. The
// ids go as one array parameter (18.16 takes no array for IN).
func (l *Loader) Existing(ctx context.Context, ids []string, from, to time.Time) (map[string]struct{}, error) {
	out := map[string]struct{}{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := l.conn.Query(ctx, "SELECT request_id FROM "+l.db+".requests WHERE started_at >= ? AND started_at <= ? AND has(?, request_id)",
		from.UTC().Truncate(time.Second), to.UTC().Truncate(time.Second).Add(time.Second), ids)
	if err != nil {
		return nil, fmt.Errorf("look up %d request ids in %s.requests: %w", len(ids), l.db, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = struct{}{}
	}
	return out, rows.Err()
}

// clampUint16 fits a count into its UInt16 column; Validate keeps it
// non-negative, and a count above 65535 is a gateway bug worth keeping
// the row for.
func clampUint16(n int) uint16 {
	switch {
	case n < 0:
		return 0
	case n > 65535:
		return 65535
	}
	return uint16(n)
}

// MarkLoaded records offsets as loaded without rows: the collector calls
// it when the records that end a batch were dead-lettered, so that a
// restart does not read them again.
func (l *Loader) MarkLoaded(ctx context.Context, topic string, offsets map[int]int64) error {
	if len(offsets) == 0 {
		return nil
	}
	b, err := l.conn.PrepareBatch(ctx, "INSERT INTO "+l.db+".loaded_offsets (topic, kafka_partition, max_offset, loaded_at)")
	if err != nil {
		return fmt.Errorf("prepare insert into %s.loaded_offsets: %w", l.db, err)
	}
	now := time.Now().UTC()
	for p, o := range offsets {
		if err := b.Append(topic, int32(p), o, now); err != nil {
			_ = b.Abort()
			return fmt.Errorf("append loaded offset %s/%d: %w", topic, p, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert into %s.loaded_offsets: %w", l.db, err)
	}
	return nil
}

// LoadedOffsets returns the highest loaded offset of every partition of
// topic that has one. loaded_offsets holds a few rows per partition (one
// per INSERT until merges fold them), so this reads little.
func (l *Loader) LoadedOffsets(ctx context.Context, topic string) (map[int]int64, error) {
	rows, err := l.conn.Query(ctx, "SELECT kafka_partition, max(max_offset) FROM "+l.db+".loaded_offsets WHERE topic = ? GROUP BY kafka_partition", topic)
	if err != nil {
		return nil, fmt.Errorf("read loaded offsets of %s: %w", topic, err)
	}
	defer rows.Close()
	out := map[int]int64{}
	for rows.Next() {
		var (
			p int32
			o int64
		)
		if err := rows.Scan(&p, &o); err != nil {
			return nil, fmt.Errorf("read loaded offsets of %s: %w", topic, err)
		}
		out[int(p)] = o
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read loaded offsets of %s: %w", topic, err)
	}
	return out, nil
}

// QueryRunning says whether the query with queryID is still executing on
// the server. An INSERT whose client gave up (timeout, broken connection)
// can still complete after all its data arrived; the collector waits for
// it to end before it reads what was loaded.
func (l *Loader) QueryRunning(ctx context.Context, queryID string) (bool, error) {
	var n uint64
	if err := l.conn.QueryRow(ctx, "SELECT count() FROM system.processes WHERE query_id = ?", queryID).Scan(&n); err != nil {
		return false, fmt.Errorf("look up query %s: %w", queryID, err)
	}
	return n > 0, nil
}

// newQueryID returns a query id no other insert uses.
func newQueryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return "tollgate-collector-" + hex.EncodeToString(b[:])
}
