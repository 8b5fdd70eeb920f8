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

// Every dimension and metric has its SQL, so no query can reach a nil
// map entry.
func TestEveryDimensionAndMetricIsMapped(t *testing.T) {
	for _, d := range query.Dimensions {
		if keyColumn[d] == "" {
			t.Errorf("dimension %s has no column", d)
		}
	}
	for _, m := range query.AllMetrics {
		if orderExpr[m] == "" {
			t.Errorf("metric %s has no expression", m)
		}
	}
}
