package collector

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// Every record is loaded once, from batches as gateways write them and
// from messages of one record each, as gateways wrote them before.
func TestLoadsEveryRecordOnce(t *testing.T) {
	for _, perMessage := range []int{testPerMessage, 0} {
		t.Run(fmt.Sprintf("perMessage=%d", perMessage), func(t *testing.T) {
			e := newEnv(t, 3, nil)
			e.perMessage = perMessage
			p := e.producer()
			const n = 1000
			e.produce(p, 0, n)
			r := e.start(e.config())
			e.waitRows(n, time.Minute)
			if err := r.stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
			e.checkExactlyOnce(n)
			st := r.c.Stats()
			if st.Consumed != n || st.Inserted != n || st.DeadLettered != 0 {
				t.Errorf("stats = %+v; want %d consumed and inserted", st, n)
			}
		})
	}
}

// TestRowHoldsEveryField loads records with each insert compression:
// an LZ4 block is encoded into one buffer and compressed, an uncompressed
// one hands ClickHouse the columns as they are.
func TestRowHoldsEveryField(t *testing.T) {
	for _, compression := range []string{CompressionLZ4, CompressionNone} {
		t.Run(compression, func(t *testing.T) { testRowHoldsEveryField(t, compression) })
	}
}

func testRowHoldsEveryField(t *testing.T, compression string) {
	e := newEnv(t, 1, nil)
	e.produce(e.producer(), 0, 50)
	cfg := e.config()
	cfg.InsertCompression = compression
	r := e.start(cfg)
	e.waitRows(50, time.Minute)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 7, 49} {
		want := testRecord(i, e.now)
		var (
			got                           logrecord.Record
			startedAt                     time.Time
			status, upstreamStatus, tries uint16
			billable                      uint8
			topic                         string
			partition                     int32
			offset                        int64
		)
		err := e.conn.QueryRow(t.Context(), "SELECT "+insertColumns+" FROM "+e.db+".requests WHERE request_id = ?", want.RequestID).Scan(
			&got.RequestID, &got.TraceID, &startedAt, &got.StartedAt, &got.NodeID,
			&got.Workspace, &got.ServiceID, &got.RouteID, &got.RoutePath, &got.ConsumerID, &got.CredentialID,
			&got.Method, &got.Protocol, &got.Host, &got.Path, &got.ClientIP, &got.UserAgent,
			&status, &upstreamStatus, &got.Responder, &tries, &got.UpstreamAddr,
			&got.LatencyTotalMs, &got.LatencyGatewayMs, &got.LatencyUpstreamMs, &got.RequestBytes, &got.ResponseBytes,
			&got.AuthOutcome, &got.RateLimitOutcome, &got.ErrorClass, &billable, &got.BillingUnits,
			&topic, &partition, &offset)
		if err != nil {
			t.Fatalf("read %s: %v", want.RequestID, err)
		}
		got.Status, got.UpstreamStatus, got.UpstreamTries, got.Billable = int(status), int(upstreamStatus), int(tries), billable == 1
		if !reflect.DeepEqual(got, want) {
			t.Errorf("row %d =\n%+v\nwant\n%+v", i, got, want)
		}
		if startedAt.Unix() != want.StartedAt/1000 {
			t.Errorf("row %d: started_at %v; want the second of %d ms", i, startedAt, want.StartedAt)
		}
		// Record i is in the message of the i/testPerMessage-th batch.
		if want := int64(i / testPerMessage); topic != testTopic || partition != 0 || offset != want {
			t.Errorf("row %d from %s/%d/%d; want %s/0/%d", i, topic, partition, offset, testTopic, want)
		}
	}
}

// TestCrashesAndRestarts stops the collector again and again while it
// loads, the hard ways (no flush; inserted but not committed) and the
// graceful way, then checks that every record is there once.
func TestCrashesAndRestarts(t *testing.T) {
	e := newEnv(t, 3, nil)
	const n = 6000
	e.produce(e.producer(), 0, n)
	cfg := e.config()
	cfg.BatchRows = 150

	type mode struct {
		name string
		run  func(t *testing.T, loaded uint64)
	}
	crashMidBatch := mode{"crash mid-batch", func(t *testing.T, loaded uint64) {
		r := e.start(cfg)
		e.waitRows(loaded+400, time.Minute)
		r.c.crash()
	}}
	crashBeforeCommit := mode{"crash between insert and commit", func(t *testing.T, loaded uint64) {
		var once sync.Once
		var r *running
		r = e.startWith(cfg, func(c *Collector) {
			c.afterInsert = func() {
				if c.stats.inserted.Load() >= 400 {
					once.Do(func() {
						c.crashed.Store(true)
						go c.crash()
					})
				}
			}
		})
		select {
		case <-r.done:
			r.done <- nil
		case <-time.After(time.Minute):
			t.Fatal("collector did not crash")
		}
	}}
	graceful := mode{"graceful stop", func(t *testing.T, loaded uint64) {
		r := e.start(cfg)
		e.waitRows(loaded+400, time.Minute)
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
	}}
	for i, m := range []mode{crashMidBatch, crashBeforeCommit, crashMidBatch, graceful, crashBeforeCommit, crashMidBatch} {
		t.Run(fmt.Sprintf("%d %s", i, m.name), func(t *testing.T) {
			loaded := e.count("SELECT count() FROM {db}.requests")
			if loaded >= n-400 {
				t.Skip("everything is loaded already")
			}
			m.run(t, loaded)
			rows, ids := e.count("SELECT count() FROM {db}.requests"), e.count("SELECT uniqExact(request_id) FROM {db}.requests")
			if rows != ids {
				t.Fatalf("%d rows for %d request ids", rows, ids)
			}
		})
	}
	r := e.start(cfg)
	e.waitRows(n, time.Minute)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	e.checkExactlyOnce(n)
}

// TestLostAcknowledgement makes the collector see errors for inserts that
// ClickHouse applied: it must find them loaded and not insert them again.
func TestLostAcknowledgement(t *testing.T) {
	e := newEnv(t, 3, nil)
	const n = 3000
	e.produce(e.producer(), 0, n)
	var calls atomic.Int64
	r := e.startWith(e.config(), func(c *Collector) {
		c.loseAck = func() error {
			if calls.Add(1)%3 == 0 {
				return errors.New("connection reset after the server applied the insert")
			}
			return nil
		}
	})
	e.waitRows(n, time.Minute)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	e.checkExactlyOnce(n)
	if st := r.c.Stats(); st.DuplicatesSkipped == 0 || st.InsertErrors == 0 {
		t.Errorf("stats = %+v; want insert errors and skipped duplicates", st)
	}
}
