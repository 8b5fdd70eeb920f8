package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/tollgate/tollgate/internal/logrecord"
)

// schemaVersion is the PRAGMA user_version the migrations below reach.
const schemaVersion = 1

// migrations[i] takes the schema from version i to i+1.
var migrations = []string{
	`CREATE TABLE requests (
		request_id          TEXT PRIMARY KEY,
		trace_id            TEXT NOT NULL,
		started_at_ms       INTEGER NOT NULL,
		node_id             TEXT NOT NULL,
		workspace           TEXT NOT NULL,
		service_id          TEXT NOT NULL,
		route_id            TEXT NOT NULL,
		route_path          TEXT NOT NULL,
		consumer_id         TEXT NOT NULL,
		credential_id       TEXT NOT NULL,
		method              TEXT NOT NULL,
		protocol            TEXT NOT NULL,
		host                TEXT NOT NULL,
		path                TEXT NOT NULL,
		client_ip           TEXT NOT NULL,
		user_agent          TEXT NOT NULL,
		status              INTEGER NOT NULL,
		upstream_status     INTEGER NOT NULL,
		responder           TEXT NOT NULL,
		upstream_tries      INTEGER NOT NULL,
		upstream_addr       TEXT NOT NULL,
		latency_total_ms    REAL NOT NULL,
		latency_gateway_ms  REAL NOT NULL,
		latency_upstream_ms REAL NOT NULL,
		request_bytes       INTEGER NOT NULL,
		response_bytes      INTEGER NOT NULL,
		auth_outcome        TEXT NOT NULL,
		rate_limit_outcome  TEXT NOT NULL,
		error_class         TEXT NOT NULL,
		billable            INTEGER NOT NULL,
		billing_units       INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX requests_workspace_time ON requests (workspace, started_at_ms);
	CREATE INDEX requests_service_time ON requests (workspace, service_id, started_at_ms);
	CREATE INDEX requests_consumer_time ON requests (workspace, consumer_id, started_at_ms);
	CREATE TABLE requests_minute (
		minute          INTEGER NOT NULL,
		workspace       TEXT NOT NULL,
		service_id      TEXT NOT NULL,
		route_id        TEXT NOT NULL,
		consumer_id     TEXT NOT NULL,
		status_class    INTEGER NOT NULL,
		requests        INTEGER NOT NULL,
		errors_4xx      INTEGER NOT NULL,
		errors_5xx      INTEGER NOT NULL,
		request_bytes   INTEGER NOT NULL,
		response_bytes  INTEGER NOT NULL,
		latency_total_ms_sum REAL NOT NULL,
		billable        INTEGER NOT NULL,
		billing_units   INTEGER NOT NULL,
		PRIMARY KEY (minute, workspace, service_id, route_id, consumer_id, status_class)
	) WITHOUT ROWID;
	CREATE TABLE dead_letters (
		received_at_ms INTEGER NOT NULL,
		reason         TEXT NOT NULL,
		record         BLOB NOT NULL
	);`,
}

// columns of requests in the order Load binds them.
var columns = []string{
	"request_id", "trace_id", "started_at_ms", "node_id", "workspace", "service_id", "route_id",
	"route_path", "consumer_id", "credential_id", "method", "protocol", "host", "path", "client_ip",
	"user_agent", "status", "upstream_status", "responder", "upstream_tries", "upstream_addr",
	"latency_total_ms", "latency_gateway_ms", "latency_upstream_ms", "request_bytes", "response_bytes",
	"auth_outcome", "rate_limit_outcome", "error_class", "billable", "billing_units",
}

var (
	insertRequest = `INSERT INTO requests (` + strings.Join(columns, ", ") + `) VALUES (?` +
		strings.Repeat(", ?", len(columns)-1) + `) ON CONFLICT (request_id) DO NOTHING`
	upsertMinute = `INSERT INTO requests_minute (minute, workspace, service_id, route_id, consumer_id, status_class,
		requests, errors_4xx, errors_5xx, request_bytes, response_bytes, latency_total_ms_sum, billable, billing_units)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (minute, workspace, service_id, route_id, consumer_id, status_class) DO UPDATE SET
		requests = requests + excluded.requests,
		errors_4xx = errors_4xx + excluded.errors_4xx,
		errors_5xx = errors_5xx + excluded.errors_5xx,
		request_bytes = request_bytes + excluded.request_bytes,
		response_bytes = response_bytes + excluded.response_bytes,
		latency_total_ms_sum = latency_total_ms_sum + excluded.latency_total_ms_sum,
		billable = billable + excluded.billable,
		billing_units = billing_units + excluded.billing_units`
)

// ErrClosed is returned by calls on a closed Store.
var ErrClosed = errors.New("embedded analytics store: closed")

// Store is the SQLite request log. Safe for concurrent use: loads are
// serialized, reads run beside them (WAL). Close closes the database.
type Store struct {
	db   *sql.DB
	path string

	mu     sync.Mutex // serializes Load
	closed bool
}

// Open opens (creating when missing) the database at path and brings its
// schema up to date. path ":memory:" is a private in-memory database.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open analytics store %s: %w", path, err)
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1) // every connection would be a database of its own
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open analytics store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > schemaVersion {
		return fmt.Errorf("schema version %d is newer than this tollgate's %d: upgrade tollgate or move the file away", v, schemaVersion)
	}
	for ; v < schemaVersion; v++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
		}
		// PRAGMA takes no parameters; v+1 is a constant of this file.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
		}
	}
	return nil
}

// DB returns the database for queries (the analytics query layer). Callers
// must not write to it.
func (s *Store) DB() *sql.DB { return s.db }

// Load inserts recs in one transaction: records whose request_id is
// already stored are skipped and counted in duplicates, and the per-minute
// rollup grows by the inserted records only. Either the whole batch is
// applied or none of it.
func (s *Store) Load(ctx context.Context, recs []logrecord.Record) (inserted, duplicates int, err error) {
	return s.load(ctx, recs, nil, time.Now())
}

// load is Load that also stores dead letters, in the same transaction.
func (s *Store) load(ctx context.Context, recs []logrecord.Record, dead []deadLetter, now time.Time) (inserted, duplicates int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, 0, ErrClosed
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("load requests: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
			inserted, duplicates = 0, 0
		}
	}()
	ins, err := tx.PrepareContext(ctx, insertRequest)
	if err != nil {
		return 0, 0, fmt.Errorf("load requests: %w", err)
	}
	defer ins.Close()
	up, err := tx.PrepareContext(ctx, upsertMinute)
	if err != nil {
		return 0, 0, fmt.Errorf("load requests: %w", err)
	}
	defer up.Close()
	// The minute rollup is added up here and written once per row of it:
	// a batch holds far fewer minutes, services and consumers than records.
	minutes := map[minuteKey]*minuteSums{}
	var order []minuteKey
	for i := range recs {
		r := &recs[i]
		res, err := ins.ExecContext(ctx, values(r)...)
		if err != nil {
			return 0, 0, fmt.Errorf("load request %s: %w", r.RequestID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, 0, fmt.Errorf("load request %s: %w", r.RequestID, err)
		}
		if n == 0 {
			duplicates++
			continue
		}
		inserted++
		k := minuteKey{r.StartedAt / 60000 * 60, r.Workspace, r.ServiceID, r.RouteID, r.ConsumerID, r.Status / 100}
		m := minutes[k]
		if m == nil {
			m = &minuteSums{}
			minutes[k] = m
			order = append(order, k)
		}
		m.add(r)
	}
	for _, k := range order {
		m := minutes[k]
		if _, err := up.ExecContext(ctx, k.minute, k.workspace, k.service, k.route, k.consumer, k.class,
			m.requests, m.e4, m.e5, m.reqBytes, m.respBytes, m.latency, m.billable, m.units); err != nil {
			return 0, 0, fmt.Errorf("roll up minute %d: %w", k.minute, err)
		}
	}
	for _, d := range dead {
		if _, err := tx.ExecContext(ctx, `INSERT INTO dead_letters (received_at_ms, reason, record) VALUES (?, ?, ?)`,
			now.UnixMilli(), d.reason, d.record); err != nil {
			return 0, 0, fmt.Errorf("store dead letter: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("load requests: %w", err)
	}
	return inserted, duplicates, nil
}

// minuteKey is the key of a requests_minute row.
type minuteKey struct {
	minute                              int64 // Unix seconds
	workspace, service, route, consumer string
	class                               int
}

// minuteSums are the counters of a requests_minute row over a batch.
type minuteSums struct {
	requests, e4, e5, billable, reqBytes, respBytes, units int64
	latency                                                float64
}

func (m *minuteSums) add(r *logrecord.Record) {
	m.requests++
	switch r.Status / 100 {
	case 4:
		m.e4++
	case 5:
		m.e5++
	}
	if r.Billable {
		m.billable++
	}
	m.reqBytes += r.RequestBytes
	m.respBytes += r.ResponseBytes
	m.units += r.BillingUnits
	m.latency += r.LatencyTotalMs
}

func values(r *logrecord.Record) []any {
	return []any{
		r.RequestID, r.TraceID, r.StartedAt, r.NodeID, r.Workspace, r.ServiceID, r.RouteID,
		r.RoutePath, r.ConsumerID, r.CredentialID, r.Method, r.Protocol, r.Host, r.Path, r.ClientIP,
		r.UserAgent, r.Status, r.UpstreamStatus, r.Responder, r.UpstreamTries, r.UpstreamAddr,
		r.LatencyTotalMs, r.LatencyGatewayMs, r.LatencyUpstreamMs, r.RequestBytes, r.ResponseBytes,
		r.AuthOutcome, r.RateLimitOutcome, r.ErrorClass, boolInt(r.Billable), r.BillingUnits,
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Get returns the stored record of a request id; ok is false when there is
// none.
func (s *Store) Get(ctx context.Context, requestID string) (r logrecord.Record, ok bool, err error) {
	var billable int
	dst := []any{
		&r.RequestID, &r.TraceID, &r.StartedAt, &r.NodeID, &r.Workspace, &r.ServiceID, &r.RouteID,
		&r.RoutePath, &r.ConsumerID, &r.CredentialID, &r.Method, &r.Protocol, &r.Host, &r.Path, &r.ClientIP,
		&r.UserAgent, &r.Status, &r.UpstreamStatus, &r.Responder, &r.UpstreamTries, &r.UpstreamAddr,
		&r.LatencyTotalMs, &r.LatencyGatewayMs, &r.LatencyUpstreamMs, &r.RequestBytes, &r.ResponseBytes,
		&r.AuthOutcome, &r.RateLimitOutcome, &r.ErrorClass, &billable, &r.BillingUnits,
	}
	err = s.db.QueryRowContext(ctx, `SELECT `+strings.Join(columns, ", ")+` FROM requests WHERE request_id = ?`, requestID).Scan(dst...)
	if errors.Is(err, sql.ErrNoRows) {
		return logrecord.Record{}, false, nil
	}
	if err != nil {
		return logrecord.Record{}, false, fmt.Errorf("get request %s: %w", requestID, err)
	}
	r.Billable = billable != 0
	return r, true, nil
}

// Totals are counts over a time range.
type Totals struct {
	Requests, Errors4xx, Errors5xx, ResponseBytes, BillingUnits int64
}

// RawTotals counts the raw requests that started in [from, to).
func (s *Store) RawTotals(ctx context.Context, from, to time.Time) (Totals, error) {
	var t Totals
	err := s.db.QueryRowContext(ctx, `SELECT count(*),
		coalesce(sum(status BETWEEN 400 AND 499), 0), coalesce(sum(status BETWEEN 500 AND 599), 0),
		coalesce(sum(response_bytes), 0), coalesce(sum(billing_units), 0)
		FROM requests WHERE started_at_ms >= ? AND started_at_ms < ?`, from.UnixMilli(), to.UnixMilli()).
		Scan(&t.Requests, &t.Errors4xx, &t.Errors5xx, &t.ResponseBytes, &t.BillingUnits)
	if err != nil {
		return t, fmt.Errorf("raw totals: %w", err)
	}
	return t, nil
}

// MinuteTotals sums the per-minute rollup over the minutes in [from, to).
func (s *Store) MinuteTotals(ctx context.Context, from, to time.Time) (Totals, error) {
	var t Totals
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(sum(requests), 0), coalesce(sum(errors_4xx), 0),
		coalesce(sum(errors_5xx), 0), coalesce(sum(response_bytes), 0), coalesce(sum(billing_units), 0)
		FROM requests_minute WHERE minute >= ? AND minute < ?`, from.Unix(), to.Unix()).
		Scan(&t.Requests, &t.Errors4xx, &t.Errors5xx, &t.ResponseBytes, &t.BillingUnits)
	if err != nil {
		return t, fmt.Errorf("minute totals: %w", err)
	}
	return t, nil
}

// DropBefore deletes raw requests and rollup minutes that started before
// t (retention) and returns how many raw requests it deleted.
func (s *Store) DropBefore(ctx context.Context, t time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("drop old requests: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM requests WHERE started_at_ms < ?`, t.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("drop old requests: %w", err)
	}
	n, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `DELETE FROM requests_minute WHERE minute < ?`, t.Unix()/60*60); err != nil {
		return 0, fmt.Errorf("drop old rollup minutes: %w", err)
	}
	return n, tx.Commit()
}

// Close closes the database; it is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}
