package upstream

import "math"

// The consistent-hashing ring has `slots` slots (Kong's upstream.slots). A
// key hashes to one slot; each slot belongs to the target that wins a
// weighted rendezvous (highest-random-weight) draw for it. Because every
// slot's draw only compares targets with one another, removing a target
// moves exactly the slots it owned and adding one moves only the slots it
// wins: the minimal disruption Kong gets from its ketama continuum, and an
// exact one. A slot whose owner is unhealthy (or already tried) goes to the
// runner-up of the same draw, so its keys spread over the other targets by
// weight and come back when the owner recovers.
//
// Hashes are FNV-1a with a 64-bit finaliser: stable across processes and
// nodes, so every gateway node sends a key to the same target.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
	golden    = 0x9e3779b97f4a7c15
)

func hashString(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return mix64(h)
}

// mix64 is MurmurHash3's fmix64: FNV alone spreads similar keys poorly.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// drawCost is a target's cost in the draw for slot: -ln(u)/weight with u
// uniform in (0, 1) from the target's seed and the slot. The lowest cost
// wins; a target wins a share of slots proportional to its weight.
func drawCost(seed uint64, slot int, weight int) float64 {
	h := mix64(seed ^ (uint64(slot)+1)*golden)
	u := (float64(h>>11) + 0.5) / (1 << 53)
	return -math.Log(u) / float64(weight)
}

// buildRing assigns every slot to the index of the member that wins its
// draw, -1 when no member has weight.
func buildRing(members []member, slots int) []int32 {
	ring := make([]int32, slots)
	for s := range ring {
		best, bestCost := int32(-1), math.Inf(1)
		for i := range members {
			m := &members[i]
			if m.weight == 0 {
				continue
			}
			if c := drawCost(m.t.hashSeed, s, m.weight); c < bestCost {
				best, bestCost = int32(i), c
			}
		}
		ring[s] = best
	}
	return ring
}
