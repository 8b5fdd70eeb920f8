package cluster

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func rates(pairs ...any) []nodeRate {
	var out []nodeRate
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, nodeRate{node: pairs[i].(string), rate: pairs[i+1].(float64)})
	}
	sortRates(out)
	return out
}

func TestShare(t *testing.T) {
	tests := []struct {
		name      string
		remaining int64
		rates     []nodeRate
		want      map[string]int64 // node → part; absent nodes are not ok
	}{
		{"even split", 300, rates("a", 10.0, "b", 10.0, "c", 10.0), map[string]int64{"a": 100, "b": 100, "c": 100}},
		{"remainder to lowest ids on a tie", 100, rates("c", 5.0, "a", 5.0, "b", 5.0), map[string]int64{"a": 34, "b": 33, "c": 33}},
		{"two left over", 2, rates("a", 1.0, "b", 1.0, "c", 1.0), map[string]int64{"a": 1, "b": 1, "c": 0}},
		// 5% standing each, 90% by rate: 0.05+0.675, 0.05+0.225.
		{"proportional with a standing part", 1000, rates("a", 3000.0, "b", 1000.0), map[string]int64{"a": 725, "b": 275}},
		{"largest fraction first", 10, rates("a", 1.0, "b", 3.0), map[string]int64{"a": 3, "b": 7}},
		{"one busy node takes all", 57, rates("a", 1667.0), map[string]int64{"a": 57}},
		{"zero rate keeps its standing part", 100, rates("a", 0.0, "b", 9.0), map[string]int64{"a": 5, "b": 95}},
		{"standing part rounds away near the limit", 3, rates("a", 0.0, "b", 9.0), map[string]int64{"a": 0, "b": 3}},
		{"no rates: equal parts", 10, rates("a", 0.0, "b", 0.0), map[string]int64{"a": 5, "b": 5}},
		{"nothing remains", 0, rates("a", 1.0, "b", 1.0), map[string]int64{"a": 0, "b": 0}},
		{"overspent", -5, rates("a", 1.0), map[string]int64{"a": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range append(tt.rates, nodeRate{node: "absent"}) {
				got, ok := share(tt.remaining, tt.rates, r.node)
				want, wantOK := tt.want[r.node]
				if ok != wantOK || got != want {
					t.Errorf("share(%d, %s) = %d, %v; want %d, %v", tt.remaining, r.node, got, ok, want, wantOK)
				}
			}
		})
	}
}

// The parts of all nodes sum to the remainder, whatever the rates.
func TestSharePartsSumToRemainder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		n := 1 + rng.IntN(7)
		var rs []nodeRate
		for j := range n {
			r := 0.0
			if rng.IntN(4) > 0 {
				r = rng.Float64() * 5000
			}
			if rng.IntN(5) == 0 {
				r = 100 // exact ties
			}
			rs = append(rs, nodeRate{node: fmt.Sprintf("n%d", j), rate: r})
		}
		sortRates(rs)
		rem := rng.Int64N(100000)
		var sum int64
		for _, r := range rs {
			p, ok := share(rem, rs, r.node)
			if !ok {
				t.Fatalf("case %d: node %s of the rates has no part", i, r.node)
			}
			if p < 0 {
				t.Fatalf("case %d: negative part %d", i, p)
			}
			sum += p
		}
		if sum != rem {
			t.Fatalf("case %d: parts of %v sum to %d, want %d", i, rs, sum, rem)
		}
	}
}
