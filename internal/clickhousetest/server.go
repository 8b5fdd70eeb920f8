package clickhousetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/clickhouselocal"
)

// Environment variables the package reads.
const (
	// EnvAddr names the variable holding host:port (native protocol) of
	// an existing ClickHouse to run tests against instead of starting one.
	EnvAddr = "TOLLGATE_TEST_CLICKHOUSE"
	// EnvRequire names the comma-separated list of parts a run must not
	// skip for lack of ("clickhouse" among them makes a missing server
	// binary a test failure).
	EnvRequire = "TOLLGATE_REQUIRE"
)

// Errors.
var (
	// ErrExternal is returned by Stop, Kill and Start on a server this
	// package did not start (TOLLGATE_TEST_CLICKHOUSE): it cannot control
	// it.
	ErrExternal = errors.New("clickhouse server not started by clickhousetest")
	// ErrNoBinary says neither clickhouse-server nor clickhouse is
	// installed.
	ErrNoBinary = clickhouselocal.ErrNotInstalled
)

// startTimeout bounds how long a server may take to answer after its
// process starts; 18.16 answers in well under a second on an idle machine,
// but loading many tables of earlier tests takes longer.
const startTimeout = 60 * time.Second

// Server is one ClickHouse server: a child process this package started
// (in which case it can be stopped and started again on the same ports and
// data directory, for outage tests) or an external one.
type Server struct {
	addr     string // native protocol, host:port
	httpAddr string // HTTP interface, host:port; empty for an external server
	dir      string // temporary directory with config, data and logs
	external bool

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	werr   error         // cmd.Wait's error, valid after exited is closed
}

// Addr is the server's native protocol address, host:port.
func (s *Server) Addr() string { return s.addr }

// HTTPAddr is the server's HTTP interface address, host:port, or "" for
// an external server.
func (s *Server) HTTPAddr() string { return s.httpAddr }

// External says the server is one this package did not start: Stop, Kill
// and Start fail on it with ErrExternal.
func (s *Server) External() bool { return s.external }

// Dir is the server's temporary directory (config.xml, users.xml, data/,
// server.log, server.err.log), or "" for an external server.
func (s *Server) Dir() string { return s.dir }

// Start returns a ClickHouse server of t's own, stopped and removed when t
// ends. Tests that stop or restart the server use it; others should share
// one server per test binary with Shared. With TOLLGATE_TEST_CLICKHOUSE set
// it returns that server, which cannot be stopped: outage tests call
// SkipIfExternal.
func Start(t testing.TB) *Server {
	t.Helper()
	if addr := os.Getenv(EnvAddr); addr != "" {
		t.Logf("using the ClickHouse at %s (%s)", addr, EnvAddr)
		return &Server{addr: addr, external: true}
	}
	bin, err := clickhouselocal.FindBinary()
	if err != nil {
		skipOrFail(t, err)
	}
	s, err := startServer(bin, t.TempDir())
	if err != nil {
		t.Fatalf("start clickhouse: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stop clickhouse: %v", err)
		}
	})
	return s
}

// SkipIfExternal skips t when s is an external server, which a test cannot
// stop or restart.
func SkipIfExternal(t testing.TB, s *Server) {
	t.Helper()
	if s.external {
		t.Skipf("needs a ClickHouse it can stop; %s points at an external one", EnvAddr)
	}
}

// skipOrFail skips t for a missing server, or fails it when the run
// requires ClickHouse.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if required("clickhouse") {
		t.Fatalf("%v; %s requires clickhouse", err, EnvRequire)
		return
	}
	t.Skipf("%v; or set %s=host:port", err, EnvAddr)
}

func required(part string) bool {
	for _, p := range strings.Split(os.Getenv(EnvRequire), ",") {
		if strings.EqualFold(strings.TrimSpace(p), part) {
			return true
		}
	}
	return false
}

// startServer writes a configuration with free ports into dir and starts
// the server. A port picked free can be taken before the server binds it;
// then it tries again with new ports.
func startServer(bin clickhouselocal.Binary, dir string) (*Server, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		s := &Server{
			addr:     net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[0])),
			httpAddr: net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[1])),
			dir:      dir,
		}
		cfg := clickhouselocal.DefaultConfig()
		cfg.Dir, cfg.TCPPort, cfg.HTTPPort = dir, ports[0], ports[1]
		if err := clickhouselocal.WriteConfig(cfg); err != nil {
			return nil, err
		}
		if err := s.launch(bin); err != nil {
			lastErr = err
			continue
		}
		return s, nil
	}
	return nil, lastErr
}

// freePorts asks the kernel for n free TCP ports on 127.0.0.1, holding
// all listeners open until every port is known so that they differ.
func freePorts(n int) ([]int, error) {
	var (
		ports = make([]int, 0, n)
		lns   = make([]net.Listener, 0, n)
	)
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// launch starts the server process from the configuration in s.dir and
// waits until it answers.
func (s *Server) launch(bin clickhouselocal.Binary) error {
	cmd := exec.Command(bin.Path, bin.CommandArgs(s.dir)...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = sysProcAttr()
	// Output goes to a file rather than a pipe: a pipe needs a goroutine
	// to drain it, and the server logs to its own files anyway.
	out, err := os.OpenFile(filepath.Join(s.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open server output: %w", err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return fmt.Errorf("run %s: %w", bin.Path, err)
	}
	_ = out.Close() // the child holds its own descriptor
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.werr = err
		s.mu.Unlock()
		close(exited)
	}()
	if err := s.waitReady(exited); err != nil {
		_ = s.Kill()
		return err
	}
	return nil
}

// waitReady waits until the server answers, or fails with the end of its
// log.
func (s *Server) waitReady(exited <-chan struct{}) error {
	err := clickhouselocal.WaitReady(context.Background(), s.httpAddr, s.addr, exited, startTimeout)
	switch {
	case errors.Is(err, clickhouselocal.ErrExited):
		s.mu.Lock()
		werr := s.werr
		s.mu.Unlock()
		return fmt.Errorf("%w (%v): %s", err, werr, s.logTail())
	case err != nil:
		return fmt.Errorf("%w: %s", err, s.logTail())
	}
	return nil
}

// logTail returns the end of the server's error log, for error messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, clickhouselocal.ServerErrLog))
	if err != nil || len(b) == 0 {
		b, _ = os.ReadFile(filepath.Join(s.dir, "stdout.log"))
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	if len(b) == 0 {
		return "(no server log)"
	}
	return strings.TrimSpace(string(b))
}

// Running says the server process is up.
func (s *Server) Running() bool {
	if s.external {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Stop shuts the server down gracefully (SIGTERM, then SIGKILL after 30
// seconds) and waits for it to exit. Stopping a stopped server does
// nothing.
func (s *Server) Stop() error { return s.stop(syscall.SIGTERM, 30*time.Second) }

// Kill stops the server as a crash would (SIGKILL) and waits for it to
// exit. Killing a stopped server does nothing.
func (s *Server) Kill() error { return s.stop(syscall.SIGKILL, 0) }

func (s *Server) stop(sig syscall.Signal, grace time.Duration) error {
	if s.external {
		return ErrExternal
	}
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal clickhouse: %w", err)
	}
	if grace > 0 {
		select {
		case <-exited:
			return nil
		case <-time.After(grace):
		}
		_ = cmd.Process.Kill()
	}
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("clickhouse (pid %d) did not exit", cmd.Process.Pid)
	}
}

// Start starts a stopped server again on the same ports with the same data
// and waits until it answers. Starting a running server does nothing.
func (s *Server) Start() error {
	if s.external {
		return ErrExternal
	}
	if s.Running() {
		return nil
	}
	bin, err := clickhouselocal.FindBinary()
	if err != nil {
		return err
	}
	if err := s.launch(bin); err != nil {
		return fmt.Errorf("restart clickhouse: %w", err)
	}
	return nil
}

// Restart stops the server gracefully and starts it again.
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.Start()
}

// Close kills a server this package started: its data is thrown away
// with its directory, and a graceful stop waits seconds for idle client
// connections. It is idempotent and does nothing for an external server.
func (s *Server) Close() error {
	if s.external {
		return nil
	}
	return s.Kill()
}

// Ping checks that the server answers a query over the native protocol.
func (s *Server) Ping(ctx context.Context) error {
	conn, err := s.open("default")
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Ping(ctx)
}
