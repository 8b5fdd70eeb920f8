package route

import "sort"

// The prefix paths of each host bucket live in a radix tree (a compressed
// byte trie). Every node on the walk down a request path is a prefix of
// that path, so one walk finds all prefix routes whose path matches, in
// time bounded by the length of the path and not by the number of routes.
//
// Trees are built with pointers (buildNode) and then frozen into flat
// arrays shared by the whole table (node, labels, pentry): a bucket's
// nodes sit next to each other, children next to their siblings, so a
// lookup in a table of many thousand routes touches a few cache lines
// instead of chasing a pointer per node.

// buildNode is a radix tree node while the table is being compiled.
type buildNode struct {
	label    string
	children []*buildNode
	entries  []pentry
}

func (n *buildNode) insert(path string, e pentry) {
	rest := path
	for {
		if rest == "" {
			n.entries = append(n.entries, e)
			return
		}
		i := -1
		for k, c := range n.children {
			if c.label[0] == rest[0] {
				i = k
				break
			}
		}
		if i < 0 {
			n.children = append(n.children, &buildNode{label: rest, entries: []pentry{e}})
			return
		}
		c := n.children[i]
		l := commonPrefix(c.label, rest)
		if l == len(c.label) {
			n = c
			rest = rest[l:]
			continue
		}
		// split c at l: mid keeps the shared part, c keeps its tail
		mid := &buildNode{label: c.label[:l], children: []*buildNode{c}}
		c.label = c.label[l:]
		n.children[i] = mid
		n = mid
		rest = rest[l:]
	}
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// node is a frozen radix tree node. Nodes, labels and entries are laid
// out in the same order, so a node's label and entries end where the next
// node's begin (the last node is a sentinel) and need no length fields:
// a node is 16 bytes, four to a cache line.
type node struct {
	// labels[labelOff : next.labelOff] is the node's label followed by the
	// first bytes of its children's labels, one per child
	labelOff uint32
	childOff uint32 // children are nodes[childOff : childOff+childN]
	entOff   uint32 // entries are pents[entOff : next.entOff]
	childN   uint16 // at most 256: children differ in their first byte
}

// pentry is one route path ending at a node. It is kept small, and holds
// what a match needs, so that matching on host and prefix path alone reads
// neither the sub nor the route.
type pentry struct {
	rank   int32  // the sub's rank, also its index in Table.subs
	pathID uint32 // the route path as configured is Table.paths[pathID]
	entry  uint32 // index in Table.entries
	flags  uint8
}

const (
	peFields    = 1 << iota // the sub has methods, headers or snis to check
	peHTTPSOnly             // the route only accepts https
)

// freezer lays buildNode trees out in flat arrays. labels holds each
// node's label followed by the first bytes of its children's labels, so a
// step down the tree reads one short run of bytes.
type freezer struct {
	nodes  []node
	labels []byte
	pents  []pentry
}

// freeze appends the tree under root, breadth first, and returns the
// index of its root node. Breadth first, nodes are filled in the order
// their slots are allocated, which keeps labels and entries in node order.
func (f *freezer) freeze(root *buildNode) uint32 {
	type item struct {
		n   *buildNode
		idx int
	}
	rootIdx := len(f.nodes)
	f.nodes = append(f.nodes, node{})
	queue := []item{{root, rootIdx}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		bn := it.n
		sort.SliceStable(bn.entries, func(i, j int) bool { return bn.entries[i].rank < bn.entries[j].rank })
		nd := node{
			labelOff: uint32(len(f.labels)),
			entOff:   uint32(len(f.pents)),
			childOff: uint32(len(f.nodes)),
			childN:   uint16(len(bn.children)),
		}
		f.labels = append(f.labels, bn.label...)
		for _, c := range bn.children {
			f.labels = append(f.labels, c.label[0])
		}
		f.pents = append(f.pents, bn.entries...)
		f.nodes[it.idx] = nd
		for _, c := range bn.children {
			queue = append(queue, item{c, len(f.nodes)})
			f.nodes = append(f.nodes, node{})
		}
	}
	return uint32(rootIdx)
}

// finish appends the sentinel node that closes the last node's label and
// entries.
func (f *freezer) finish() {
	f.nodes = append(f.nodes, node{labelOff: uint32(len(f.labels)), entOff: uint32(len(f.pents))})
}
