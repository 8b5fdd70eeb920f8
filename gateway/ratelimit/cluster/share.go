package cluster

import (
	"math"
	"sort"
)

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
// nodes of rates in proportion to their rates, by the largest-remainder
// method: each node gets the floor of its exact part, and the units left
// over go to the nodes with the largest fractional parts, ties broken by
// node id (lowest first). Every node that runs share over the same rates
// and remaining gets its own part of one division, so the parts of all
// nodes sum to exactly remaining.
//
// rates must be sorted by node (sortRates); nodes with a rate of zero or
// less get nothing. ok is false when me has no positive rate in rates or no
// node has one: the caller then falls back to a probe or a cold-start share.
func share(remaining int64, rates []nodeRate, me string) (part int64, ok bool) {
	if remaining <= 0 {
		return 0, containsPositive(rates, me)
	}
	var sum float64
	mine := -1
	for i, r := range rates {
		if r.rate > 0 {
			sum += r.rate
			if r.node == me {
				mine = i
			}
		}
	}
	if mine < 0 || sum <= 0 {
		return 0, false
	}
	// The explicit float64 conversions round each step, so that no platform
	// fuses a multiply and an add (the Go spec allows it) and nodes on
	// different architectures divide alike.
	exact := func(r float64) float64 { return float64(float64(remaining)*r) / sum }
	floorOf := func(r float64) int64 { return int64(math.Floor(exact(r))) }
	var given int64
	for _, r := range rates {
		if r.rate > 0 {
			given += floorOf(r.rate)
		}
	}
	left := remaining - given // in [0, number of nodes)
	myFloor := floorOf(rates[mine].rate)
	myFrac := exact(rates[mine].rate) - float64(myFloor)
	// me gets one more unit when fewer than left nodes rank before it.
	var before int64
	for i, r := range rates {
		if r.rate <= 0 || i == mine {
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

func containsPositive(rates []nodeRate, me string) bool {
	for _, r := range rates {
		if r.node == me {
			return r.rate > 0
		}
	}
	return false
}
