package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one process this program started: ClickHouse, a collector or a
// gateway node. Its output goes to a log file in the temporary directory.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	exited  chan struct{} // closed when the process has been waited for
	waitErr error
	stopped bool // stop was called: its log is not worth showing
}

// startProc starts path with args and env, output to logPath.
func startProc(name, path string, args, env []string, dir, logPath string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = f
	cmd.Stderr = f
	// A child outlives nothing: if this process dies without its cleanup
	// (SIGKILL), the kernel stops the child too. Its own process group
	// keeps a terminal's Ctrl-C from stopping it in the middle of a
	// measurement: close stops it, in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, logFile: f, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// pid is the process id, as /proc names it.
func (p *proc) pid() string { return strconv.Itoa(p.cmd.Process.Pid) }

// running says the process has not exited.
func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits up to grace for the process to exit, then
// kills it. Stopping a stopped process does nothing.
func (p *proc) stop(grace time.Duration) error {
	if p == nil {
		return nil
	}
	p.stopped = true
	defer p.logFile.Close()
	if !p.running() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", p.name, grace)
}

// freePorts returns n distinct free ports on 127.0.0.1. They are free when
// it returns; a process could take one before the child binds it, in which
// case the child fails to start and says so in its log.
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

// userHZ is the unit of /proc's CPU times: USER_HZ, 100 on every Linux
// architecture Go supports (the kernel scales to it whatever its HZ).
const userHZ = 100

// errNoProc says a process's CPU time could not be read.
var errNoProc = errors.New("process gone")

// procCPU returns utime+stime of /proc/PID/stat (fields 14 and 15 of
// proc(5)) in seconds, plus cutime+cstime (16, 17: children waited for)
// when children is set.
func procCPU(pid string, children bool) (float64, error) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errNoProc, err)
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%s/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(f)+2)
	}
	last := 12 // field 15
	if children {
		last = 14 // field 17
	}
	var sum int64
	for j := 11; j <= last; j++ {
		v, err := strconv.ParseInt(f[j], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%s/stat: %w", pid, err)
		}
		sum += v
	}
	return float64(sum) / userHZ, nil
}

// machineBusy returns the busy CPU seconds of the whole machine from
// /proc/stat's "cpu" line: user, nice, system, irq and softirq (guest time
// is already in user; idle, iowait and steal are not this machine's work).
func machineBusy() (float64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var sum int64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		sum += v
	}
	return float64(sum) / userHZ, nil
}
