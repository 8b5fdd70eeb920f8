package benchrig

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is one process a benchmark started (a gateway node, a collector,
// ClickHouse). Its output goes to a log file, which Stop closes. A Proc
// is used by the one goroutine that drives the run.
type Proc struct {
	// Name names the process in errors and log tails ("node 2",
	// "collector"), and CPUUse.Names.
	Name string
	// LogPath is the file its stdout and stderr go to.
	LogPath string

	cmd        *exec.Cmd
	logFile    *os.File
	exited     chan struct{} // closed once the process has been waited for
	waitErr    error         // Wait's answer; read only after exited is closed
	terminated bool          // SIGTERM was sent
	stopped    bool          // Stop was called
}

// StartProc starts path with args in dir (the current directory when
// empty) with the environment env, its output to a file created at
// logPath.
func StartProc(name, path string, args, env []string, dir, logPath string) (*Proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = f
	cmd.Stderr = f
	// A child outlives nothing: if the benchmark dies without its cleanup
	// (SIGKILL), the kernel stops the child too. Its own process group
	// keeps a terminal's Ctrl-C from stopping it in the middle of a
	// measurement: the benchmark stops it, in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, logFile: f, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the process id, as /proc names it.
func (p *Proc) Pid() string { return strconv.Itoa(p.cmd.Process.Pid) }

// Pause stops the process (SIGSTOP) until Resume (SIGCONT): a benchmark
// keeps a process from taking CPU during a measurement it is not part of.
func (p *Proc) Pause() error { return p.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused process.
func (p *Proc) Resume() error { return p.cmd.Process.Signal(syscall.SIGCONT) }

// Running says the process has not exited.
func (p *Proc) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Exited is closed when the process has exited and been waited for.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// WaitErr is what waiting for the process answered: nil while it runs
// and when it exited with status 0.
func (p *Proc) WaitErr() error {
	if p.Running() {
		return nil
	}
	return p.waitErr
}

// State is "running" or "exited: " and how.
func (p *Proc) State() string {
	if p.Running() {
		return "running"
	}
	return fmt.Sprintf("exited: %v", p.waitErr)
}

// Stopped says Stop was called: the process ended on purpose, and its log
// is not worth showing.
func (p *Proc) Stopped() bool { return p.stopped }

// Terminate sends SIGTERM, once, without waiting: a benchmark stopping
// several processes signals them all before it waits for each.
func (p *Proc) Terminate() {
	if p.terminated || !p.Running() {
		return
	}
	p.terminated = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
}

// Stop sends SIGTERM (unless Terminate did) and waits up to grace for the
// process to exit, then kills it and says so. It closes the log file.
// Stopping a stopped process does nothing; a nil Proc is stopped.
func (p *Proc) Stop(grace time.Duration) error {
	if p == nil {
		return nil
	}
	p.stopped = true
	defer p.logFile.Close()
	if !p.Running() {
		return nil
	}
	p.Terminate()
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", p.Name, grace)
}

// WaitReady polls url with GET until it answers 200, p exits, ctx ends or
// within has passed.
func WaitReady(ctx context.Context, c *http.Client, p *Proc, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	last := "no answer"
	for {
		if !p.Running() {
			return fmt.Errorf("%s exited at start: %v", p.Name, p.waitErr)
		}
		code, body, err := Get(ctx, c, url, nil)
		switch {
		case err != nil:
			last = err.Error()
		case code == http.StatusOK:
			return nil
		default:
			last = fmt.Sprintf("%d %s", code, strings.TrimSpace(string(body)))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v (GET %s: %s)", p.Name, within, url, last)
		}
		if err := Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// Get sends one GET with the extra headers hdr (nil for none) and returns
// the status and the body, of which it reads at most 1 MiB.
func Get(ctx context.Context, c *http.Client, url string, hdr http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

// LocalClient is an HTTP client for the run's own servers, all on
// 127.0.0.1: no proxy, no compression, a 5 s timeout.
func LocalClient(maxIdlePerHost int) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: maxIdlePerHost,
			DisableCompression:  true,
		},
	}
}

// FreePorts returns n distinct free ports on 127.0.0.1. They are free when
// it returns; a process could take one before the child binds it, in which
// case the child fails to start and says so in its log.
func FreePorts(n int) ([]string, error) {
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

// FileTail returns the last n lines of the file at path, each ending in a
// newline, or "(empty)\n".
func FileTail(path string, n int) (string, error) {
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

// Sleep sleeps for d or until ctx ends, and then returns ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
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

// SleepUntil sleeps until t or until ctx ends.
func SleepUntil(ctx context.Context, t time.Time) error {
	return Sleep(ctx, time.Until(t))
}
