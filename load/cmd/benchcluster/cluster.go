package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// gnode is one `tollgate gateway` process.
type gnode struct {
	num                  int // 1, 2, 3
	id                   string
	proxy, admin, status string // host:port
	logPath              string
	cmd                  *exec.Cmd
	logFile              *os.File
	exited               chan struct{} // closed when the process has been waited for
	waitErr              error
}

// bench is one run: what it started and what it found.
type bench struct {
	cfg       config
	out, errw io.Writer

	dir      string // temporary directory, removed by close
	keyspace string
	cql      *backend
	upstream *upstream
	nodes    []*gnode
	http     *http.Client // Admin API, status and polls

	missed  bool         // a target was missed
	summary []summaryRow // the closing table

	closeOnce sync.Once
	closeErr  error
}

func newBench(cfg config, out, errw io.Writer) *bench {
	return &bench{
		cfg:  cfg,
		out:  out,
		errw: errw,
		http: &http.Client{
			Timeout: 5 * time.Second,
			Transport: &http.Transport{
				Proxy:               nil, // everything is on 127.0.0.1
				MaxIdleConnsPerHost: 8,
				DisableCompression:  true,
			},
		},
	}
}

// progress writes one line to stderr.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.errw, "bench-cluster: "+format+"\n", args...)
}

// printf writes results to stdout.
func (b *bench) printf(format string, args ...any) {
	fmt.Fprintf(b.out, format, args...)
}

// start brings up the CQL server (or connects to Cassandra), the schema,
// the upstream and the three nodes.
func (b *bench) start(ctx context.Context) error {
	if fi, err := os.Stat(b.cfg.bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s not found or not executable: build it with 'make build' (make bench-cluster does), or set TOLLGATE_BIN", b.cfg.bin)
	}
	dir, err := os.MkdirTemp("", "bench-cluster.")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	b.dir = dir

	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	b.keyspace = "bench_" + hex.EncodeToString(suffix[:])

	if b.cql, err = startBackend(b.cfg.cassandra); err != nil {
		return err
	}
	if b.cql.srv != nil {
		b.progress("in-memory CQL server on %s", b.cql.addr)
	} else {
		b.progress("using Cassandra at %s, keyspace %s", b.cql.addr, b.keyspace)
	}

	b.progress("migrating keyspace %s", b.keyspace)
	if err := b.migrate(ctx); err != nil {
		return err
	}

	if b.upstream, err = startUpstream(); err != nil {
		return err
	}

	for i := 1; i <= 3; i++ {
		n, err := b.startNode(i)
		if err != nil {
			return err
		}
		b.nodes = append(b.nodes, n)
	}
	for _, n := range b.nodes {
		if err := b.waitReady(ctx, n, 60*time.Second); err != nil {
			return err
		}
		b.progress("node %d ready: proxy %s, admin %s, status %s", n.num, n.proxy, n.admin, n.status)
	}
	return nil
}

// childEnv is the environment of the tollgate processes: this one's, with
// the cluster's settings on top.
func (b *bench) childEnv(extra ...string) []string {
	env := os.Environ()
	env = append(env,
		"TOLLGATE_CASSANDRA_HOSTS="+b.cql.addr,
		"TOLLGATE_CASSANDRA_KEYSPACE="+b.keyspace,
		"TOLLGATE_DB_UPDATE_FREQUENCY="+b.cfg.dbUpdateFrequency,
		"TOLLGATE_RATELIMIT_SYNC_INTERVAL="+b.cfg.syncInterval,
		"TOLLGATE_LOG_LEVEL=warn",
	)
	return append(env, extra...)
}

func (b *bench) migrate(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, b.cfg.bin, "migrate", "cassandra", "up")
	cmd.Env = b.childEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s migrate cassandra up: %w\n%s", b.cfg.bin, err, out)
	}
	return nil
}

// freePorts returns n distinct free ports on 127.0.0.1. They are free when
// it returns; a process could take one before the node binds it, in which
// case the node fails to start and says so in its log.
func freePorts(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	addrs := make([]string, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

func (b *bench) startNode(num int) (*gnode, error) {
	addrs, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(b.dir, fmt.Sprintf("node%d", num))
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("node %d data dir: %w", num, err)
	}
	n := &gnode{
		num:     num,
		id:      fmt.Sprintf("bench-node-%d", num),
		proxy:   addrs[0],
		admin:   addrs[1],
		status:  addrs[2],
		logPath: filepath.Join(b.dir, fmt.Sprintf("node%d.log", num)),
		exited:  make(chan struct{}),
	}
	f, err := os.Create(n.logPath)
	if err != nil {
		return nil, fmt.Errorf("node %d log: %w", num, err)
	}
	n.logFile = f
	cmd := exec.Command(b.cfg.bin, "gateway")
	cmd.Env = b.childEnv(
		"TOLLGATE_PROXY_LISTEN="+n.proxy,
		"TOLLGATE_ADMIN_LISTEN="+n.admin,
		"TOLLGATE_STATUS_LISTEN="+n.status,
		"TOLLGATE_DATA_DIR="+dataDir,
		"TOLLGATE_NODE_ID="+n.id,
	)
	cmd.Stdout = f
	cmd.Stderr = f
	// A node outlives nothing: if this process dies without its cleanup
	// (SIGKILL), the kernel stops the node too. Its own process group
	// keeps a terminal's Ctrl-C from stopping it in the middle of a
	// measurement: close stops it, in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start node %d: %w", num, err)
	}
	n.cmd = cmd
	go func() {
		n.waitErr = cmd.Wait()
		close(n.exited)
	}()
	return n, nil
}

// waitReady polls the node's GET /ready until it answers 200.
func (b *bench) waitReady(ctx context.Context, n *gnode, within time.Duration) error {
	deadline := time.Now().Add(within)
	url := "http://" + n.status + "/ready"
	last := "no answer"
	for {
		select {
		case <-n.exited:
			return fmt.Errorf("node %d exited at start: %v", n.num, n.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		code, body, err := b.get(ctx, url, nil)
		switch {
		case err != nil:
			last = err.Error()
		case code == http.StatusOK:
			return nil
		default:
			last = fmt.Sprintf("%d %s", code, strings.TrimSpace(string(body)))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %d not ready after %v (GET %s: %s)", n.num, within, url, last)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// get sends one GET and returns status and body (at most 64 KiB).
func (b *bench) get(ctx context.Context, url string, hdr http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

// admin sends one Admin API request to node n with a JSON body (nil for
// none) and returns the response body; a status other than 2xx is an
// error naming the call.
func (b *bench) admin(ctx context.Context, n *gnode, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("admin %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+n.admin+path, rd)
	if err != nil {
		return nil, fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin %s %s on node %d: %w", method, path, n.num, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("admin %s %s on node %d: read response: %w", method, path, n.num, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("admin %s %s on node %d answered %d: %s", method, path, n.num, resp.StatusCode, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// printLogTails shows the end of every node's log, for a failed run.
func (b *bench) printLogTails() {
	for _, n := range b.nodes {
		tail, err := fileTail(n.logPath, 40)
		if err != nil {
			continue
		}
		state := "running"
		select {
		case <-n.exited:
			state = fmt.Sprintf("exited: %v", n.waitErr)
		default:
		}
		fmt.Fprintf(b.errw, "---- node %d (%s), last lines of its log:\n%s", n.num, state, tail)
	}
}

// fileTail returns the last n lines of the file at path.
func fileTail(path string, n int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return "(empty)\n", sc.Err()
	}
	return strings.Join(lines, "\n") + "\n", sc.Err()
}

// close stops the nodes (SIGTERM, then SIGKILL after 10s), the upstream and
// the CQL server, and removes the temporary directory. Idempotent.
func (b *bench) close() error {
	b.closeOnce.Do(func() {
		var errs []error
		for _, n := range b.nodes {
			select {
			case <-n.exited:
				continue
			default:
			}
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, n := range b.nodes {
			select {
			case <-n.exited:
			case <-time.After(10 * time.Second):
				errs = append(errs, fmt.Errorf("node %d did not stop within 10s of SIGTERM; killed", n.num))
				_ = n.cmd.Process.Kill()
				<-n.exited
			}
			n.logFile.Close()
		}
		if b.upstream != nil {
			errs = append(errs, b.upstream.close())
		}
		if b.cql != nil {
			errs = append(errs, b.cql.close())
		}
		b.http.CloseIdleConnections()
		if b.dir != "" {
			errs = append(errs, os.RemoveAll(b.dir))
		}
		b.closeErr = errors.Join(errs...)
	})
	return b.closeErr
}

// upstream is the in-process service every route proxies to: 200 "ok".
type upstream struct {
	addr string
	srv  *fasthttp.Server
	done chan error
}

func startUpstream() (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	u := &upstream{
		addr: ln.Addr().String(),
		srv: &fasthttp.Server{
			Handler: func(c *fasthttp.RequestCtx) {
				c.SetContentType("text/plain")
				c.SetBodyString("ok")
			},
			Name:            "bench-upstream",
			IdleTimeout:     2 * time.Minute,
			ReadTimeout:     30 * time.Second,
			CloseOnShutdown: true,
		},
		done: make(chan error, 1),
	}
	go func() { u.done <- u.srv.Serve(ln) }()
	return u, nil
}

func (u *upstream) url() string { return "http://" + u.addr }

func (u *upstream) close() error {
	err := u.srv.Shutdown()
	if serr := <-u.done; serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	return nil
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleepUntil sleeps until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	return sleepCtx(ctx, time.Until(t))
}
