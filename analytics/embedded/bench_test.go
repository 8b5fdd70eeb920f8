package embedded

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// BenchmarkLoad loads batches of 1,000 records, as standalone's request
// log hands them over, into a database file: ns/op is per record. The
// records of a batch fall in a few minutes and spread over 5 services and
// 20 consumers.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "analytics.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 1000
	recs := make([]logrecord.Record, batch)
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		size := min(batch, b.N-i)
		for j := range size {
			r := record(n, 200)
			r.RequestID = fmt.Sprintf("bench-%09d", n)
			r.StartedAt = t0.Add(time.Duration(n) * 10 * time.Millisecond).UnixMilli()
			r.ServiceID = fmt.Sprintf("svc-%d", n%5)
			r.ConsumerID = fmt.Sprintf("consumer-%d", n%20)
			if n%10 == 0 {
				r.Status = 404
			}
			recs[j] = r
			n++
		}
		if _, _, err := s.Load(ctx, recs[:size]); err != nil {
			b.Fatal(err)
		}
	}
}
