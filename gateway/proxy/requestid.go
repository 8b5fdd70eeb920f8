package proxy

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
)

// idGen hands out request ids shaped as UUIDs: a random per-process prefix
// and a counter, so that ids are unique across nodes and restarts without
// costing a random read per request.
type idGen struct {
	prefix [8]byte
	n      atomic.Uint64
}

func newIDGen() *idGen {
	g := &idGen{}
	_, _ = rand.Read(g.prefix[:])         // crypto/rand.Read never fails
	g.prefix[6] = g.prefix[6]&0x0f | 0x40 // version 4
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	g.n.Store(binary.BigEndian.Uint64(seed[:]) >> 2)
	return g
}

const hexDigits = "0123456789abcdef"

// next writes the next id into dst.
func (g *idGen) next(dst *[36]byte) {
	var b [16]byte
	copy(b[:8], g.prefix[:])
	binary.BigEndian.PutUint64(b[8:], g.n.Add(1))
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	j := 0
	for i, c := range b {
		switch i {
		case 4, 6, 8, 10:
			dst[j] = '-'
			j++
		}
		dst[j] = hexDigits[c>>4]
		dst[j+1] = hexDigits[c&0x0f]
		j += 2
	}
}
