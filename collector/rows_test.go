package collector

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/tollgate/tollgate/internal/logrecord"
)

// TestRowsRoundTrip inserts records through Rows and reads them back:
// every column holds the field of its record, after Keep removed some
// rows and Reset emptied the rows of an earlier batch.
func TestRowsRoundTrip(t *testing.T) {
	e := newEnv(t, 1, nil)
	now := time.Now().Truncate(time.Millisecond)
	var recs []logrecord.Record
	for i := range 10 {
		recs = append(recs, testRecord(i, now))
	}
	recs[3].ErrorClass = "timeout"
	recs[3].UpstreamTries = 70000 // clamped to the UInt16 column
	recs[4].Billable = true
	recs[5].TraceID = ""

	var rows Rows
	rows.Add(&recs[0], "earlier-batch", 9, 9)
	rows.Reset()
	if rows.Len() != 0 {
		t.Fatalf("Len after Reset = %d", rows.Len())
	}
	for i := range recs {
		rows.Add(&recs[i], testTopic, i%2, int64(i))
	}
	// Keep the rows whose offset is not a multiple of 3.
	if n := rows.Keep(func(i int) bool { return rows.Offset(i)%3 != 0 }); n != 4 {
		t.Fatalf("Keep removed %d rows; want 4", n)
	}
	if rows.Len() != 6 {
		t.Fatalf("Len after Keep = %d; want 6", rows.Len())
	}
	if err := e.loader().Insert(t.Context(), newQueryID(), &rows); err != nil {
		t.Fatalf("Insert: %v", err)
	}

	type row struct {
		Record     logrecord.Record
		StartedSec int64
		Topic      string
		Partition  int
		Offset     int64
	}
	var want []row
	for i := range recs {
		if i%3 == 0 {
			continue
		}
		r := recs[i]
		r.UpstreamTries = min(r.UpstreamTries, 65535)
		want = append(want, row{r, r.StartedAt / 1000, testTopic, i % 2, int64(i)})
	}
	q := "SELECT " + insertColumns + " FROM " + e.db + ".requests ORDER BY kafka_offset"
	res, err := e.conn.Query(t.Context(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer res.Close()
	var got []row
	for res.Next() {
		var (
			g                       row
			r                       = &g.Record
			started                 time.Time
			status, upStatus, tries uint16
			billable                uint8
			partition               int32
		)
		if err := res.Scan(&r.RequestID, &r.TraceID, &started, &r.StartedAt, &r.NodeID,
			&r.Workspace, &r.ServiceID, &r.RouteID, &r.RoutePath, &r.ConsumerID, &r.CredentialID,
			&r.Method, &r.Protocol, &r.Host, &r.Path, &r.ClientIP, &r.UserAgent,
			&status, &upStatus, &r.Responder, &tries, &r.UpstreamAddr,
			&r.LatencyTotalMs, &r.LatencyGatewayMs, &r.LatencyUpstreamMs, &r.RequestBytes, &r.ResponseBytes,
			&r.AuthOutcome, &r.RateLimitOutcome, &r.ErrorClass, &billable, &r.BillingUnits,
			&g.Topic, &partition, &g.Offset); err != nil {
			t.Fatalf("scan: %v", err)
		}
		r.Status, r.UpstreamStatus, r.UpstreamTries = int(status), int(upStatus), int(tries)
		r.Billable = billable == 1
		g.StartedSec, g.Partition = started.Unix(), int(partition)
		got = append(got, g)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		var b strings.Builder
		for i := range max(len(got), len(want)) {
			var g, w any
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if !reflect.DeepEqual(g, w) {
				fmt.Fprintf(&b, "row %d:\n got  %+v\n want %+v\n", i, g, w)
			}
		}
		t.Fatalf("inserted rows differ from the records:\n%s", b.String())
	}
}

// TestRowsInputColumns checks that the block Rows hands the loader names
// insertColumns, in order: the INSERT's column list and the block's
// columns must match.
func TestRowsInputColumns(t *testing.T) {
	var rows Rows
	var names []string
	for _, c := range rows.input() {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ", "); got != insertColumns {
		t.Fatalf("input columns\n got  %s\n want %s", got, insertColumns)
	}
}

// A string column keeps its values in the native encoding, and Keep,
// truncate and value agree with a plain slice of the same values.
func TestStrColumnMatchesSlice(t *testing.T) {
	long := strings.Repeat("é", 200) // a two-byte uvarint length
	vals := []string{"a", "", long, "bcd", long + "x", "", "z"}
	var c strColumn
	for _, v := range vals {
		c.add(v)
	}
	check := func(label string, want []string) {
		t.Helper()
		if c.Rows() != len(want) {
			t.Fatalf("%s: %d rows, want %d", label, c.Rows(), len(want))
		}
		var enc proto.Buffer
		for i, w := range want {
			if got := c.value(i); got != w {
				t.Errorf("%s: value(%d) = %.20q, want %.20q", label, i, got, w)
			}
			enc.PutString(w)
		}
		var got proto.Buffer
		c.EncodeColumn(&got)
		if !bytes.Equal(got.Buf, enc.Buf) {
			t.Errorf("%s: encoding differs from proto.Buffer.PutString's", label)
		}
	}
	check("added", vals)
	c.keep([]bool{false, true, true, false, true, true, false})
	check("kept", []string{"", long, long + "x", ""})
	c.truncate(2)
	check("truncated", []string{"", long})
	c.add("after")
	check("added after", []string{"", long, "after"})
	c.truncate(0)
	check("emptied", nil)
}
