package cqlserver

// prepInfo is what a PREPARE answers: the bind markers' specs, which of
// them make up the partition key (so drivers can route by token), and
// the result columns.
type prepInfo struct {
	binds    []colSpec
	pkIdx    []int
	results  []colSpec
	resultKS string
}

// prepare analyses a statement against the current schema and, when
// query is not empty, remembers it for EXECUTE and BATCH under an id
// derived from the keyspace and the text, as Cassandra does.
func (e *engine) prepare(x *execCtx, p parsed, query string) (*preparedStmt, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	info, err := e.analyzePrepared(x, p)
	if err != nil {
		return nil, err
	}
	ps := &preparedStmt{id: preparedID(x.ks, query), query: query, ks: x.ks, p: p, info: info}
	if query != "" {
		e.prepared[string(ps.id)] = ps
	}
	return ps, nil
}

func (e *engine) analyzePrepared(x *execCtx, p parsed) (*prepInfo, error) {
	info := &prepInfo{binds: make([]colSpec, p.markers)}
	if err := e.analyzeStmt(x, p.stmt, info); err != nil {
		return nil, err
	}
	for i, b := range info.binds {
		if b.typ == nil {
			return nil, invalidf("cannot determine the type of bind marker %d", i)
		}
	}
	return info, nil
}

func (e *engine) analyzeStmt(x *execCtx, st statement, info *prepInfo) error {
	switch s := st.(type) {
	case *selectStmt:
		return e.prepareSelect(x, s, info)
	case *insertStmt:
		return e.prepareInsert(x, s, info)
	case *updateStmt:
		return e.prepareModify(x, s.table, s.using, s.where, s.conds, info, func(t *table) error {
			for _, a := range s.sets {
				if err := e.bindColumn(t, a.col, a.value, info); err != nil {
					return err
				}
			}
			return nil
		})
	case *deleteStmt:
		return e.prepareModify(x, s.table, usingClause{}, s.where, s.conds, info, nil)
	case *batchStmt:
		// Markers are numbered across the whole batch text, so each
		// statement fills in its own; no single partition key to route by.
		for _, sub := range s.stmts {
			if err := e.analyzeStmt(x, sub, info); err != nil {
				return err
			}
		}
		info.pkIdx = nil
		return nil
	}
	if len(info.binds) > 0 {
		return invalidf("bind markers are not allowed in %s statements", st.kind())
	}
	return nil
}

func (e *engine) bind(t *table, tm *term, name string, typ *cqlType, info *prepInfo) {
	if tm != nil && tm.isMarker() {
		info.binds[tm.marker] = colSpec{t.ks, t.name, name, typ}
	}
}

func (e *engine) bindColumn(t *table, col string, tm *term, info *prepInfo) error {
	c, err := e.column(t, col)
	if err != nil {
		return err
	}
	e.bind(t, tm, c.name, c.typ, info)
	return nil
}

func (e *engine) bindRelations(t *table, rels []relation, info *prepInfo) error {
	for _, r := range rels {
		c, err := e.column(t, r.col)
		if err != nil {
			return err
		}
		if r.op == "IN" {
			if r.value != nil {
				e.bind(t, r.value, "in("+c.name+")", &cqlType{id: typeList, elem: c.typ}, info)
			}
			for _, tm := range r.in {
				e.bind(t, tm, c.name, c.typ, info)
			}
			continue
		}
		e.bind(t, r.value, c.name, c.typ, info)
	}
	return nil
}

// pkFromWhere records the markers bound to partition key columns by =.
func pkFromWhere(t *table, rels []relation, info *prepInfo) {
	idx := make([]int, len(t.pk))
	for i := range idx {
		idx[i] = -1
	}
	for _, r := range rels {
		c := t.byName[r.col]
		if c == nil || c.kind != kindPartition || r.op != "=" || !r.value.isMarker() {
			continue
		}
		idx[c.pos] = r.value.marker
	}
	for _, i := range idx {
		if i < 0 {
			return
		}
	}
	info.pkIdx = idx
}

func (e *engine) prepareSelect(x *execCtx, s *selectStmt, info *prepInfo) error {
	// Resolve the result columns by running the selection part against
	// an empty version of the table, which also validates it.
	t, err := e.table(x, s.table)
	if err != nil {
		return err
	}
	if err := e.bindRelations(t, s.where, info); err != nil {
		return err
	}
	e.bind(t, s.limit, "[limit]", tInt, info)
	pkFromWhere(t, s.where, info)
	for _, sel := range s.sels {
		switch {
		case sel.star:
			for _, c := range t.cols {
				info.results = append(info.results, colSpec{t.ks, t.name, c.name, c.typ})
			}
		case sel.count:
			name := "count"
			if sel.alias != "" {
				name = sel.alias
			}
			info.results = append(info.results, colSpec{t.ks, t.name, name, tBigint})
		default:
			c, err := e.column(t, sel.col)
			if err != nil {
				return err
			}
			name, typ := c.name, c.typ
			if sel.fn == "ttl" {
				name, typ = "ttl("+c.name+")", tInt
			}
			if sel.alias != "" {
				name = sel.alias
			}
			info.results = append(info.results, colSpec{t.ks, t.name, name, typ})
		}
	}
	return nil
}

func (e *engine) prepareInsert(x *execCtx, s *insertStmt, info *prepInfo) error {
	t, err := e.writableTable(x, s.table)
	if err != nil {
		return err
	}
	idx := make([]int, len(t.pk))
	for i := range idx {
		idx[i] = -1
	}
	for i, col := range s.cols {
		c, err := e.column(t, col)
		if err != nil {
			return err
		}
		e.bind(t, s.values[i], c.name, c.typ, info)
		if c.kind == kindPartition && s.values[i].isMarker() {
			idx[c.pos] = s.values[i].marker
		}
	}
	complete := true
	for _, i := range idx {
		complete = complete && i >= 0
	}
	if complete {
		info.pkIdx = idx
	}
	e.bind(t, s.using.ttl, "[ttl]", tInt, info)
	return nil
}

func (e *engine) prepareModify(x *execCtx, ref tableRef, u usingClause, where, conds []relation, info *prepInfo, sets func(*table) error) error {
	t, err := e.writableTable(x, ref)
	if err != nil {
		return err
	}
	e.bind(t, u.ttl, "[ttl]", tInt, info)
	if sets != nil {
		if err := sets(t); err != nil {
			return err
		}
	}
	if err := e.bindRelations(t, where, info); err != nil {
		return err
	}
	if err := e.bindRelations(t, conds, info); err != nil {
		return err
	}
	pkFromWhere(t, where, info)
	return nil
}
