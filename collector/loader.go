package collector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Loader writes rows to a ClickHouse database migrated by
// schema/clickhouse and reads back which Kafka offsets are loaded. It is
// safe for concurrent use; it does not own conn.
//
// Rows go in over a native connection of the Loader's own (ch-go), which
// encodes the columns of Rows into the INSERT's block as they are:
// clickhouse-go's batches copy every value into a block made anew for
// each INSERT. Everything else goes over conn.
type Loader struct {
	conn   driver.Conn
	db     string
	opts   ch.Options // for the insert connection
	insert string     // the INSERT statement

	mu       sync.Mutex // one INSERT at a time: a ch.Client runs one query
	client   *ch.Client // nil before the first insert, after a failed one and after Close
	lastUsed time.Time  // when client last finished a query
	revision int        // announced to the server; 0 for ch-go's own
	closed   bool
}

// NewLoader returns a Loader over conn for database. Inserts dial
// ClickHouse with insert (its Database is replaced by database); the
// Loader closes that connection on Close.
func NewLoader(conn driver.Conn, database string, insert ch.Options) *Loader {
	insert.Database = database
	return &Loader{
		conn:   conn,
		db:     database,
		opts:   insert,
		insert: "INSERT INTO " + database + ".requests (" + insertColumns + ") VALUES",
	}
}

// Close closes the insert connection. Insert fails after Close.
func (l *Loader) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return l.dropClient()
}

// Insert writes rows in one INSERT, tagged with queryID so that
// QueryRunning can tell whether an insert that failed on the client is
// still running on the server. The requests table's materialized views
// record the rows' offsets in loaded_offsets in the same INSERT.
func (l *Loader) Insert(ctx context.Context, queryID string, rows *Rows) error {
	if rows.Len() == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	client, err := l.connect(ctx)
	if err != nil {
		return fmt.Errorf("insert %d rows into %s.requests: %w", rows.Len(), l.db, err)
	}
	err = client.Do(ctx, ch.Query{Body: l.insert, Input: rows.input(), QueryID: queryID})
	l.lastUsed = time.Now()
	if err != nil {
		// What a failed query left on the connection (part of a block,
		// packets not read) is unknown: the next insert dials anew.
		_ = l.dropClient()
		return fmt.Errorf("insert %d rows into %s.requests: %w", rows.Len(), l.db, err)
	}
	return nil
}

// errLoaderClosed is returned by Insert after Close.
var errLoaderClosed = errors.New("collector: loader closed")

// idleCheck is how long the insert connection may sit unused before an
// insert pings it first: ClickHouse closes idle connections
// (idle_connection_timeout) and a restart breaks them, and an INSERT
// that fails only because its connection was gone costs a retry.
const idleCheck = 10 * time.Second

// connect returns the insert connection, dialling one if there is none
// or the one there is does not answer. l.mu is held.
func (l *Loader) connect(ctx context.Context) (*ch.Client, error) {
	if l.closed {
		return nil, errLoaderClosed
	}
	if l.client != nil && !l.client.IsClosed() {
		if time.Since(l.lastUsed) < idleCheck {
			return l.client, nil
		}
		err := l.client.Ping(ctx)
		l.lastUsed = time.Now()
		if err == nil {
			return l.client, nil
		}
	}
	_ = l.dropClient()
	client, err := l.dial(ctx)
	if err != nil {
		return nil, err
	}
	l.client, l.lastUsed = client, time.Now()
	return client, nil
}

// ch-go (v0.75) sends a query's client info only from protocol revision
// 54420 on, where ClickHouse expects it from 54032
// (DBMS_MIN_REVISION_WITH_CLIENT_INFO). A server in between (18.16 is
// 54412) reads what follows as client info and fails the query ("Unknown
// setting"). Announcing revision 54031 to such a server makes neither side
// send or read client info; the rest that revision leaves out (the server
// time zone in its hello, column defaults, written rows in progress
// packets, settings as strings) an INSERT of a native block does not need.
const (
	chgoClientInfoRevision = 54420
	preClientInfoRevision  = 54031
)

// dial connects with the protocol revision the server last called for
// and, when the server turns out to call for another, dials again with
// that one. l.mu is held.
func (l *Loader) dial(ctx context.Context) (*ch.Client, error) {
	for range 2 {
		opts := l.opts
		opts.ProtocolVersion = l.revision
		client, err := ch.Dial(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("connect to clickhouse %s: %w", opts.Address, err)
		}
		want := 0
		if client.ServerInfo().Revision < chgoClientInfoRevision {
			want = preClientInfoRevision
		}
		if want == l.revision {
			return client, nil
		}
		_ = client.Close()
		l.revision = want
	}
	return nil, fmt.Errorf("connect to clickhouse %s: protocol revision changed while dialling", l.opts.Address)
}

// dropClient closes the insert connection, if any. l.mu is held.
func (l *Loader) dropClient() error {
	if l.client == nil {
		return nil
	}
	err := l.client.Close()
	l.client = nil
	if errors.Is(err, ch.ErrClosed) {
		return nil
	}
	return err
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
