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
	cfg       config
	out, errw io.Writer

	dir   string // temporary directory, removed by close
	ch    *chServer
	procs []*benchrig.Proc // every child started, for log tails and close
	http  *http.Client

	mu      sync.Mutex
	closers []func() error // in-process parts, closed last first

	summary benchrig.Summary // the closing table

	closeOnce sync.Once
	closeErr  error
}

func newBench(cfg config, out, errw io.Writer) *bench {
	return &bench{
		cfg:  cfg,
		out:  out,
		errw: errw,
		http: benchrig.LocalClient(4),
	}
}

// progress writes one line to stderr.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.errw, "bench-pipeline: "+format+"\n", args...)
}

// printf writes results to stdout.
func (b *bench) printf(format string, args ...any) {
	fmt.Fprintf(b.out, format, args...)
}

// onClose registers an in-process part to close when the run ends.
func (b *bench) onClose(f func() error) {
	b.mu.Lock()
	b.closers = append(b.closers, f)
	b.mu.Unlock()
}

// Run starts ClickHouse and runs the phases asked for, each on a pipeline
// of its own (broker, database and collector), so that one phase's
// backlog or background merges do not land in the next one's figures.
func (b *bench) Run(ctx context.Context) error {
	if err := benchrig.CheckBinary(b.cfg.bin, "bench-pipeline"); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-pipeline.")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	b.dir = dir
	b.progress("starting ClickHouse (%s)", b.cfg.clickhouse)
	if b.ch, err = startClickHouse(ctx, b.cfg.clickhouse, filepath.Join(dir, "clickhouse")); err != nil {
		return err
	}
	b.procs = append(b.procs, b.ch.Proc)
	b.progress("ClickHouse %s on %s", b.ch.version, b.ch.addr)
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
	b.printSummary()
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
	b.onClose(func() error { kc.Close(); return nil })

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
		b.dir, filepath.Join(b.dir, "collector-"+name+".log"))
	if err != nil {
		return nil, err
	}
	p.collector = c
	b.procs = append(b.procs, c)
	if err := benchrig.WaitReady(ctx, b.http, c, "http://"+p.statusAddr+"/ready", 60*time.Second); err != nil {
		return nil, err
	}
	if p.conn, err = b.ch.open(p.db); err != nil {
		return nil, err
	}
	b.onClose(p.conn.Close)
	b.progress("%s: kfake on %s (%d partitions), database %s, collector pid %s", name,
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
		"TOLLGATE_CLICKHOUSE_ADDR="+b.ch.addr,
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
	set.SpoolDir = filepath.Join(b.dir, "spool-"+p.name)
	sink, err := logship.Open(set, nil, logship.Hooks{})
	if err != nil {
		return nil, set, err
	}
	var once sync.Once
	b.onClose(func() error {
		var err error
		once.Do(func() { err = sink.Close() })
		return err
	})
	return sink, set, nil
}

// get sends one GET and returns status and body (at most 1 MiB).
func (b *bench) get(ctx context.Context, url string) (int, []byte, error) {
	return benchrig.Get(ctx, b.http, url, nil)
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

// printHeader says what ran where.
func (b *bench) printHeader() {
	h := benchrig.Host(b.cfg.bin)
	b.printf("Pipeline benchmark, %s, %d CPUs (%s), %s, %s, ClickHouse %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), h.CPUs, h.Model, h.Kernel, h.Version, b.ch.version)
	b.printf("logship.Sink and kfake (%d partitions) in this process → tollgate collector (process) → ClickHouse (process), all on 127.0.0.1\n", b.cfg.partitions)
	b.printf("nothing is pinned: every process shares the %d CPUs, so per-core figures are events per CPU-second of the process named\n", h.CPUs)
	if h.LoadAvg != "" {
		b.printf("load average before the run: %s\n", h.LoadAvg)
	}
}

// printSummary prints the closing table.
func (b *bench) printSummary() {
	if b.summary.Len() == 0 {
		return
	}
	_, _ = b.summary.WriteTo(b.out)
	b.printf("(per core: events per CPU-second of the processes named, from /proc/PID/stat; nothing is pinned, and the \"other\" CPU above is processes outside the benchmark, whose work makes the figures noisy)\n")
}

// Missed tells whether a measure missed its target.
func (b *bench) Missed() bool { return b.summary.Missed() }

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
		fmt.Fprintf(b.errw, "---- %s (%s), last lines of its output:\n%s", p.Name, p.State(), tail)
	}
	if b.ch != nil {
		fmt.Fprintf(b.errw, "---- clickhouse error log:\n%s\n", b.ch.errTail())
	}
}

// Close stops every child (gateways and collectors first, ClickHouse
// last), closes the in-process parts and removes the temporary directory.
// Idempotent.
func (b *bench) Close() error {
	b.closeOnce.Do(func() {
		var errs []error
		for i := len(b.procs) - 1; i >= 0; i-- {
			errs = append(errs, b.procs[i].Stop(15*time.Second))
		}
		b.mu.Lock()
		closers := b.closers
		b.closers = nil
		b.mu.Unlock()
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		b.http.CloseIdleConnections()
		if b.dir != "" {
			errs = append(errs, os.RemoveAll(b.dir))
		}
		b.closeErr = errors.Join(errs...)
	})
	return b.closeErr
}

// envOr returns the environment variable name, or def when it is unset.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
