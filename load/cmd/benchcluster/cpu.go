package main

import (
	"fmt"
	"strings"

	"github.com/tollgate/tollgate/load/benchrig"
)

// cpuUse is what a measurement used: the nodes, this process (load
// generator, upstream, CQL server and wrk) and the rest of the machine.
type cpuUse benchrig.CPUUse

// mark reads the CPU counters of the machine, this process and the nodes
// now.
func (b *bench) mark() benchrig.CPUMark {
	ps := make([]*benchrig.Proc, len(b.nodes))
	for i, n := range b.nodes {
		ps[i] = n.Proc
	}
	return benchrig.MarkCPU(ps...)
}

// since returns the CPU used from m to now.
func (b *bench) since(m benchrig.CPUMark) cpuUse { return cpuUse(m.Use()) }

// String renders the use as "CPU % of one core: nodes 95/12/11, bench 40,
// other 2".
func (u cpuUse) String() string {
	if !u.OK {
		return "CPU use unknown (/proc unreadable)"
	}
	bu := benchrig.CPUUse(u)
	var ns []string
	for _, s := range u.Each {
		ns = append(ns, bu.Percent(s))
	}
	return fmt.Sprintf("CPU %% of one core: nodes %s, bench %s, other %s", strings.Join(ns, "/"), bu.Percent(u.Self), bu.Percent(u.Other))
}
