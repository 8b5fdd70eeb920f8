package logship

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// memDestination keeps what it is given and fails while down is set.
type memDestination struct {
	mu     sync.Mutex
	down   bool
	units  []int64 // BillingUnits of every record taken, in order
	closed int
}

func (d *memDestination) Write(_ context.Context, recs [][]byte, _ bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return errors.New("destination away")
	}
	for _, b := range recs {
		var r logrecord.Record
		if err := logrecord.Decode(b, &r); err != nil {
			return err
		}
		d.units = append(d.units, r.BillingUnits)
	}
	return nil
}

func (d *memDestination) Close() error {
	d.mu.Lock()
	d.closed++
	d.mu.Unlock()
	return nil
}

func (d *memDestination) String() string { return "memory" }

func (d *memDestination) setDown(v bool) {
	d.mu.Lock()
	d.down = v
	d.mu.Unlock()
}

func (d *memDestination) taken() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]int64(nil), d.units...)
}

// A destination other than Kafka gets the same guarantees: every record,
// in order, through an outage, with the spool drained afterwards; the
// Kafka settings are not needed.
func TestOtherDestination(t *testing.T) {
	dest := &memDestination{}
	set := testSettings(t, 1)
	set.Brokers, set.Topic = nil, ""
	set.Destination = dest
	s := open(t, set, Hooks{})
	const n = 3000
	for i := range n {
		if i == 1000 {
			dest.setDown(true)
		}
		if i == 2000 {
			waitFor(t, "records spooled while the destination is away", func() bool { return s.Stats().SpoolRecords > 0 })
			dest.setDown(false)
		}
		s.Enqueue(record(i))
	}
	waitFor(t, "every record delivered", func() bool {
		st := s.Stats()
		return len(dest.taken()) >= n && st.SpoolRecords == 0 && !st.Spooling
	})
	got := dest.taken()
	// At least once, in order: a record may repeat only right after a
	// failed write was retried, never out of order.
	next := int64(0)
	for _, u := range got {
		switch {
		case u == next:
			next++
		case u < next:
			// a repeat of a record already taken
		default:
			t.Fatalf("record %d arrived before record %d", u, next)
		}
	}
	if next != n {
		t.Fatalf("delivered records 0…%d, want 0…%d", next-1, n-1)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if dest.closed != 1 {
		t.Errorf("destination closed %d times, want once", dest.closed)
	}
	if d := s.Stats().Dropped; d != 0 {
		t.Errorf("%d records dropped", d)
	}
}
