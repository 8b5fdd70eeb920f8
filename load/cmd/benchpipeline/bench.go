package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tollgate/tollgate/gateway/logship"
	"github.com/tollgate/tollgate/load/benchrig"
)

// topic is the request-log topic, as `tollgate gateway` and `tollgate
// collector` name it by default.
const topic = "tollgate.requests"

// bench is one run: what it started and what it found.
type bench struct {
	*benchrig.Rig
	cfg config

	ch    *benchrig.ClickHouse
	procs []*benchrig.Proc // every child started, for log tails and close
}

func newBench(cfg config, stdout, stderr io.Writer) *bench {
	return &bench{Rig: benchrig.NewRig("bench-pipeline", stdout, stderr, 4), cfg: cfg}
}

// Run starts ClickHouse and runs the phases asked for, each on a pipeline
// of its own (broker, database and collector), so that one phase's
// backlog or background merges do not land in the next one's figures.
func (b *bench) Run(ctx context.Context) error {
	err := b.Prepare(b.cfg.bin)
	if err != nil {
		return err
	}
	b.Progress("starting ClickHouse (%s)", b.cfg.clickhouse)
	if b.ch, err = startClickHouse(ctx, b.cfg.clickhouse, filepath.Join(b.Dir, "clickhouse")); err != nil {
		return err
	}
	b.procs = append(b.procs, b.ch.Proc)
	b.Progress("ClickHouse %s on %s", b.ch.Version, b.ch.Addr)
	b.printHeader()

	if b.cfg.phases[phaseThroughput] {
		if err := b.throughput(ctx); err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
	}
	if b.cfg.phases[phaseFreshness] {
		if err := b.freshness(ctx); err != nil {
			return fmt.Errorf("freshness: %w", err)
		}
	}
	if b.cfg.phases[phaseProxy] {
		if err := b.proxy(ctx); err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
	}
	b.PrintSummary(summaryNote)
	return nil
}

// pipeline is one phase's Kafka broker, ClickHouse database and
// collector process.
type pipeline struct {
	name       string
	kafka      *kfake.Cluster
	brokers    []string
	db         string
	collector  *benchrig.Proc
	statusAddr string // the collector's /status
	conn       driver.Conn
}

// startPipeline starts a broker with the request-log topic, migrates a
// database of its own with `tollgate migrate clickhouse up` and starts
// `tollgate collector` on them.
func (b *bench) startPipeline(ctx context.Context, name string) (*pipeline, error) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(b.cfg.partitions), topic, topic+".dead"))
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	p := &pipeline{name: name, kafka: kc, brokers: kc.ListenAddrs(), db: "bench_" + name}
	b.OnClose(func() error { kc.Close(); return nil })

	env := b.pipelineEnv(p)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, b.cfg.bin, "migrate", "clickhouse", "up")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s migrate clickhouse up: %w\n%s", b.cfg.bin, err, out)
	}

	addrs, err := benchrig.FreePorts(1)
	if err != nil {
		return nil, err
	}
	p.statusAddr = addrs[0]
	c, err := benchrig.StartProc("collector", b.cfg.bin, []string{"collector"},
		append(env, "TOLLGATE_STATUS_LISTEN="+p.statusAddr, "TOLLGATE_NODE_ID=bench-collector-"+name),
		b.Dir, filepath.Join(b.Dir, "collector-"+name+".log"))
	if err != nil {
		return nil, err
	}
	p.collector = c
	b.procs = append(b.procs, c)
	if err := benchrig.WaitReady(ctx, b.HTTP, c, "http://"+p.statusAddr+"/ready", 60*time.Second); err != nil {
		return nil, err
	}
	if p.conn, err = b.ch.Open(p.db); err != nil {
		return nil, err
	}
	b.OnClose(p.conn.Close)
	b.Progress("%s: kfake on %s (%d partitions), database %s, collector pid %s", name,
		strings.Join(p.brokers, ","), b.cfg.partitions, p.db, c.Pid())
	return p, nil
}

// pipelineEnv is the environment of the tollgate processes of p: this
// one's (so TOLLGATE_COLLECTOR_BATCH_ROWS and _TIME pass through), with
// the pipeline's settings on top.
func (b *bench) pipelineEnv(p *pipeline) []string {
	return append(os.Environ(),
		"TOLLGATE_KAFKA_BROKERS="+strings.Join(p.brokers, ","),
		"TOLLGATE_KAFKA_TOPIC="+topic,
		"TOLLGATE_CLICKHOUSE_ADDR="+b.ch.Addr,
		"TOLLGATE_CLICKHOUSE_DATABASE="+p.db,
		"TOLLGATE_LOG_LEVEL=warn",
	)
}

// stop stops the collector (its last batch is flushed on SIGTERM) and the
// broker; the database stays for the run's last queries.
func (p *pipeline) stop() error {
	err := p.collector.Stop(30 * time.Second)
	p.kafka.Close()
	return err
}

// collectorStatus is the collector's GET /status.
type collectorStatus struct {
	Consumed          uint64 `json:"consumed"`
	Inserted          uint64 `json:"inserted"`
	DeadLettered      uint64 `json:"dead_lettered"`
	DuplicatesSkipped uint64 `json:"duplicates_skipped"`
	Batches           uint64 `json:"batches"`
	InsertErrors      uint64 `json:"insert_errors"`
}

func (b *bench) collectorStatus(ctx context.Context, p *pipeline) (collectorStatus, error) {
	var st collectorStatus
	err := b.getJSON(ctx, "http://"+p.statusAddr+"/status", &st)
	return st, err
}

// openSink opens a log sink to p's broker, as a gateway node opens its own
// (logship's defaults), spooling under the run's directory.
func (b *bench) openSink(p *pipeline) (*logship.Sink, logship.Settings, error) {
	set := logship.DefaultSettings()
	set.Brokers = p.brokers
	set.Topic = topic
	set.ClientID = "bench-pipeline-" + p.name
	set.SpoolDir = filepath.Join(b.Dir, "spool-"+p.name)
	sink, err := logship.Open(set, nil, logship.Hooks{})
	if err != nil {
		return nil, set, err
	}
	var once sync.Once
	b.OnClose(func() error {
		var err error
		once.Do(func() { err = sink.Close() })
		return err
	})
	return sink, set, nil
}

// get sends one GET and returns status and body (at most 1 MiB).
func (b *bench) get(ctx context.Context, url string) (int, []byte, error) {
	return benchrig.Get(ctx, b.HTTP, url, nil)
}

// getJSON decodes the JSON answer of a GET into v.
func (b *bench) getJSON(ctx context.Context, url string, v any) error {
	code, body, err := b.get(ctx, url)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, code, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// summaryNote follows the closing table: how to read it.
const summaryNote = "(per core: events per CPU-second of the processes named, from /proc/PID/stat; nothing is pinned, and the \"other\" CPU above is processes outside the benchmark, whose work makes the figures noisy)"

// printHeader says what ran where.
func (b *bench) printHeader() {
	h := benchrig.Host(b.cfg.bin)
	b.Printf("Pipeline benchmark, %s, %d CPUs (%s), %s, %s, ClickHouse %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), h.CPUs, h.Model, h.Kernel, h.Version, b.ch.Version)
	b.Printf("logship.Sink and kfake (%d partitions) in this process → tollgate collector (process) → ClickHouse (process), all on 127.0.0.1\n", b.cfg.partitions)
	b.Printf("nothing is pinned: every process shares the %d CPUs, so per-core figures are events per CPU-second of the process named\n", h.CPUs)
	if h.LoadAvg != "" {
		b.Printf("load average before the run: %s\n", h.LoadAvg)
	}
}

// PrintLogTails shows the end of the log of every child that was not
// stopped on purpose, for a failed run.
func (b *bench) PrintLogTails() {
	for _, p := range b.procs {
		if p.Stopped() {
			continue
		}
		tail, err := benchrig.FileTail(p.LogPath, 30)
		if err != nil {
			continue
		}
		fmt.Fprintf(b.Stderr, "---- %s (%s), last lines of its output:\n%s", p.Name, p.State(), tail)
	}
	if b.ch != nil {
		fmt.Fprintf(b.Stderr, "---- clickhouse error log:\n%s\n", b.ch.ErrTail())
	}
}

// Close stops every child (gateways and collectors first, ClickHouse
// last), then closes the rig: the in-process parts and the temporary
// directory. Idempotent.
func (b *bench) Close() error {
	var errs []error
	for i := len(b.procs) - 1; i >= 0; i-- {
		errs = append(errs, b.procs[i].Stop(15*time.Second))
	}
	return errors.Join(append(errs, b.Rig.Close())...)
}

// envOr returns the environment variable name, or def when it is unset.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
