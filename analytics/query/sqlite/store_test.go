package sqlite

import (
	"testing"

	"github.com/tollgate/tollgate/analytics/embedded"
	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/analytics/query/querytest"
	"github.com/tollgate/tollgate/internal/logrecord"
)

func TestConformance(t *testing.T) {
	querytest.Suite{ExactPercentiles: true}.Run(t, func(t *testing.T) (query.Store, querytest.Loader) {
		es, err := embedded.Open(t.Context(), ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { es.Close() })
		return New(es.DB()), func(t *testing.T, recs []logrecord.Record) {
			t.Helper()
			if ins, _, err := es.Load(t.Context(), recs); err != nil || ins != len(recs) {
				t.Fatalf("load %d records: %d loaded, %v", len(recs), ins, err)
			}
		}
	})
}
