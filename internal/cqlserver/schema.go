package cqlserver

import (
	"crypto/rand"
	"encoding/binary"
	"sort"
	"strings"
	"time"
)

// maxTTL is the largest TTL Cassandra accepts: 20 years in seconds.
const maxTTL = 20 * 365 * 24 * 60 * 60

type colKind int

const (
	kindPartition colKind = iota
	kindClustering
	kindRegular
)

func (k colKind) String() string {
	switch k {
	case kindPartition:
		return "partition_key"
	case kindClustering:
		return "clustering"
	}
	return "regular"
}

type column struct {
	name string
	typ  *cqlType
	kind colKind
	pos  int // position within the partition or clustering key
}

type keyspace struct {
	name        string
	replication map[string]string
	durable     bool
	tables      map[string]*table
}

// table is one table's schema and data. Rows live in partitions keyed by
// the serialized partition key, kept sorted in clustering order.
type table struct {
	ks, name   string
	id         []byte
	cols       []*column // Cassandra's order: partition key, clustering, then the rest by name
	byName     map[string]*column
	pk, ck     []*column
	desc       []bool // per clustering column: stored in descending order
	defaultTTL int
	comment    string
	parts      map[string]*partition
	virtual    [][][]byte // rows of a system table, in cols order
}

type partition struct {
	key  [][]byte
	rows []*row
}

// row holds one CQL row. Cells carry their own expiry, as Cassandra's do;
// marker is the row's own liveness, set by INSERT (not UPDATE), so that a
// row inserted with only key columns exists until it expires.
type row struct {
	ck        [][]byte
	marker    bool
	markerExp time.Time
	cells     map[string]cell
}

type cell struct {
	val []byte
	exp time.Time // zero: never
}

func (c cell) live(now time.Time) bool {
	return c.val != nil && (c.exp.IsZero() || now.Before(c.exp))
}

func (r *row) live(now time.Time) bool {
	if r.marker && (r.markerExp.IsZero() || now.Before(r.markerExp)) {
		return true
	}
	for _, c := range r.cells {
		if c.live(now) {
			return true
		}
	}
	return false
}

// value returns the live value of column c in r (key columns included).
func (t *table) value(p *partition, r *row, c *column, now time.Time) []byte {
	switch c.kind {
	case kindPartition:
		return p.key[c.pos]
	case kindClustering:
		return r.ck[c.pos]
	}
	if cl, ok := r.cells[c.name]; ok && cl.live(now) {
		return cl.val
	}
	return nil
}

func newTable(ks string, s *createTableStmt) (*table, error) {
	t := &table{ks: ks, name: s.table.name, id: randomUUID(), defaultTTL: s.defaultTTL, comment: s.comment,
		byName: map[string]*column{}, parts: map[string]*partition{}}
	defs := map[string]*cqlType{}
	for _, d := range s.cols {
		if _, dup := defs[d.name]; dup {
			return nil, invalidf("Multiple definition of identifier %s", d.name)
		}
		defs[d.name] = d.typ
	}
	used := map[string]bool{}
	for i, name := range s.pk {
		typ, ok := defs[name]
		if !ok {
			return nil, invalidf("Unknown definition %s referenced in PRIMARY KEY", name)
		}
		if used[name] {
			return nil, invalidf("Duplicate definition for %s in PRIMARY KEY", name)
		}
		used[name] = true
		c := &column{name: name, typ: typ, kind: kindPartition, pos: i}
		t.pk = append(t.pk, c)
	}
	for i, name := range s.ck {
		typ, ok := defs[name]
		if !ok {
			return nil, invalidf("Unknown definition %s referenced in PRIMARY KEY", name)
		}
		if used[name] {
			return nil, invalidf("Duplicate definition for %s in PRIMARY KEY", name)
		}
		used[name] = true
		t.ck = append(t.ck, &column{name: name, typ: typ, kind: kindClustering, pos: i})
		t.desc = append(t.desc, false)
	}
	if len(s.clusterOrder) > 0 {
		if len(s.clusterOrder) > len(t.ck) {
			return nil, invalidf("Only clustering key columns can be defined in CLUSTERING ORDER directive")
		}
		for i, o := range s.clusterOrder {
			if t.ck[i].name != o.col {
				return nil, invalidf("The order of columns in the CLUSTERING ORDER directive must be the one of the clustering key (%s must appear before %s)", t.ck[i].name, o.col)
			}
			t.desc[i] = o.desc
		}
	}
	var regular []*column
	for _, d := range s.cols {
		if !used[d.name] {
			regular = append(regular, &column{name: d.name, typ: d.typ, kind: kindRegular, pos: -1})
		}
	}
	for _, c := range append(t.pk, t.ck...) {
		if c.typ.isCollection() {
			return nil, invalidf("Invalid collection type for PRIMARY KEY component %s", c.name)
		}
	}
	t.cols = append(append([]*column{}, t.pk...), t.ck...)
	t.cols = append(t.cols, regular...)
	t.sortRegular()
	return t, nil
}

func (t *table) sortRegular() {
	n := len(t.pk) + len(t.ck)
	reg := t.cols[n:]
	sort.Slice(reg, func(i, j int) bool { return reg[i].name < reg[j].name })
	t.byName = map[string]*column{}
	for _, c := range t.cols {
		t.byName[c.name] = c
	}
}

// partitionKey serializes key components into a map key.
func partitionKey(key [][]byte) string {
	var b strings.Builder
	for _, k := range key {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(k)))
		b.Write(l[:])
		b.Write(k)
	}
	return b.String()
}

// compareClustering orders two clustering keys (or prefixes: a shorter
// prefix sorts first) in the table's clustering order.
func (t *table) compareClustering(a, b [][]byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		c := compareValues(t.ck[i].typ, a[i], b[i])
		if t.desc[i] {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return cmpInt(len(a), len(b))
}

// find returns the index of the row with clustering key ck, or where it
// would be inserted.
func (t *table) find(p *partition, ck [][]byte) (int, bool) {
	i := sort.Search(len(p.rows), func(i int) bool { return t.compareClustering(p.rows[i].ck, ck) >= 0 })
	return i, i < len(p.rows) && t.compareClustering(p.rows[i].ck, ck) == 0
}

// lookup returns the live row at (pk, ck), nil if none.
func (t *table) lookup(pk, ck [][]byte, now time.Time) (*partition, *row) {
	p := t.parts[partitionKey(pk)]
	if p == nil {
		return nil, nil
	}
	i, ok := t.find(p, ck)
	if !ok || !p.rows[i].live(now) {
		return p, nil
	}
	return p, p.rows[i]
}

// upsertRow returns the row at (pk, ck), creating it (and its partition).
func (t *table) upsertRow(pk, ck [][]byte) *row {
	key := partitionKey(pk)
	p := t.parts[key]
	if p == nil {
		p = &partition{key: pk}
		t.parts[key] = p
	}
	i, ok := t.find(p, ck)
	if ok {
		return p.rows[i]
	}
	r := &row{ck: ck, cells: map[string]cell{}}
	p.rows = append(p.rows, nil)
	copy(p.rows[i+1:], p.rows[i:])
	p.rows[i] = r
	return r
}

// purge drops expired rows from p, and p itself when it is empty, so that
// memory does not grow with expired data.
func (t *table) purge(p *partition, now time.Time) {
	out := p.rows[:0]
	for _, r := range p.rows {
		if r.live(now) {
			for name, c := range r.cells {
				if !c.live(now) {
					delete(r.cells, name)
				}
			}
			out = append(out, r)
		}
	}
	for i := len(out); i < len(p.rows); i++ {
		p.rows[i] = nil
	}
	p.rows = out
	if len(p.rows) == 0 {
		delete(t.parts, partitionKey(p.key))
	}
}

func randomUUID() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// timeUUID returns a version 1 uuid for time t with a random node.
func timeUUID(t time.Time) []byte {
	// 100ns intervals since 1582-10-15.
	ts := uint64(t.UnixNano()/100) + 0x01B21DD213814000
	b := randomUUID()
	binary.BigEndian.PutUint32(b[0:4], uint32(ts))
	binary.BigEndian.PutUint16(b[4:6], uint16(ts>>32))
	binary.BigEndian.PutUint16(b[6:8], uint16(ts>>48)&0x0fff|0x1000)
	return b
}

// validName reports whether s is a valid unquoted keyspace or table name.
func validName(s string) bool {
	if s == "" || len(s) > 48 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
