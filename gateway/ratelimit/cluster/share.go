package cluster

import (
	"math"
	"sort"
)

// standingShare is the part of a remainder divided equally among the nodes
// of a window, whatever their rates: it lets a node whose demand is
// occasional admit a request now and then without waiting for a round,
// while the key is far from its limit. Near the limit it rounds to nothing
// (a node's equal part is below one hit once the remainder is below
// nodes/standingShare), so the last hits go where the demand is.
const standingShare = 0.1

// nodeRate is one node's published request rate for a key and window, as
// read from its slot row.
type nodeRate struct {
	node string
	rate float64
}

// sortRates orders rates by node id, the order in which every node
// computes shares so that they all get the same answer from the same rows.
func sortRates(rs []nodeRate) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].node < rs[j].node })
}

// share returns node me's part of remaining when it is divided among the
// nodes of rates: standingShare of it equally, the rest in proportion to
// their rates (equally when no rate is positive). It uses the
// largest-remainder method: each node gets the floor of its exact part, and
// the units left over go to the nodes with the largest fractional parts,
// ties broken by node id (lowest first). Every node that runs share over
// the same rates and remaining gets its own part of one division, so the
// parts of all nodes sum to exactly remaining.
//
// rates must be sorted by node (sortRates). ok is false when me is not in
// rates: a node no other node has seen yet has no part.
func share(remaining int64, rates []nodeRate, me string) (part int64, ok bool) {
	mine := -1
	var sum float64
	for i, r := range rates {
		if r.node == me {
			mine = i
		}
		sum += max(0, r.rate)
	}
	if mine < 0 {
		return 0, false
	}
	if remaining <= 0 {
		return 0, true
	}
	m := float64(len(rates))
	// The explicit float64 conversions round each step, so that no platform
	// fuses a multiply and an add (the Go spec allows it) and nodes on
	// different architectures divide alike.
	weight := func(r float64) float64 {
		if sum <= 0 {
			return 1 / m
		}
		return float64(standingShare/m) + float64(float64((1-standingShare)*max(0, r))/sum)
	}
	exact := func(r float64) float64 { return float64(float64(remaining) * weight(r)) }
	floorOf := func(r float64) int64 { return int64(math.Floor(exact(r))) }
	var given int64
	for _, r := range rates {
		given += floorOf(r.rate)
	}
	left := remaining - given // in [0, number of nodes), but for rounding
	myFloor := floorOf(rates[mine].rate)
	myFrac := exact(rates[mine].rate) - float64(myFloor)
	// me gets one more unit when fewer than left nodes rank before it.
	var before int64
	for i, r := range rates {
		if i == mine {
			continue
		}
		f := exact(r.rate) - math.Floor(exact(r.rate))
		if f > myFrac || (f == myFrac && i < mine) {
			before++
		}
	}
	if before < left {
		myFloor++
	}
	return myFloor, true
}
