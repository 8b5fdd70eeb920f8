package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

// `migrate clickhouse compact` merges the settled days of the rollups,
// each written by several INSERTs, into one part per partition, and says
// how many partitions it merged.
func TestMigrateClickHouseCompact(t *testing.T) {
	ch := sharedClickHouse.Server(t)
	db := ch.Database(t)
	env := map[string]string{"TOLLGATE_CLICKHOUSE_ADDR": ch.Addr(), "TOLLGATE_CLICKHOUSE_DATABASE": db, "TOLLGATE_LOG_LEVEL": "error"}
	if code, out, errOut := runCLI(t, env, "migrate", "clickhouse", "up"); code != 0 {
		t.Fatalf("migrate clickhouse up: %d %q %q", code, out, errOut)
	}
	conn := ch.Conn(t, db)
	// A day of last week, so that the week rollup's partition is over
	// too.
	week := int64(clickhousemigrate.Week / time.Second)
	day := time.Unix(time.Now().Unix()/week*week-week, 0).UTC().Add(clickhousemigrate.Day)
	for i := range 10 {
		// One INSERT each: a part of every rollup's partition of the day.
		b, err := conn.PrepareBatch(t.Context(), "INSERT INTO "+db+".requests (request_id, started_at, started_at_ms, workspace, consumer_id, status)")
		if err != nil {
			t.Fatal(err)
		}
		at := day.Add(time.Duration(i) * time.Hour)
		if err := b.Append(fmt.Sprint("r", i), at, at.UnixMilli(), "ws", "c", uint16(200)); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := runCLI(t, env, "migrate", "clickhouse", "compact")
	if code != 0 || !strings.Contains(out, "partition(s) merged into one part") {
		t.Fatalf("migrate clickhouse compact: %d %q %q", code, out, errOut)
	}
	var split uint64
	err := conn.QueryRow(t.Context(), "SELECT count() FROM (SELECT table, partition FROM system.parts WHERE database = ? AND active "+
		"AND has(?, table) GROUP BY table, partition HAVING count() > 1)", db, clickhousemigrate.Compactable).Scan(&split)
	if err != nil {
		t.Fatal(err)
	}
	if split != 0 {
		t.Errorf("%d partitions of the compactable rollups still hold several parts after compact", split)
	}
}
