package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of /proc's CPU times: USER_HZ, 100 on every Linux
// architecture Go supports (the kernel scales to it whatever its HZ).
const userHZ = 100

// cpuMark is a reading of CPU time taken at the start of a measurement.
type cpuMark struct {
	at      time.Time
	machine int64   // busy ticks of the whole machine
	self    int64   // this process and its waited-for children (wrk)
	nodes   []int64 // each node's ticks
	ok      bool    // /proc was readable
}

// cpuUse is what a measurement used, in percent of one core.
type cpuUse struct {
	machine, bench, other float64
	nodes                 []float64
	ok                    bool
}

// mark reads the CPU counters now.
func (b *bench) mark() cpuMark {
	m := cpuMark{at: time.Now(), ok: true}
	var err error
	if m.machine, err = machineBusyTicks(); err != nil {
		m.ok = false
	}
	if m.self, err = procTicks("self", true); err != nil {
		m.ok = false
	}
	for _, n := range b.nodes {
		t, err := procTicks(strconv.Itoa(n.cmd.Process.Pid), false)
		if err != nil {
			m.ok = false
		}
		m.nodes = append(m.nodes, t)
	}
	return m
}

// since returns the CPU used from m to now. "other" is the machine's busy
// time less this process, its children and the nodes: processes outside
// the benchmark, whose work makes the numbers noisy.
func (b *bench) since(m cpuMark) cpuUse {
	now := b.mark()
	secs := now.at.Sub(m.at).Seconds()
	if !m.ok || !now.ok || secs <= 0 {
		return cpuUse{}
	}
	pct := func(ticks int64) float64 { return 100 * float64(ticks) / userHZ / secs }
	u := cpuUse{ok: true, machine: pct(now.machine - m.machine), bench: pct(now.self - m.self)}
	own := now.self - m.self
	for i := range now.nodes {
		d := now.nodes[i] - m.nodes[i]
		own += d
		u.nodes = append(u.nodes, pct(d))
	}
	u.other = max(0, pct(now.machine-m.machine-own))
	return u
}

// String renders the use as "nodes 95/12/11 %, bench 40 %, other 2 %".
func (u cpuUse) String() string {
	if !u.ok {
		return "CPU use unknown (/proc unreadable)"
	}
	var ns []string
	for _, n := range u.nodes {
		ns = append(ns, fmt.Sprintf("%.0f", n))
	}
	return fmt.Sprintf("CPU %% of one core: nodes %s, bench %.0f, other %.0f", strings.Join(ns, "/"), u.bench, u.other)
}

// machineBusyTicks sums the busy fields of /proc/stat's "cpu" line: user,
// nice, system, irq and softirq (guest time is already in user; idle,
// iowait and steal are not this machine's work).
func machineBusyTicks() (int64, error) {
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
	return sum, nil
}

// procTicks returns utime+stime of /proc/PID/stat (fields 14 and 15 of
// proc(5)), plus cutime+cstime (16, 17: children waited for) when
// children is set.
func procTicks(pid string, children bool) (int64, error) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
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
	return sum, nil
}
