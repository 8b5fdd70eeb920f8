package cqlserver

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// engine holds every keyspace and executes statements. One mutex guards
// all of it: statements run one at a time, which makes lightweight
// transactions linearizable without further thought.
type engine struct {
	mu            sync.Mutex
	now           func() time.Time
	keyspaces     map[string]*keyspace
	schemaVersion []byte
	hostID        []byte
	prepared      map[string]*preparedStmt
}

type preparedStmt struct {
	id    []byte
	query string
	ks    string // the connection's keyspace when it was prepared
	p     parsed
	info  *prepInfo
}

// colSpec describes a result column or a bind marker.
type colSpec struct {
	ks, table, name string
	typ             *cqlType
}

type resultKind int32

const (
	resultVoid         resultKind = 0x0001
	resultRows         resultKind = 0x0002
	resultSetKeyspace  resultKind = 0x0003
	resultPrepared     resultKind = 0x0004
	resultSchemaChange resultKind = 0x0005
)

type result struct {
	kind resultKind
	// rows
	cols     []colSpec
	rows     [][][]byte
	paging   []byte
	fullMeta bool // send metadata even when the client asked to skip it (LWT results)
	// set keyspace, schema change
	keyspace             string
	change, target, name string
}

type boundValue struct {
	b     []byte
	unset bool
}

// execCtx is what a statement runs with.
type execCtx struct {
	ks       string
	vals     []boundValue
	pageSize int
	paging   []byte
	now      time.Time
	local    net.IP // the address the client connected to
}

func newEngine(now func() time.Time) *engine {
	return &engine{
		now:           now,
		keyspaces:     map[string]*keyspace{},
		schemaVersion: randomUUID(),
		hostID:        randomUUID(),
		prepared:      map[string]*preparedStmt{},
	}
}

var voidResult = &result{kind: resultVoid}

func isSystemKeyspace(ks string) bool {
	return ks == "system" || ks == "system_schema"
}

func (x *execCtx) keyspaceOf(ref tableRef) (string, error) {
	if ref.ks != "" {
		return ref.ks, nil
	}
	if x.ks == "" {
		return "", invalidf("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
	}
	return x.ks, nil
}

// table resolves a user table for reading or writing.
func (e *engine) table(x *execCtx, ref tableRef) (*table, error) {
	ksName, err := x.keyspaceOf(ref)
	if err != nil {
		return nil, err
	}
	if isSystemKeyspace(ksName) {
		if t := e.virtualTable(ksName, ref.name, x.local); t != nil {
			return t, nil
		}
		return nil, invalidf("table %s.%s does not exist", ksName, ref.name)
	}
	ks := e.keyspaces[ksName]
	if ks == nil {
		return nil, invalidf("Keyspace %s does not exist", ksName)
	}
	t := ks.tables[ref.name]
	if t == nil {
		return nil, invalidf("table %s does not exist", ref.name)
	}
	return t, nil
}

func (e *engine) writableTable(x *execCtx, ref tableRef) (*table, error) {
	t, err := e.table(x, ref)
	if err != nil {
		return nil, err
	}
	if t.virtual != nil || isSystemKeyspace(t.ks) {
		return nil, &cqlError{code: errUnauthorized, msg: t.ks + " keyspace is not user-modifiable."}
	}
	return t, nil
}

func (e *engine) column(t *table, name string) (*column, error) {
	c := t.byName[name]
	if c == nil {
		return nil, invalidf("Undefined column name %s in table %s.%s", name, t.ks, t.name)
	}
	return c, nil
}

// value resolves a term to a serialized value of type typ.
func (x *execCtx) value(tm *term, typ *cqlType, what string) ([]byte, bool, error) {
	if tm.isMarker() {
		v := x.vals[tm.marker]
		if v.unset {
			return nil, true, nil
		}
		b, err := validate(typ, v.b)
		if err != nil {
			return nil, false, invalidf("Invalid value for %s: %v", what, err)
		}
		return b, false, nil
	}
	b, err := literalBytes(typ, tm.lit, x.now)
	if err != nil {
		return nil, false, invalidf("Invalid value for %s: %v", what, err)
	}
	return b, false, nil
}

// keyValue resolves a term that must be a non-null key value.
func (x *execCtx) keyValue(tm *term, c *column) ([]byte, error) {
	b, unset, err := x.value(tm, c.typ, c.name)
	if err != nil {
		return nil, err
	}
	if unset {
		return nil, invalidf("Invalid unset value for column %s", c.name)
	}
	if b == nil {
		return nil, invalidf("Invalid null value in condition for column %s", c.name)
	}
	return b, nil
}

// inValues resolves the values of an IN relation.
func (x *execCtx) inValues(r relation, c *column) ([][]byte, error) {
	if r.value != nil {
		lt := &cqlType{id: typeList, elem: c.typ}
		b, err := x.keyValue(r.value, &column{name: "in(" + c.name + ")", typ: lt})
		if err != nil {
			return nil, err
		}
		return decodeCollection(lt, b)
	}
	out := make([][]byte, 0, len(r.in))
	for _, tm := range r.in {
		b, err := x.keyValue(tm, c)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func (x *execCtx) ttl(t *table, u usingClause) (time.Time, error) {
	ttl := t.defaultTTL
	if u.ttl != nil {
		b, unset, err := x.value(u.ttl, tInt, "[ttl]")
		if err != nil {
			return time.Time{}, err
		}
		if !unset && b != nil {
			if len(b) != 4 {
				return time.Time{}, invalidf("Invalid TTL value")
			}
			n, _ := decInt(b)
			if n < 0 {
				return time.Time{}, invalidf("A TTL must be greater or equal to 0, but was %d", n)
			}
			if n > maxTTL {
				return time.Time{}, invalidf("ttl is too large. requested (%d) maximum (%d)", n, maxTTL)
			}
			ttl = int(n)
		}
	}
	if ttl == 0 {
		return time.Time{}, nil
	}
	return x.now.Add(time.Duration(ttl) * time.Second), nil
}

// exec runs one parsed statement.
func (e *engine) exec(x *execCtx, p parsed) (*result, error) {
	if len(x.vals) != p.markers {
		return nil, invalidf("There were %d markers(?) in CQL but %d bound variables", p.markers, len(x.vals))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch s := p.stmt.(type) {
	case *useStmt:
		if e.keyspaces[s.ks] == nil && !isSystemKeyspace(s.ks) {
			return nil, invalidf("Keyspace '%s' does not exist", s.ks)
		}
		return &result{kind: resultSetKeyspace, keyspace: s.ks}, nil
	case *createKeyspaceStmt:
		return e.createKeyspace(s)
	case *createTableStmt:
		return e.createTable(x, s)
	case *alterTableStmt:
		return e.alterTable(x, s)
	case *dropStmt:
		return e.drop(x, s)
	case *truncateStmt:
		t, err := e.writableTable(x, s.table)
		if err != nil {
			return nil, err
		}
		t.parts = map[string]*partition{}
		return voidResult, nil
	case *selectStmt:
		return e.selectRows(x, s)
	case *insertStmt, *updateStmt, *deleteStmt:
		m, err := e.plan(x, s)
		if err != nil {
			return nil, err
		}
		return e.applyOne(x, m), nil
	case *batchStmt:
		ms := make([]*mutation, 0, len(s.stmts))
		for _, st := range s.stmts {
			m, err := e.plan(x, st)
			if err != nil {
				return nil, err
			}
			ms = append(ms, m)
		}
		return e.applyBatch(x, ms)
	}
	return nil, unsupportedf("%s statements", p.stmt.kind())
}

func (e *engine) schemaChanged() { e.schemaVersion = randomUUID() }

// invalidatePrepared forgets the prepared statements on a table (every
// table of ks when name is ""), so that clients get UNPREPARED and prepare
// again with the new schema: with protocol v4 a client that skips result
// metadata would otherwise read rows with stale columns.
func (e *engine) invalidatePrepared(ks, name string) {
	for id, ps := range e.prepared {
		var ref tableRef
		switch s := ps.p.stmt.(type) {
		case *selectStmt:
			ref = s.table
		case *insertStmt:
			ref = s.table
		case *updateStmt:
			ref = s.table
		case *deleteStmt:
			ref = s.table
		default:
			continue
		}
		if ref.ks == "" {
			ref.ks = ps.ks
		}
		if ref.ks == ks && (name == "" || ref.name == name) {
			delete(e.prepared, id)
		}
	}
}

var replicationClasses = map[string]string{
	"simplestrategy":          "org.apache.cassandra.locator.SimpleStrategy",
	"networktopologystrategy": "org.apache.cassandra.locator.NetworkTopologyStrategy",
}

func (e *engine) createKeyspace(s *createKeyspaceStmt) (*result, error) {
	if !validName(s.name) {
		return nil, invalidf("Keyspace name must not be empty, more than 48 characters long, or contain non-alphanumeric-underscore characters (got \"%s\")", s.name)
	}
	if isSystemKeyspace(s.name) || e.keyspaces[s.name] != nil {
		if s.ifNotExists {
			return voidResult, nil
		}
		return nil, &cqlError{code: errAlreadyExists, msg: "Keyspace " + s.name + " already exists", ks: s.name}
	}
	repl := map[string]string{}
	for k, v := range s.replication {
		repl[k] = v
	}
	class := repl["class"]
	short := strings.ToLower(class[strings.LastIndex(class, ".")+1:])
	full, ok := replicationClasses[short]
	if !ok {
		return nil, &cqlError{code: errConfig, msg: "Unable to find replication strategy class '" + class + "'"}
	}
	repl["class"] = full
	if short == "simplestrategy" && repl["replication_factor"] == "" {
		return nil, &cqlError{code: errConfig, msg: "SimpleStrategy requires a replication_factor strategy option."}
	}
	e.keyspaces[s.name] = &keyspace{name: s.name, replication: repl, durable: s.durable, tables: map[string]*table{}}
	e.schemaChanged()
	return &result{kind: resultSchemaChange, change: "CREATED", target: "KEYSPACE", keyspace: s.name}, nil
}

func (e *engine) createTable(x *execCtx, s *createTableStmt) (*result, error) {
	ksName, err := x.keyspaceOf(s.table)
	if err != nil {
		return nil, err
	}
	if isSystemKeyspace(ksName) {
		return nil, &cqlError{code: errUnauthorized, msg: ksName + " keyspace is not user-modifiable."}
	}
	ks := e.keyspaces[ksName]
	if ks == nil {
		return nil, invalidf("Keyspace %s doesn't exist", ksName)
	}
	if !validName(s.table.name) {
		return nil, invalidf("Table name must not be empty, more than 48 characters long, or contain non-alphanumeric-underscore characters (got \"%s\")", s.table.name)
	}
	if ks.tables[s.table.name] != nil {
		if s.ifNotExists {
			return voidResult, nil
		}
		return nil, &cqlError{code: errAlreadyExists, msg: "Object " + ksName + "." + s.table.name + " already exists", ks: ksName, table: s.table.name}
	}
	t, err := newTable(ksName, s)
	if err != nil {
		return nil, err
	}
	ks.tables[t.name] = t
	e.schemaChanged()
	return &result{kind: resultSchemaChange, change: "CREATED", target: "TABLE", keyspace: ksName, name: t.name}, nil
}

func (e *engine) alterTable(x *execCtx, s *alterTableStmt) (*result, error) {
	t, err := e.writableTable(x, s.table)
	if err != nil {
		return nil, err
	}
	for _, d := range s.add {
		if t.byName[d.name] != nil {
			return nil, invalidf("Invalid column name %s because it conflicts with an existing column", d.name)
		}
	}
	for _, name := range s.drop {
		c, err := e.column(t, name)
		if err != nil {
			return nil, err
		}
		if c.kind != kindRegular {
			return nil, invalidf("Cannot drop PRIMARY KEY part %s", name)
		}
	}
	for _, d := range s.add {
		t.cols = append(t.cols, &column{name: d.name, typ: d.typ, kind: kindRegular, pos: -1})
	}
	for _, name := range s.drop {
		for i, c := range t.cols {
			if c.name == name {
				t.cols = append(t.cols[:i:i], t.cols[i+1:]...)
				break
			}
		}
		for _, p := range t.parts {
			for _, r := range p.rows {
				delete(r.cells, name)
			}
		}
	}
	if s.defaultTTL != nil {
		t.defaultTTL = *s.defaultTTL
	}
	t.sortRegular()
	e.invalidatePrepared(t.ks, t.name)
	e.schemaChanged()
	return &result{kind: resultSchemaChange, change: "UPDATED", target: "TABLE", keyspace: t.ks, name: t.name}, nil
}

func (e *engine) drop(x *execCtx, s *dropStmt) (*result, error) {
	if s.keyspace {
		name := s.table.ks
		if isSystemKeyspace(name) {
			return nil, &cqlError{code: errUnauthorized, msg: name + " keyspace is not user-modifiable."}
		}
		if e.keyspaces[name] == nil {
			if s.ifExists {
				return voidResult, nil
			}
			return nil, &cqlError{code: errConfig, msg: "Cannot drop non existing keyspace '" + name + "'."}
		}
		delete(e.keyspaces, name)
		e.invalidatePrepared(name, "")
		e.schemaChanged()
		return &result{kind: resultSchemaChange, change: "DROPPED", target: "KEYSPACE", keyspace: name}, nil
	}
	ksName, err := x.keyspaceOf(s.table)
	if err != nil {
		return nil, err
	}
	if isSystemKeyspace(ksName) {
		return nil, &cqlError{code: errUnauthorized, msg: ksName + " keyspace is not user-modifiable."}
	}
	ks := e.keyspaces[ksName]
	if ks == nil || ks.tables[s.table.name] == nil {
		if s.ifExists {
			return voidResult, nil
		}
		if ks == nil {
			return nil, invalidf("Keyspace %s doesn't exist", ksName)
		}
		return nil, invalidf("Table '%s.%s' doesn't exist", ksName, s.table.name)
	}
	delete(ks.tables, s.table.name)
	e.invalidatePrepared(ksName, s.table.name)
	e.schemaChanged()
	return &result{kind: resultSchemaChange, change: "DROPPED", target: "TABLE", keyspace: ksName, name: s.table.name}, nil
}

// restrictions is an analysed WHERE clause over a table's primary key.
type restrictions struct {
	pk      [][][]byte // per partition key column, the values it may take; nil when unrestricted
	pkSet   int        // how many partition key columns are restricted
	ckEq    [][][]byte // per clustering column of the restricted prefix, the values it may take
	ckRange *ckRange   // a slice on the clustering column after the prefix
}

type ckRange struct {
	col    int
	lo, hi *ckBound
}

type ckBound struct {
	val  []byte
	incl bool
}

// maxINProduct bounds the partitions one query may name, as Cassandra's
// guard on the cartesian product of IN restrictions does (100).
const maxINProduct = 100

const filteringMsg = "Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING (cqlserver supports neither ALLOW FILTERING nor secondary indexes: restrict the full partition key)"

func (e *engine) analyze(x *execCtx, t *table, where []relation) (*restrictions, error) {
	rs := &restrictions{pk: make([][][]byte, len(t.pk))}
	ckEq := make([][][]byte, len(t.ck))
	ckRng := make([]*ckRange, len(t.ck))
	for _, r := range where {
		c, err := e.column(t, r.col)
		if err != nil {
			return nil, err
		}
		var vals [][]byte
		if r.op == "IN" {
			if vals, err = x.inValues(r, c); err != nil {
				return nil, err
			}
		} else {
			v, err := x.keyValue(r.value, c)
			if err != nil {
				return nil, err
			}
			vals = [][]byte{v}
		}
		switch c.kind {
		case kindPartition:
			if r.op != "=" && r.op != "IN" {
				return nil, invalidf("Only EQ and IN relation are supported on the partition key (unless you use the token() function)")
			}
			if rs.pk[c.pos] != nil {
				return nil, invalidf("%s cannot be restricted by more than one relation if it includes an Equal", c.name)
			}
			rs.pk[c.pos] = vals
			rs.pkSet++
		case kindClustering:
			switch r.op {
			case "=", "IN":
				if ckEq[c.pos] != nil || ckRng[c.pos] != nil {
					return nil, invalidf("%s cannot be restricted by more than one relation if it includes an Equal", c.name)
				}
				ckEq[c.pos] = vals
			default:
				if ckEq[c.pos] != nil {
					return nil, invalidf("%s cannot be restricted by more than one relation if it includes an Equal", c.name)
				}
				rg := ckRng[c.pos]
				if rg == nil {
					rg = &ckRange{col: c.pos}
					ckRng[c.pos] = rg
				}
				b := &ckBound{val: vals[0], incl: r.op == "<=" || r.op == ">="}
				if r.op == ">" || r.op == ">=" {
					if rg.lo != nil {
						return nil, invalidf("More than one restriction was found for the start bound on %s", c.name)
					}
					rg.lo = b
				} else {
					if rg.hi != nil {
						return nil, invalidf("More than one restriction was found for the end bound on %s", c.name)
					}
					rg.hi = b
				}
			}
		default:
			return nil, invalidf("%s", filteringMsg)
		}
	}
	if rs.pkSet != 0 && rs.pkSet != len(t.pk) {
		return nil, invalidf("%s", filteringMsg)
	}
	product := 1
	for _, vals := range rs.pk {
		product *= max(len(vals), 1)
		if product > maxINProduct {
			return nil, invalidf("Cartesian product of IN restrictions on the partition key cannot be greater than %d", maxINProduct)
		}
	}
	last := -1
	for i := range t.ck {
		restricted := ckEq[i] != nil || ckRng[i] != nil
		if !restricted {
			continue
		}
		if last != i-1 {
			return nil, invalidf("PRIMARY KEY column \"%s\" cannot be restricted as preceding column \"%s\" is not restricted", t.ck[i].name, t.ck[i-1].name)
		}
		if last >= 0 && ckRng[last] != nil {
			return nil, invalidf("Clustering column \"%s\" cannot be restricted (preceding column \"%s\" is restricted by a non-EQ relation)", t.ck[i].name, t.ck[last].name)
		}
		last = i
		if ckEq[i] != nil {
			rs.ckEq = append(rs.ckEq, ckEq[i])
		} else {
			rs.ckRange = ckRng[i]
		}
	}
	if last >= 0 && rs.pkSet == 0 {
		return nil, invalidf("%s", filteringMsg)
	}
	return rs, nil
}

// partitionKeys expands the partition key restrictions into every key
// they name, sorted and without duplicates.
func (rs *restrictions) partitionKeys() [][][]byte {
	keys := [][][]byte{{}}
	for _, vals := range rs.pk {
		var next [][][]byte
		for _, k := range keys {
			for _, v := range vals {
				next = append(next, append(append([][]byte{}, k...), v))
			}
		}
		keys = next
	}
	sort.Slice(keys, func(i, j int) bool { return partitionKey(keys[i]) < partitionKey(keys[j]) })
	out := keys[:0]
	for i, k := range keys {
		if i > 0 && partitionKey(k) == partitionKey(out[len(out)-1]) {
			continue
		}
		out = append(out, k)
	}
	return out
}

// matches reports whether a row's clustering key satisfies the clustering
// restrictions.
func (rs *restrictions) matches(t *table, r *row) bool {
	for i, vals := range rs.ckEq {
		ok := false
		for _, v := range vals {
			if compareValues(t.ck[i].typ, r.ck[i], v) == 0 {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if rg := rs.ckRange; rg != nil {
		typ := t.ck[rg.col].typ
		v := r.ck[rg.col]
		if rg.lo != nil {
			c := compareValues(typ, v, rg.lo.val)
			if c < 0 || c == 0 && !rg.lo.incl {
				return false
			}
		}
		if rg.hi != nil {
			c := compareValues(typ, v, rg.hi.val)
			if c > 0 || c == 0 && !rg.hi.incl {
				return false
			}
		}
	}
	return true
}

// fullKey returns the clustering key when every clustering column is
// restricted to exactly one value.
func (rs *restrictions) fullKey(t *table) ([][]byte, bool) {
	if rs.ckRange != nil || len(rs.ckEq) != len(t.ck) {
		return nil, false
	}
	ck := make([][]byte, len(t.ck))
	for i, vals := range rs.ckEq {
		if len(vals) != 1 {
			return nil, false
		}
		ck[i] = vals[0]
	}
	return ck, true
}

func (rs *restrictions) singlePartition() ([][]byte, bool) {
	key := make([][]byte, len(rs.pk))
	for i, vals := range rs.pk {
		if len(vals) != 1 {
			return nil, false
		}
		key[i] = vals[0]
	}
	return key, true
}

// Paging states are opaque to clients: a version byte, the number of rows
// returned so far (for LIMIT) and the key of the last row returned, so a
// page resumes after that row even if rows were written in between.
const pagingVersion = 1

type pagePos struct {
	returned int
	pk       string
	ck       [][]byte
}

func encodePaging(p pagePos) []byte {
	b := []byte{pagingVersion}
	b = binary.BigEndian.AppendUint32(b, uint32(p.returned))
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.pk)))
	b = append(b, p.pk...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.ck)))
	for _, c := range p.ck {
		b = binary.BigEndian.AppendUint32(b, uint32(len(c)))
		b = append(b, c...)
	}
	return b
}

func decodePaging(b []byte, nck int) (pagePos, error) {
	bad := protocolf("Invalid value for the paging state")
	r := &rbuf{b: b}
	if r.byte() != pagingVersion {
		return pagePos{}, bad
	}
	var p pagePos
	p.returned = int(r.int())
	p.pk = string(r.take(int(r.int())))
	n := int(r.short())
	if n != nck {
		return pagePos{}, bad
	}
	for i := 0; i < n; i++ {
		p.ck = append(p.ck, r.take(int(r.int())))
	}
	if r.err != nil || len(r.b) != 0 || p.returned < 0 {
		return pagePos{}, bad
	}
	return p, nil
}

type hit struct {
	p *partition
	r *row
}

func (e *engine) selectRows(x *execCtx, s *selectStmt) (*result, error) {
	t, err := e.table(x, s.table)
	if err != nil {
		return nil, err
	}
	if t.virtual != nil {
		return e.selectVirtual(x, t, s)
	}
	type outCol struct {
		c   *column
		ttl bool
	}
	var outs []outCol
	var specs []colSpec
	count := false
	for _, sel := range s.sels {
		switch {
		case sel.star:
			for _, c := range t.cols {
				outs = append(outs, outCol{c: c})
				specs = append(specs, colSpec{t.ks, t.name, c.name, c.typ})
			}
		case sel.count:
			if len(s.sels) != 1 {
				return nil, unsupportedf("count(*) together with other selectors")
			}
			count = true
			name := "count"
			if sel.alias != "" {
				name = sel.alias
			}
			specs = append(specs, colSpec{t.ks, t.name, name, tBigint})
		default:
			c, err := e.column(t, sel.col)
			if err != nil {
				return nil, err
			}
			name := c.name
			if sel.fn == "ttl" {
				if c.kind != kindRegular || c.typ.isCollection() {
					return nil, invalidf("Cannot use selection function ttl on %s", c.name)
				}
				name = "ttl(" + c.name + ")"
			}
			if sel.alias != "" {
				name = sel.alias
			}
			outs = append(outs, outCol{c: c, ttl: sel.fn == "ttl"})
			typ := c.typ
			if sel.fn == "ttl" {
				typ = tInt
			}
			specs = append(specs, colSpec{t.ks, t.name, name, typ})
		}
	}
	rs, err := e.analyze(x, t, s.where)
	if err != nil {
		return nil, err
	}
	reverse := false
	if len(s.orderBy) > 0 {
		if _, ok := rs.singlePartition(); !ok || rs.pkSet == 0 {
			return nil, invalidf("ORDER BY is only supported when the partition key is restricted by an EQ or an IN.")
		}
		for i, o := range s.orderBy {
			c, err := e.column(t, o.col)
			if err != nil {
				return nil, err
			}
			if c.kind != kindClustering {
				return nil, invalidf("Order by is currently only supported on the clustered columns of the PRIMARY KEY, got %s", o.col)
			}
			if c.pos != i {
				return nil, invalidf("Order by currently only supports the ordering of columns following their declared order in the PRIMARY KEY")
			}
			rev := o.desc != t.desc[i]
			if i == 0 {
				reverse = rev
			} else if rev != reverse {
				return nil, invalidf("Unsupported order by relation")
			}
		}
	}
	limit := -1
	if s.limit != nil {
		b, unset, err := x.value(s.limit, tInt, "[limit]")
		if err != nil {
			return nil, err
		}
		if !unset {
			if b == nil {
				return nil, invalidf("Invalid null value of limit")
			}
			n, _ := decInt(b)
			if n <= 0 {
				return nil, invalidf("LIMIT must be strictly positive")
			}
			limit = int(n)
		}
	}

	var parts []*partition
	if rs.pkSet == 0 {
		keys := make([]string, 0, len(t.parts))
		for k := range t.parts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, t.parts[k])
		}
	} else {
		for _, k := range rs.partitionKeys() {
			if p := t.parts[partitionKey(k)]; p != nil {
				parts = append(parts, p)
			}
		}
	}
	var hits []hit
	for _, p := range parts {
		t.purge(p, x.now)
		n := len(p.rows)
		for i := 0; i < n; i++ {
			r := p.rows[i]
			if reverse {
				r = p.rows[n-1-i]
			}
			if rs.matches(t, r) {
				hits = append(hits, hit{p, r})
			}
		}
	}
	if count {
		n := len(hits)
		if limit >= 0 && n > limit {
			n = limit
		}
		return &result{kind: resultRows, cols: specs, rows: [][][]byte{{encBigint(int64(n))}}}, nil
	}

	start, returned := 0, 0
	if len(x.paging) > 0 {
		pos, err := decodePaging(x.paging, len(t.ck))
		if err != nil {
			return nil, err
		}
		returned = pos.returned
		start = len(hits)
		for i, h := range hits {
			c := strings.Compare(partitionKey(h.p.key), pos.pk)
			if c == 0 {
				c = t.compareClustering(h.r.ck, pos.ck)
				if reverse {
					c = -c
				}
			}
			if c > 0 {
				start = i
				break
			}
		}
	}
	end := len(hits)
	if limit >= 0 && end-start > limit-returned {
		end = start + max(limit-returned, 0)
	}
	more := false
	if x.pageSize > 0 && end-start > x.pageSize {
		end = start + x.pageSize
		more = true
	}
	res := &result{kind: resultRows, cols: specs}
	for _, h := range hits[start:end] {
		out := make([][]byte, len(outs))
		for i, o := range outs {
			if o.ttl {
				if cl, ok := h.r.cells[o.c.name]; ok && cl.live(x.now) && !cl.exp.IsZero() {
					secs := (cl.exp.Sub(x.now) + time.Second - 1) / time.Second
					out[i] = encInt(int32(secs))
				}
				continue
			}
			out[i] = t.value(h.p, h.r, o.c, x.now)
		}
		res.rows = append(res.rows, out)
	}
	if more {
		last := hits[end-1]
		res.paging = encodePaging(pagePos{returned: returned + end - start, pk: partitionKey(last.p.key), ck: last.r.ck})
	}
	return res, nil
}

// selectVirtual answers a SELECT on a system table: any column may be
// filtered with = or IN, and the rows are few enough never to page.
func (e *engine) selectVirtual(x *execCtx, t *table, s *selectStmt) (*result, error) {
	var idx []int
	var specs []colSpec
	for _, sel := range s.sels {
		switch {
		case sel.star:
			for i, c := range t.cols {
				idx = append(idx, i)
				specs = append(specs, colSpec{t.ks, t.name, c.name, c.typ})
			}
		case sel.count || sel.fn != "":
			return nil, unsupportedf("functions on system tables")
		default:
			found := false
			for i, c := range t.cols {
				if c.name == sel.col {
					name := c.name
					if sel.alias != "" {
						name = sel.alias
					}
					idx = append(idx, i)
					specs = append(specs, colSpec{t.ks, t.name, name, c.typ})
					found = true
				}
			}
			if !found {
				return nil, invalidf("Undefined column name %s in table %s.%s", sel.col, t.ks, t.name)
			}
		}
	}
	type filter struct {
		i    int
		vals [][]byte
	}
	var filters []filter
	for _, r := range s.where {
		c, err := e.column(t, r.col)
		if err != nil {
			return nil, err
		}
		i := 0
		for i < len(t.cols) && t.cols[i] != c {
			i++
		}
		var vals [][]byte
		switch r.op {
		case "=":
			v, err := x.keyValue(r.value, c)
			if err != nil {
				return nil, err
			}
			vals = [][]byte{v}
		case "IN":
			if vals, err = x.inValues(r, c); err != nil {
				return nil, err
			}
		default:
			return nil, unsupportedf("%s relations on system tables", r.op)
		}
		filters = append(filters, filter{i, vals})
	}
	limit := -1
	if s.limit != nil {
		b, unset, err := x.value(s.limit, tInt, "[limit]")
		if err != nil {
			return nil, err
		}
		if !unset && b != nil {
			n, _ := decInt(b)
			if n <= 0 {
				return nil, invalidf("LIMIT must be strictly positive")
			}
			limit = int(n)
		}
	}
	res := &result{kind: resultRows, cols: specs}
rows:
	for _, r := range t.virtual {
		for _, f := range filters {
			ok := false
			for _, v := range f.vals {
				if bytes.Equal(r[f.i], v) {
					ok = true
				}
			}
			if !ok {
				continue rows
			}
		}
		if limit >= 0 && len(res.rows) >= limit {
			break
		}
		out := make([][]byte, len(idx))
		for j, i := range idx {
			out[j] = r[i]
		}
		res.rows = append(res.rows, out)
	}
	return res, nil
}

func preparedID(ks, query string) []byte {
	sum := md5.Sum([]byte(ks + "\x00" + query))
	return sum[:]
}
