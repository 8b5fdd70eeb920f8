package collector

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaOutage takes Kafka away while the collector loads and brings
// it back: the collector keeps running, and every record reaches every
// table once.
//
// "broker down" closes the cluster (listener and every connection) and,
// seconds later, starts a new one on the same port from the same data
// directory (kfake.DataDir persists records and committed offsets; group
// membership starts over, as after a real broker restart). "broker
// errors" keeps the broker up but fails every request for a few seconds.
func TestKafkaOutage(t *testing.T) {
	tests := []struct {
		name   string
		opts   func(t *testing.T) []kfake.Opt
		outage func(t *testing.T, e *env)
	}{
		{
			name: "broker down",
			opts: func(t *testing.T) []kfake.Opt { return []kfake.Opt{kfake.DataDir(t.TempDir())} },
			outage: func(t *testing.T, e *env) {
				_, port, err := net.SplitHostPort(e.brokers[0])
				if err != nil {
					t.Fatal(err)
				}
				p, _ := strconv.Atoi(port)
				e.kafka.Close()
				time.Sleep(3 * time.Second)
				kc, err := kfake.NewCluster(append(e.kafkaOpts, kfake.Ports(p))...)
				if err != nil {
					t.Fatalf("restart kfake on port %d: %v", p, err)
				}
				t.Cleanup(kc.Close)
				e.kafka = kc
			},
		},
		{
			name: "broker errors",
			opts: func(*testing.T) []kfake.Opt { return nil },
			outage: func(t *testing.T, e *env) {
				// Not produce requests: the test's producer would give
				// up on them, and its records must reach Kafka once.
				h := e.kafka.Fault(kfake.Fault{Err: kerr.UnknownServerError, Count: -1,
					When: func(req kmsg.Request) bool { return req.Key() != int16(kmsg.Produce) }})
				time.Sleep(3 * time.Second)
				h.Remove()
				if h.Hits() == 0 {
					t.Error("no request failed during the outage")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 3, nil, tc.opts(t)...)
			const n = 3000
			p := e.producer()
			e.produce(p, 0, 1000)
			r := e.start(e.config())
			e.waitRows(200, time.Minute)
			// Records keep coming through the outage: the producer
			// buffers and retries them.
			produced := make(chan error, 1)
			go func() {
				for i := 1000; i < 2000; i += 100 {
					if err := e.tryProduce(p, i, i+100); err != nil {
						produced <- err
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
				produced <- nil
			}()
			tc.outage(t, e)
			if err := <-produced; err != nil {
				t.Fatalf("produce: %v", err)
			}
			select {
			case err := <-r.done:
				t.Fatalf("Run returned during the Kafka outage: %v", err)
			default:
			}
			e.produce(p, 2000, n)
			e.waitRows(n, 2*time.Minute)
			time.Sleep(time.Second) // anything loaded twice would show by now
			if err := r.stop(); err != nil {
				t.Fatal(err)
			}
			e.checkExactlyOnce(n)
			st := r.c.Stats()
			t.Logf("stats after the outage: %+v", st)
			if st.Inserted != n {
				t.Errorf("inserted %d rows; want %d", st.Inserted, n)
			}
			if st.Generations < 2 && st.CommitErrors == 0 {
				t.Error("the collector saw no failed commit and no new generation: the outage missed it")
			}
		})
	}
}
