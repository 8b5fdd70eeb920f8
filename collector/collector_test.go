package collector

import (
	"testing"
	"time"
)

func TestLoadsEveryRecordOnce(t *testing.T) {
	e := newEnv(t, 3, nil)
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
}
