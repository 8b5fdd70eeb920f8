package embedded

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/logrecord"
)

func TestLoaderDecodesDeadLettersAndIgnoresRepeats(t *testing.T) {
	ctx := context.Background()
	s := open(t, ":memory:")
	l := NewLoader(s)
	var batch [][]byte
	for i := range 50 {
		r := record(i, 200)
		batch = append(batch, logrecord.Append(nil, &r))
	}
	invalid := record(99, 200)
	invalid.RequestID = ""
	batch = append(batch, []byte{0xff, 0xff, 0xff}, logrecord.Append(nil, &invalid))
	if err := l.Write(ctx, batch, false); err != nil {
		t.Fatal(err)
	}
	// The sink repeats a batch whose write it could not confirm.
	if err := l.Write(ctx, batch[40:], true); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Loaded != 50 || st.Duplicates != 10 || st.DeadLettered != 4 {
		t.Errorf("stats %+v, want 50 loaded, 10 duplicates, 4 dead-lettered (two per write)", st)
	}
	tot, err := s.RawTotals(ctx, t0, t0.Add(time.Hour))
	if err != nil || tot.Requests != 50 {
		t.Errorf("%d requests stored (%v), want 50", tot.Requests, err)
	}
	reasons, err := s.DeadLetters(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(reasons) != 4 || !strings.Contains(reasons[0], "malformed") || !strings.Contains(reasons[1], "request_id") {
		t.Errorf("dead letters %q: want the malformed and the invalid record, each with its reason", reasons)
	}
}
