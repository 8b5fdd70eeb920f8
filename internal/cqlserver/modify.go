package cqlserver

import (
	"time"
)

type mutOp int

const (
	opInsert mutOp = iota
	opUpdate
	opDeleteRow       // the row at a full primary key
	opDeleteCells     // some columns of one row
	opDeletePartition // every row of a partition
	opDeleteRange     // the rows of a partition matching clustering restrictions
)

// mutation is a write planned against the current state: every value
// resolved and validated, so that applying it cannot fail. Batches plan
// all their statements before applying any.
type mutation struct {
	t      *table
	op     mutOp
	pk, ck [][]byte
	rs     *restrictions // opDeleteRange
	sets   []cellSet
	exp    time.Time // expiry of written cells and of the INSERT row marker
	cols   []*column // opDeleteCells

	// Lightweight transaction: at most one of these.
	ifNotExists, ifExists bool
	conds                 []cond
}

type cellSet struct {
	c   *column
	val []byte
}

type cond struct {
	c    *column
	op   string
	vals [][]byte // one value, or the IN list
}

func (m *mutation) conditional() bool {
	return m.ifNotExists || m.ifExists || len(m.conds) > 0
}

func (e *engine) plan(x *execCtx, st statement) (*mutation, error) {
	switch s := st.(type) {
	case *insertStmt:
		return e.planInsert(x, s)
	case *updateStmt:
		return e.planUpdate(x, s)
	case *deleteStmt:
		return e.planDelete(x, s)
	}
	return nil, invalidf("Invalid statement in batch: only UPDATE, INSERT and DELETE statements are allowed (got %s).", st.kind())
}

func (e *engine) planInsert(x *execCtx, s *insertStmt) (*mutation, error) {
	t, err := e.writableTable(x, s.table)
	if err != nil {
		return nil, err
	}
	m := &mutation{t: t, op: opInsert, pk: make([][]byte, len(t.pk)), ck: make([][]byte, len(t.ck)), ifNotExists: s.ifNotExists}
	seen := map[string]bool{}
	for i, name := range s.cols {
		c, err := e.column(t, name)
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, invalidf("Multiple definitions found for column %s", name)
		}
		seen[name] = true
		switch c.kind {
		case kindPartition:
			if m.pk[c.pos], err = x.keyValue(s.values[i], c); err != nil {
				return nil, err
			}
		case kindClustering:
			if m.ck[c.pos], err = x.keyValue(s.values[i], c); err != nil {
				return nil, err
			}
		default:
			v, unset, err := x.value(s.values[i], c.typ, c.name)
			if err != nil {
				return nil, err
			}
			if !unset {
				m.sets = append(m.sets, cellSet{c, v})
			}
		}
	}
	for _, c := range t.pk {
		if !seen[c.name] {
			return nil, invalidf("Some partition key parts are missing: %s", c.name)
		}
	}
	for _, c := range t.ck {
		if !seen[c.name] {
			return nil, invalidf("Some clustering keys are missing: %s", c.name)
		}
	}
	if m.exp, err = x.ttl(t, s.using); err != nil {
		return nil, err
	}
	return m, nil
}

// primaryKey resolves a WHERE clause that must name one row.
func (e *engine) primaryKey(x *execCtx, t *table, where []relation, verb string) ([][]byte, [][]byte, error) {
	rs, err := e.analyze(x, t, where)
	if err != nil {
		return nil, nil, err
	}
	pk, ok := rs.singlePartition()
	if rs.pkSet == 0 {
		return nil, nil, invalidf("Some partition key parts are missing: %s", t.pk[0].name)
	}
	if !ok {
		return nil, nil, unsupportedf("IN relations in %s statements", verb)
	}
	ck, ok := rs.fullKey(t)
	if !ok {
		if len(rs.ckEq) < len(t.ck) && rs.ckRange == nil {
			return nil, nil, invalidf("Some clustering keys are missing: %s", t.ck[len(rs.ckEq)].name)
		}
		if rs.ckRange != nil {
			return nil, nil, invalidf("Invalid operator for PRIMARY KEY part %s", t.ck[rs.ckRange.col].name)
		}
		return nil, nil, unsupportedf("IN relations in %s statements", verb)
	}
	return pk, ck, nil
}

func (e *engine) conds(x *execCtx, t *table, rels []relation) ([]cond, error) {
	var out []cond
	for _, r := range rels {
		c, err := e.column(t, r.col)
		if err != nil {
			return nil, err
		}
		if c.kind != kindRegular {
			return nil, invalidf("PRIMARY KEY column '%s' cannot have IF conditions", c.name)
		}
		cd := cond{c: c, op: r.op}
		if r.op == "IN" {
			if r.value != nil {
				lt := &cqlType{id: typeList, elem: c.typ}
				b, unset, err := x.value(r.value, lt, "in("+c.name+")")
				if err != nil {
					return nil, err
				}
				if unset || b == nil {
					return nil, invalidf("Invalid null list in IN condition on %s", c.name)
				}
				if cd.vals, err = decodeCollection(lt, b); err != nil {
					return nil, invalidf("Invalid IN list for %s: %v", c.name, err)
				}
			} else {
				for _, tm := range r.in {
					v, unset, err := x.value(tm, c.typ, c.name)
					if err != nil {
						return nil, err
					}
					if unset {
						return nil, invalidf("Invalid unset value for column %s", c.name)
					}
					cd.vals = append(cd.vals, v)
				}
			}
		} else {
			v, unset, err := x.value(r.value, c.typ, c.name)
			if err != nil {
				return nil, err
			}
			if unset {
				return nil, invalidf("Invalid unset value for column %s", c.name)
			}
			if v == nil && r.op != "=" && r.op != "!=" {
				return nil, invalidf("Invalid comparison with null for operator \"%s\"", r.op)
			}
			cd.vals = [][]byte{v}
		}
		out = append(out, cd)
	}
	return out, nil
}

func (e *engine) planUpdate(x *execCtx, s *updateStmt) (*mutation, error) {
	t, err := e.writableTable(x, s.table)
	if err != nil {
		return nil, err
	}
	m := &mutation{t: t, op: opUpdate, ifExists: s.ifExists}
	if m.pk, m.ck, err = e.primaryKey(x, t, s.where, "UPDATE"); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, a := range s.sets {
		c, err := e.column(t, a.col)
		if err != nil {
			return nil, err
		}
		if c.kind != kindRegular {
			return nil, invalidf("PRIMARY KEY part %s found in SET part", c.name)
		}
		if seen[c.name] {
			return nil, invalidf("Multiple incompatible setting of column %s", c.name)
		}
		seen[c.name] = true
		v, unset, err := x.value(a.value, c.typ, c.name)
		if err != nil {
			return nil, err
		}
		if !unset {
			m.sets = append(m.sets, cellSet{c, v})
		}
	}
	if m.conds, err = e.conds(x, t, s.conds); err != nil {
		return nil, err
	}
	if m.exp, err = x.ttl(t, s.using); err != nil {
		return nil, err
	}
	return m, nil
}

func (e *engine) planDelete(x *execCtx, s *deleteStmt) (*mutation, error) {
	t, err := e.writableTable(x, s.table)
	if err != nil {
		return nil, err
	}
	m := &mutation{t: t, ifExists: s.ifExists}
	for _, name := range s.cols {
		c, err := e.column(t, name)
		if err != nil {
			return nil, err
		}
		if c.kind != kindRegular {
			return nil, invalidf("Invalid identifier %s for deletion (should not be a PRIMARY KEY part)", c.name)
		}
		m.cols = append(m.cols, c)
	}
	if m.conds, err = e.conds(x, t, s.conds); err != nil {
		return nil, err
	}
	rs, err := e.analyze(x, t, s.where)
	if err != nil {
		return nil, err
	}
	if rs.pkSet == 0 {
		return nil, invalidf("Some partition key parts are missing: %s", t.pk[0].name)
	}
	pk, ok := rs.singlePartition()
	if !ok {
		return nil, unsupportedf("IN relations in DELETE statements")
	}
	m.pk = pk
	if ck, ok := rs.fullKey(t); ok {
		m.ck = ck
		m.op = opDeleteRow
		if len(m.cols) > 0 {
			m.op = opDeleteCells
		}
		return m, nil
	}
	if len(m.cols) > 0 {
		return nil, invalidf("Range deletions are not supported for specific columns")
	}
	if m.conditional() {
		return nil, invalidf("DELETE statements must restrict all PRIMARY KEY columns with equality relations in order to use IF conditions")
	}
	for _, vals := range rs.ckEq {
		if len(vals) != 1 {
			return nil, unsupportedf("IN relations in DELETE statements")
		}
	}
	if len(rs.ckEq) == 0 && rs.ckRange == nil {
		m.op = opDeletePartition
	} else {
		m.op = opDeleteRange
		m.rs = rs
	}
	return m, nil
}

// condHolds checks a mutation's condition against the current row (nil
// when there is none) and names the columns the not-applied result shows.
func (m *mutation) condHolds(p *partition, r *row, now time.Time) bool {
	switch {
	case m.ifNotExists:
		return r == nil
	case m.ifExists:
		return r != nil
	}
	for _, cd := range m.conds {
		var cur []byte
		if r != nil {
			cur = m.t.value(p, r, cd.c, now)
		}
		if !evalCond(cd, cur) {
			return false
		}
	}
	return true
}

func evalCond(cd cond, cur []byte) bool {
	typ := cd.c.typ
	switch cd.op {
	case "IN":
		for _, v := range cd.vals {
			if (cur == nil) == (v == nil) && compareValues(typ, cur, v) == 0 {
				return true
			}
		}
		return false
	case "=":
		return (cur == nil) == (cd.vals[0] == nil) && compareValues(typ, cur, cd.vals[0]) == 0
	case "!=":
		return !((cur == nil) == (cd.vals[0] == nil) && compareValues(typ, cur, cd.vals[0]) == 0)
	}
	if cur == nil {
		return false
	}
	c := compareValues(typ, cur, cd.vals[0])
	switch cd.op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

func (e *engine) apply(m *mutation, now time.Time) {
	t := m.t
	switch m.op {
	case opInsert, opUpdate:
		if m.op == opUpdate && len(m.sets) == 0 {
			return
		}
		r := t.upsertRow(m.pk, m.ck)
		if m.op == opInsert {
			r.marker = true
			r.markerExp = m.exp
		}
		for _, s := range m.sets {
			if s.val == nil {
				delete(r.cells, s.c.name)
				continue
			}
			r.cells[s.c.name] = cell{val: s.val, exp: m.exp}
		}
		t.purge(t.parts[partitionKey(m.pk)], now)
	case opDeleteRow, opDeleteCells:
		p := t.parts[partitionKey(m.pk)]
		if p == nil {
			return
		}
		i, ok := t.find(p, m.ck)
		if !ok {
			return
		}
		if m.op == opDeleteRow {
			p.rows = append(p.rows[:i], p.rows[i+1:]...)
		} else {
			for _, c := range m.cols {
				delete(p.rows[i].cells, c.name)
			}
		}
		t.purge(p, now)
	case opDeletePartition:
		delete(t.parts, partitionKey(m.pk))
	case opDeleteRange:
		p := t.parts[partitionKey(m.pk)]
		if p == nil {
			return
		}
		out := p.rows[:0]
		for _, r := range p.rows {
			if !m.rs.matches(t, r) {
				out = append(out, r)
			}
		}
		p.rows = out
		t.purge(p, now)
	}
}

// casResult builds the answer to a lightweight transaction as Cassandra
// does: [applied], and when not applied the current values of the row
// (every column for IF [NOT] EXISTS, the compared columns otherwise),
// or [applied] alone when there is no row.
func casResult(m *mutation, applied bool, p *partition, r *row, now time.Time) *result {
	t := m.t
	res := &result{kind: resultRows, fullMeta: true, cols: []colSpec{{t.ks, t.name, "[applied]", tBoolean}}}
	if applied || r == nil {
		res.rows = [][][]byte{{encBool(applied)}}
		return res
	}
	var cols []*column
	if m.ifExists || m.ifNotExists {
		cols = t.cols
	} else {
		seen := map[string]bool{}
		for _, cd := range m.conds {
			if !seen[cd.c.name] {
				seen[cd.c.name] = true
				cols = append(cols, cd.c)
			}
		}
	}
	out := [][]byte{encBool(false)}
	for _, c := range cols {
		res.cols = append(res.cols, colSpec{t.ks, t.name, c.name, c.typ})
		out = append(out, t.value(p, r, c, now))
	}
	res.rows = [][][]byte{out}
	return res
}

func (e *engine) applyOne(x *execCtx, m *mutation) *result {
	if !m.conditional() {
		e.apply(m, x.now)
		return voidResult
	}
	p, r := m.t.lookup(m.pk, m.ck, x.now)
	applied := m.condHolds(p, r, x.now)
	if applied {
		e.apply(m, x.now)
	}
	return casResult(m, applied, p, r, x.now)
}

// applyBatch applies planned mutations. A batch with conditions must stay
// in one partition of one table, as in Cassandra; it applies entirely or
// not at all, and answers like a single lightweight transaction with the
// primary key columns added so rows can be told apart.
func (e *engine) applyBatch(x *execCtx, ms []*mutation) (*result, error) {
	var lwt []*mutation
	for _, m := range ms {
		if m.conditional() {
			lwt = append(lwt, m)
		}
	}
	if len(lwt) == 0 {
		for _, m := range ms {
			e.apply(m, x.now)
		}
		return voidResult, nil
	}
	first := ms[0]
	for _, m := range ms[1:] {
		if m.t != first.t {
			return nil, invalidf("Batch with conditions cannot span multiple tables")
		}
		if partitionKey(m.pk) != partitionKey(first.pk) {
			return nil, invalidf("Batch with conditions cannot span multiple partitions")
		}
	}
	for _, m := range ms {
		if m.op == opDeletePartition || m.op == opDeleteRange {
			return nil, unsupportedf("range deletions in batches with conditions")
		}
	}
	applied := true
	type current struct {
		p *partition
		r *row
	}
	curs := make([]current, len(lwt))
	for i, m := range lwt {
		p, r := m.t.lookup(m.pk, m.ck, x.now)
		curs[i] = current{p, r}
		if !m.condHolds(p, r, x.now) {
			applied = false
		}
	}
	t := first.t
	res := &result{kind: resultRows, fullMeta: true, cols: []colSpec{{t.ks, t.name, "[applied]", tBoolean}}}
	if applied {
		for _, m := range ms {
			e.apply(m, x.now)
		}
		res.rows = [][][]byte{{encBool(true)}}
		return res, nil
	}
	// The columns shown: every column if any statement used IF [NOT]
	// EXISTS, else the primary key and the compared columns.
	var cols []*column
	wildcard := false
	for _, m := range lwt {
		wildcard = wildcard || m.ifExists || m.ifNotExists
	}
	if wildcard {
		cols = t.cols
	} else {
		seen := map[string]bool{}
		for _, c := range t.cols[:len(t.pk)+len(t.ck)] {
			seen[c.name] = true
			cols = append(cols, c)
		}
		for _, m := range lwt {
			for _, cd := range m.conds {
				if !seen[cd.c.name] {
					seen[cd.c.name] = true
					cols = append(cols, cd.c)
				}
			}
		}
	}
	for _, c := range cols {
		res.cols = append(res.cols, colSpec{t.ks, t.name, c.name, c.typ})
	}
	seenRows := map[*row]bool{}
	for _, cur := range curs {
		if cur.r == nil || seenRows[cur.r] {
			continue
		}
		seenRows[cur.r] = true
		out := [][]byte{encBool(false)}
		for _, c := range cols {
			out = append(out, t.value(cur.p, cur.r, c, x.now))
		}
		res.rows = append(res.rows, out)
	}
	if len(res.rows) == 0 {
		res.cols = res.cols[:1]
		res.rows = [][][]byte{{encBool(false)}}
	}
	return res, nil
}
