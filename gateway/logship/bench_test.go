package logship

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// brokerChildEnv, when set to a port, makes the test binary a Kafka broker
// (kfake) instead of running tests: BenchmarkSinkToKafka starts one so that
// the broker's CPU time is not counted as the sink's.
const brokerChildEnv = "LOGSHIP_BENCH_BROKER_PORT"

// runBrokerChild serves kfake on the port in brokerChildEnv until stdin is
// closed. It reports whether the process was started as one.
func runBrokerChild() bool {
	ps := os.Getenv(brokerChildEnv)
	if ps == "" {
		return false
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(3, topic))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	c.Close()
	return true
}

// startBrokerProcess runs kfake (3 partitions) in a child process.
func startBrokerProcess(b *testing.B) int {
	b.Helper()
	port := freePort(b)
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), brokerChildEnv+"="+strconv.Itoa(port))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		b.Fatalf("broker process: %q, %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return port
}

// nopDestination takes every write.
type nopDestination struct{}

func (nopDestination) Write(context.Context, [][]byte, bool) error { return nil }
func (nopDestination) Close() error                                { return nil }
func (nopDestination) String() string                              { return "nothing" }

// processCPU is the CPU time, user and system, this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSinkToKafka enqueues records at a gateway's rate (30,000/s, from
// 6 goroutines, in bursts every millisecond) with the gateway's default
// settings, and reports this process's CPU time per record: cpu-ns/rec.
// The broker runs in another process. "pacing" runs the same loops without
// enqueueing anything: the baseline to subtract. "nop" is the sink writing
// to a destination that does nothing (Enqueue and batching); "kafka" adds
// the Kafka producer.
//
//	go test -run '^$' -bench SinkToKafka -benchtime 150000x -benchmem ./gateway/logship
func BenchmarkSinkToKafka(b *testing.B) {
	const (
		rate      = 30000
		producers = 6
	)
	recs := make([]*logrecord.Record, 4096)
	for i := range recs {
		r := record(i)
		r.RequestID = fmt.Sprintf("%08x-4b1e-4c2a-9d3f-%012x", i*2654435761, i)
		recs[i] = r
	}
	for _, dest := range []string{"pacing", "nop", "kafka"} {
		b.Run(dest, func(b *testing.B) {
			enqueue := func(*logrecord.Record) {}
			set := DefaultSettings()
			set.SpoolDir = filepath.Join(b.TempDir(), "spool")
			if dest == "kafka" {
				set.Brokers = []string{"127.0.0.1:" + strconv.Itoa(startBrokerProcess(b))}
			} else {
				set.Destination = nopDestination{}
			}
			s, err := Open(set, slog.New(slog.DiscardHandler), Hooks{})
			if err != nil {
				b.Fatal(err)
			}
			if dest != "pacing" {
				enqueue = s.Enqueue
			}
			// Warm up: connections, metadata, pools.
			for i := range 2000 {
				s.Enqueue(recs[i%len(recs)])
			}
			waitFor(b, "warm-up records sent", func() bool { return s.Stats().Sent >= 2000 })
			sent0 := s.Stats().Sent
			want := int64(b.N)
			if dest == "pacing" {
				want = 0
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU(b)
			done := make(chan struct{})
			per := b.N / producers
			for p := range producers {
				n := per
				if p == 0 {
					n += b.N % producers
				}
				go func() {
					defer func() { done <- struct{}{} }()
					tick := time.NewTicker(time.Millisecond)
					defer tick.Stop()
					burst := max(1, rate/1000/producers)
					for i := 0; i < n; {
						<-tick.C
						for j := 0; j < burst && i < n; j++ {
							enqueue(recs[(p*7919+i)%len(recs)])
							i++
						}
					}
				}()
			}
			for range producers {
				<-done
			}
			waitFor(b, "records sent", func() bool { return s.Stats().Sent-sent0 >= want })
			cpu := processCPU(b) - cpu0
			b.StopTimer()
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			st := s.Stats()
			if st.Dropped > 0 || st.Spooled > 0 {
				b.Fatalf("dropped %d, spooled %d", st.Dropped, st.Spooled)
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/rec")
		})
	}
}
