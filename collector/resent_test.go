package collector

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// produceResent writes records [from, to) again, marked resent as a
// gateway marks what it sends from its spool.
func (e *env) produceResent(cl *kgo.Client, from, to int) {
	e.t.Helper()
	msgs := e.messages(from, to)
	for _, m := range msgs {
		m.Headers = append(m.Headers, kgo.RecordHeader{Key: logrecord.HeaderResent, Value: []byte("1")})
	}
	if err := e.produceMessages(cl, msgs); err != nil {
		e.t.Fatalf("produce: %v", err)
	}
}

// A gateway that could not tell whether a write landed sends its records
// again, marked resent, at other offsets: those ClickHouse already has,
// and those the same batch already holds, are not loaded twice; resent
// records that never landed are loaded.
func TestResentRecordsAreLoadedOnce(t *testing.T) {
	e := newEnv(t, 3, nil)
	// Keyed, so that a record and its resends share a partition and the
	// resend comes after the record (as the gateway's sink partitions by
	// request id).
	// (The round-robin producer of the other tests could put a resend
	// ahead of its record, in another partition.)
	cl := e.producer(kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	cfg := e.config()
	cfg.BatchRows = 5000
	cfg.BatchInterval = time.Second
	r := e.start(cfg)

	e.produce(cl, 0, 500)
	e.waitRows(500, time.Minute)
	// Resends of loaded records, then resends that overlap records in
	// the same batch, then resends of records that never arrived.
	e.produce(cl, 500, 800)
	e.produceResent(cl, 400, 700)
	e.produceResent(cl, 800, 1000)
	e.produce(cl, 1000, 1100)
	e.waitRows(1100, time.Minute)
	time.Sleep(500 * time.Millisecond) // let a wrong extra batch land, if any
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	e.checkExactlyOnce(1100)
	if got := r.c.Stats().DuplicatesSkipped; got != 300 {
		t.Errorf("duplicates skipped = %d; want the 300 resends of records already loaded or batched", got)
	}
}
