package main

import (
	"fmt"
	"strings"
	"time"
)

// cpuMark is a reading of CPU time taken at the start of a measurement:
// the machine's, this process's (kfake, the sink, the generator, the
// upstream and the client live here) and each named child's.
type cpuMark struct {
	at      time.Time
	machine float64
	self    float64
	procs   []*proc
	each    []float64
	ok      bool // /proc was readable
}

// cpuUse is the CPU time a measurement used, in seconds.
type cpuUse struct {
	wall    float64 // seconds of the clock
	machine float64 // busy seconds of the whole machine
	self    float64 // this process and its waited-for children (wrk)
	names   []string
	each    []float64 // per child, as names
	other   float64   // machine less all of the above: outside the benchmark
	ok      bool
}

// markCPU reads the counters now.
func markCPU(ps ...*proc) cpuMark {
	m := cpuMark{at: time.Now(), procs: ps, ok: true}
	var err error
	if m.machine, err = machineBusy(); err != nil {
		m.ok = false
	}
	if m.self, err = procCPU("self", true); err != nil {
		m.ok = false
	}
	for _, p := range ps {
		v, err := procCPU(p.pid(), false)
		if err != nil {
			m.ok = false
		}
		m.each = append(m.each, v)
	}
	return m
}

// use returns the CPU time spent from m to now.
func (m cpuMark) use() cpuUse {
	now := markCPU(m.procs...)
	u := cpuUse{wall: now.at.Sub(m.at).Seconds(), ok: m.ok && now.ok}
	if !u.ok || u.wall <= 0 {
		return cpuUse{}
	}
	u.machine = now.machine - m.machine
	u.self = now.self - m.self
	own := u.self
	for i, p := range m.procs {
		d := now.each[i] - m.each[i]
		own += d
		u.names = append(u.names, p.name)
		u.each = append(u.each, d)
	}
	u.other = max(0, u.machine-own)
	return u
}

// of returns the CPU seconds of the child named name; 0 when absent.
func (u cpuUse) of(name string) float64 {
	for i, n := range u.names {
		if n == name {
			return u.each[i]
		}
	}
	return 0
}

// String renders the use as percent of one core: "CPU % of one core:
// collector 95, clickhouse 60, bench 40, other 2".
func (u cpuUse) String() string {
	if !u.ok {
		return "CPU use unknown (/proc unreadable)"
	}
	pct := func(s float64) string { return fmt.Sprintf("%.0f", 100*s/u.wall) }
	var parts []string
	for i, n := range u.names {
		parts = append(parts, n+" "+pct(u.each[i]))
	}
	parts = append(parts, "bench "+pct(u.self), "other "+pct(u.other))
	return "CPU % of one core: " + strings.Join(parts, ", ")
}
