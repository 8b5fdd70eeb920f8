package clickhouse

import (
	"os"
	"testing"

	"github.com/ClickHouse/ch-go"

	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/analytics/query/querytest"
	"github.com/tollgate/tollgate/collector"
	"github.com/tollgate/tollgate/internal/clickhousetest"
	"github.com/tollgate/tollgate/internal/logrecord"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

var clickhouse clickhousetest.Shared

func TestMain(m *testing.M) { os.Exit(clickhouse.Main(m, true)) }

func TestConformance(t *testing.T) {
	querytest.Run(t, func(t *testing.T) (query.Store, querytest.Loader) {
		srv := clickhouse.Server(t)
		db := srv.Database(t)
		conn := srv.Conn(t, db)
		if _, err := clickhousemigrate.Up(t.Context(), conn, db, nil); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		s, err := New(conn, db)
		if err != nil {
			t.Fatal(err)
		}
		loader := collector.NewLoader(conn, db, ch.Options{Address: srv.Addr(), Database: db, User: "default"})
		t.Cleanup(func() { loader.Close() })
		var offset int64
		return s, func(t *testing.T, recs []logrecord.Record) {
			t.Helper()
			var rows collector.Rows
			for i := range recs {
				rows.Add(&recs[i], "tollgate.requests", 0, offset)
				offset++
			}
			if err := loader.Insert(t.Context(), "querytest", &rows); err != nil {
				t.Fatal(err)
			}
		}
	})
}
