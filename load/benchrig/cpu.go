package benchrig

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

// CPUMark is a reading of CPU time taken at the start of a measurement:
// the machine's, the benchmark process's (with its waited-for children,
// such as wrk) and each named child's.
type CPUMark struct {
	at      time.Time
	machine float64
	self    float64
	procs   []*Proc
	each    []float64
	ok      bool // /proc was readable
}

// CPUUse is the CPU time a measurement used, in seconds.
type CPUUse struct {
	Wall    float64   // seconds of the clock
	Machine float64   // busy seconds of the whole machine
	Self    float64   // the benchmark process and its waited-for children (wrk)
	Names   []string  // the children's names, as MarkCPU was given them
	Each    []float64 // per child, as Names
	Other   float64   // Machine less all of the above: processes outside the benchmark, whose work makes the figures noisy
	OK      bool      // false: /proc was unreadable and every figure is zero
}

// MarkCPU reads the counters of the machine, this process and ps now.
func MarkCPU(ps ...*Proc) CPUMark {
	m := CPUMark{at: time.Now(), procs: ps, ok: true}
	var err error
	if m.machine, err = MachineBusy(); err != nil {
		m.ok = false
	}
	if m.self, err = ProcCPU("self", true); err != nil {
		m.ok = false
	}
	for _, p := range ps {
		v, err := ProcCPU(p.Pid(), false)
		if err != nil {
			m.ok = false
		}
		m.each = append(m.each, v)
	}
	return m
}

// At is when m was read.
func (m CPUMark) At() time.Time { return m.at }

// Use returns the CPU time spent from m to now.
func (m CPUMark) Use() CPUUse {
	now := MarkCPU(m.procs...)
	u := CPUUse{Wall: now.at.Sub(m.at).Seconds(), OK: m.ok && now.ok}
	if !u.OK || u.Wall <= 0 {
		return CPUUse{}
	}
	u.Machine = now.machine - m.machine
	u.Self = now.self - m.self
	own := u.Self
	for i, p := range m.procs {
		d := now.each[i] - m.each[i]
		own += d
		u.Names = append(u.Names, p.Name)
		u.Each = append(u.Each, d)
	}
	u.Other = max(0, u.Machine-own)
	return u
}

// Of returns the CPU seconds of the child named name; 0 when absent.
func (u CPUUse) Of(name string) float64 {
	for i, n := range u.Names {
		if n == name {
			return u.Each[i]
		}
	}
	return 0
}

// Percent renders CPU seconds s as percent of one core over the
// measurement, without decimals.
func (u CPUUse) Percent(s float64) string {
	return fmt.Sprintf("%.0f", 100*s/u.Wall)
}

// String renders the use as percent of one core: "CPU % of one core:
// collector 95, clickhouse 60, bench 40, other 2".
func (u CPUUse) String() string {
	if !u.OK {
		return "CPU use unknown (/proc unreadable)"
	}
	var parts []string
	for i, n := range u.Names {
		parts = append(parts, n+" "+u.Percent(u.Each[i]))
	}
	parts = append(parts, "bench "+u.Percent(u.Self), "other "+u.Percent(u.Other))
	return "CPU % of one core: " + strings.Join(parts, ", ")
}

// ProcCPU returns utime+stime of /proc/PID/stat (fields 14 and 15 of
// proc(5)) in seconds, plus cutime+cstime (16, 17: children waited for)
// when children is set.
func ProcCPU(pid string, children bool) (float64, error) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStat(pid, string(data), children)
}

func parseProcStat(pid, s string, children bool) (float64, error) {
	// The command name, field 2, is in parentheses and may hold spaces
	// and parentheses.
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

// MachineBusy returns the busy CPU seconds of the whole machine from
// /proc/stat's "cpu" line: user, nice, system, irq and softirq (guest time
// is already in user; idle, iowait and steal are not this machine's work).
func MachineBusy() (float64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseMachineStat(string(data))
}

func parseMachineStat(s string) (float64, error) {
	line, _, _ := strings.Cut(s, "\n")
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
