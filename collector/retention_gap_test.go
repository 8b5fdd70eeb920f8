package collector

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/lockedbuffer"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// deleteRecords deletes partition 0's records before offset, as Kafka's
// retention does.
func (e *env) deleteRecords(cl *kgo.Client, offset int64) {
	e.t.Helper()
	req := kmsg.NewPtrDeleteRecordsRequest()
	topic := kmsg.NewDeleteRecordsRequestTopic()
	topic.Topic = testTopic
	p := kmsg.NewDeleteRecordsRequestTopicPartition()
	p.Partition, p.Offset = 0, offset
	topic.Partitions = append(topic.Partitions, p)
	req.Topics = append(req.Topics, topic)
	req.TimeoutMillis = 10_000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := req.RequestWith(ctx, cl)
	if err != nil {
		e.t.Fatalf("delete records: %v", err)
	}
	for _, t := range res.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				e.t.Fatalf("delete records of partition %d: %v", p.Partition, err)
			}
		}
	}
}

// Records Kafka deleted before a collector loaded them are gone: the
// collector reads on from the partition's first offset, says how many it
// lost, and loads everything after them.
func TestRecordsDeletedBeforeLoadingAreSkipped(t *testing.T) {
	e := newEnv(t, 1, nil)
	cl := e.producer()
	cfg := e.config()
	r := e.start(cfg)
	e.produce(cl, 0, 50)
	e.waitRows(50, time.Minute)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	// While no collector runs, 50 more records arrive and retention
	// deletes every message before them, then 20 more arrive. The 100
	// records are in 100/testPerMessage messages.
	e.produce(cl, 50, 100)
	e.deleteRecords(cl, 100/testPerMessage)
	e.produce(cl, 100, 120)

	var logs lockedbuffer.Buffer
	c, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	r = &running{c: c, done: make(chan error, 1)}
	go func() { r.done <- c.Run(context.Background()) }()
	t.Cleanup(func() { _ = r.stop() })
	e.waitRows(70, time.Minute)
	time.Sleep(300 * time.Millisecond) // let a wrong extra batch land, if any
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	rows, err := e.conn.Query(t.Context(), "SELECT request_id FROM "+e.db+".requests WHERE request_id >= 'req-0000050' ORDER BY request_id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if len(ids) != 20 || ids[0] != "req-0000100" || ids[19] != "req-0000119" {
		t.Errorf("loaded after the first 50: %d records %v, want req-0000100..req-0000119", len(ids), ids)
	}
	e.checkExactlyOnce(70)
	if out := logs.String(); !strings.Contains(out, "records were deleted by Kafka before they were loaded") ||
		!strings.Contains(out, fmt.Sprintf("lost_messages=%d", 50/testPerMessage)) {
		t.Errorf("the collector did not say it lost the %d messages of 50 records; its log:\n%s", 50/testPerMessage, out)
	}
}
