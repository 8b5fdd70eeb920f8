package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tollgate/tollgate/load/benchrig"
)

// gnode is one `tollgate gateway` process, named "node 1" to "node 3".
type gnode struct {
	*benchrig.Proc
	num                  int // 1, 2, 3
	id                   string
	proxy, admin, status string // host:port
}

// bench is one run: what it started and what it found.
type bench struct {
	*benchrig.Rig
	cfg config

	keyspace string
	cql      *backend
	upstream *benchrig.Upstream
	nodes    []*gnode
}

func newBench(cfg config, stdout, stderr io.Writer) *bench {
	return &bench{Rig: benchrig.NewRig("bench-cluster", stdout, stderr, 8), cfg: cfg}
}

// start brings up the CQL server (or connects to Cassandra), the schema,
// the upstream and the three nodes.
func (b *bench) start(ctx context.Context) error {
	err := b.Prepare(b.cfg.bin)
	if err != nil {
		return err
	}

	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	b.keyspace = "bench_" + hex.EncodeToString(suffix[:])

	if b.cql, err = startBackend(b.cfg.cassandra); err != nil {
		return err
	}
	b.OnClose(b.cql.close)
	if b.cql.srv != nil {
		b.Progress("in-memory CQL server on %s", b.cql.addr)
	} else {
		b.Progress("using Cassandra at %s, keyspace %s", b.cql.addr, b.keyspace)
	}

	b.Progress("migrating keyspace %s", b.keyspace)
	if err := b.migrate(ctx); err != nil {
		return err
	}

	if b.upstream, err = benchrig.StartUpstream(); err != nil {
		return err
	}
	b.OnClose(b.upstream.Close)

	for i := 1; i <= 3; i++ {
		n, err := b.startNode(i)
		if err != nil {
			return err
		}
		b.nodes = append(b.nodes, n)
	}
	for _, n := range b.nodes {
		if err := benchrig.WaitReady(ctx, b.HTTP, n.Proc, "http://"+n.status+"/ready", 60*time.Second); err != nil {
			return err
		}
		b.Progress("node %d ready: proxy %s, admin %s, status %s", n.num, n.proxy, n.admin, n.status)
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

func (b *bench) startNode(num int) (*gnode, error) {
	addrs, err := benchrig.FreePorts(3)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(b.Dir, fmt.Sprintf("node%d", num))
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("node %d data dir: %w", num, err)
	}
	id := fmt.Sprintf("bench-node-%d", num)
	env := b.childEnv(
		"TOLLGATE_PROXY_LISTEN="+addrs[0],
		"TOLLGATE_ADMIN_LISTEN="+addrs[1],
		"TOLLGATE_STATUS_LISTEN="+addrs[2],
		"TOLLGATE_DATA_DIR="+dataDir,
		"TOLLGATE_NODE_ID="+id,
	)
	p, err := benchrig.StartProc(fmt.Sprintf("node %d", num), b.cfg.bin, []string{"gateway"}, env, "",
		filepath.Join(b.Dir, fmt.Sprintf("node%d.log", num)))
	if err != nil {
		return nil, err
	}
	return &gnode{
		Proc:   p,
		num:    num,
		id:     id,
		proxy:  addrs[0],
		admin:  addrs[1],
		status: addrs[2],
	}, nil
}

// get sends one GET and returns status and body.
func (b *bench) get(ctx context.Context, url string, hdr http.Header) (int, []byte, error) {
	return benchrig.Get(ctx, b.HTTP, url, hdr)
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
	resp, err := b.HTTP.Do(req)
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

// PrintLogTails shows the end of every node's log, for a failed run.
func (b *bench) PrintLogTails() {
	for _, n := range b.nodes {
		tail, err := benchrig.FileTail(n.LogPath, 40)
		if err != nil {
			continue
		}
		fmt.Fprintf(b.Stderr, "---- %s (%s), last lines of its log:\n%s", n.Name, n.State(), tail)
	}
}

// Close stops the nodes (SIGTERM to all, then SIGKILL to any still running
// 10s later), then closes the rig: the upstream, the CQL server, and the
// temporary directory. Idempotent.
func (b *bench) Close() error {
	var errs []error
	for _, n := range b.nodes {
		n.Terminate()
	}
	for _, n := range b.nodes {
		errs = append(errs, n.Stop(10*time.Second))
	}
	return errors.Join(append(errs, b.Rig.Close())...)
}
