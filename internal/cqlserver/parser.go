package cqlserver

import (
	"fmt"
	"strings"
)

// The statements the server understands. Everything the parser does not
// know is rejected with an error naming the construct (see unsupported).

type statement interface{ kind() string }

type tableRef struct {
	ks, name string // ks "" means the connection's keyspace
}

func (r tableRef) String() string {
	if r.ks == "" {
		return r.name
	}
	return r.ks + "." + r.name
}

// term is a value in a statement: a literal or a bind marker.
type term struct {
	marker int // index of the bind marker, -1 for a literal
	lit    *literal
}

func (t *term) isMarker() bool { return t.marker >= 0 }

type relation struct {
	col   string
	op    string // = < <= > >= != IN
	value *term  // nil for IN with a list
	in    []*term
}

type assignment struct {
	col   string
	value *term
}

type ordering struct {
	col  string
	desc bool
}

type selector struct {
	col   string // "" for COUNT(*)
	count bool
	fn    string // "writetime", "ttl" or ""
	alias string
	star  bool
}

type useStmt struct{ ks string }

type createKeyspaceStmt struct {
	name        string
	ifNotExists bool
	replication map[string]string
	durable     bool
}

type columnDef struct {
	name string
	typ  *cqlType
}

type createTableStmt struct {
	table        tableRef
	ifNotExists  bool
	cols         []columnDef
	pk, ck       []string
	clusterOrder []ordering
	defaultTTL   int
	comment      string
}

type alterTableStmt struct {
	table      tableRef
	add        []columnDef
	drop       []string
	defaultTTL *int
}

type dropStmt struct {
	keyspace bool // DROP KEYSPACE, else DROP TABLE
	table    tableRef
	ifExists bool
}

type truncateStmt struct{ table tableRef }

type usingClause struct {
	ttl *term
}

type insertStmt struct {
	table       tableRef
	cols        []string
	values      []*term
	ifNotExists bool
	using       usingClause
}

type updateStmt struct {
	table    tableRef
	using    usingClause
	sets     []assignment
	where    []relation
	ifExists bool
	conds    []relation
}

type deleteStmt struct {
	table    tableRef
	cols     []string
	where    []relation
	ifExists bool
	conds    []relation
}

type selectStmt struct {
	table   tableRef
	sels    []selector // one star selector for *
	where   []relation
	orderBy []ordering
	limit   *term
}

type batchStmt struct {
	stmts []statement
}

func (*useStmt) kind() string            { return "USE" }
func (*createKeyspaceStmt) kind() string { return "CREATE KEYSPACE" }
func (*createTableStmt) kind() string    { return "CREATE TABLE" }
func (*alterTableStmt) kind() string     { return "ALTER TABLE" }
func (s *dropStmt) kind() string {
	if s.keyspace {
		return "DROP KEYSPACE"
	}
	return "DROP TABLE"
}
func (*truncateStmt) kind() string { return "TRUNCATE" }
func (*insertStmt) kind() string   { return "INSERT" }
func (*updateStmt) kind() string   { return "UPDATE" }
func (*deleteStmt) kind() string   { return "DELETE" }
func (*selectStmt) kind() string   { return "SELECT" }
func (*batchStmt) kind() string    { return "BATCH" }

// parsed is a statement with the number of bind markers it has.
type parsed struct {
	stmt    statement
	markers int
}

type parser struct {
	toks    []token
	i       int
	markers int
}

// parseError is a syntax error (protocol error 0x2000) or, when
// unsupported is set, a construct this server does not implement (0x2200).
type parseError struct {
	msg         string
	unsupported bool
}

func (e *parseError) Error() string { return e.msg }

func (p *parser) fail(format string, args ...any) {
	panic(&parseError{msg: fmt.Sprintf(format, args...)})
}

// unsupported stops parsing with an error naming the construct.
func (p *parser) unsupported(what string) {
	panic(&parseError{msg: "cqlserver does not support " + what + " (it is an in-memory test server implementing the subset of CQL Tollgate uses)", unsupported: true})
}

// parse parses one CQL statement (an optional trailing ';' allowed).
func parse(query string) (res parsed, err error) {
	toks, lerr := lex(query)
	if lerr != nil {
		return parsed{}, &parseError{msg: "line 1: " + lerr.Error()}
	}
	p := &parser{toks: toks}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*parseError)
			if !ok {
				panic(r)
			}
			err = pe
		}
	}()
	st := p.statement()
	for p.acceptPunct(";") {
	}
	if p.peek().kind != tokEOF {
		p.fail("line 1:%d mismatched input '%s' expecting end of statement", p.peek().pos, p.peek())
	}
	return parsed{stmt: st, markers: p.markers}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) isKW(kw string) bool {
	t := p.peek()
	return t.kind == tokIdent && t.text == kw
}

func (p *parser) acceptKW(kws ...string) bool {
	for k, kw := range kws {
		t := p.peekAt(k)
		if t.kind != tokIdent || t.text != kw {
			return false
		}
	}
	p.i += len(kws)
	return true
}

func (p *parser) expectKW(kw string) {
	if !p.acceptKW(kw) {
		p.fail("line 1:%d mismatched input '%s' expecting %s", p.peek().pos, p.peek(), strings.ToUpper(kw))
	}
}

func (p *parser) acceptPunct(s string) bool {
	t := p.peek()
	if t.kind == tokPunct && t.text == s {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectPunct(s string) {
	if !p.acceptPunct(s) {
		p.fail("line 1:%d mismatched input '%s' expecting '%s'", p.peek().pos, p.peek(), s)
	}
}

// reserved words that cannot be unquoted identifiers.
var reserved = map[string]bool{
	"select": true, "from": true, "where": true, "and": true, "insert": true, "into": true,
	"values": true, "update": true, "set": true, "delete": true, "using": true, "if": true,
	"limit": true, "order": true, "by": true, "asc": true, "desc": true, "create": true,
	"drop": true, "table": true, "keyspace": true, "primary": true, "with": true, "batch": true,
	"apply": true, "begin": true, "in": true, "allow": true, "truncate": true, "use": true,
	"alter": true, "add": true, "not": true, "null": true, "of": true, "is": true, "to": true,
	"grant": true, "revoke": true, "modify": true, "token": true, "schema": true, "unlogged": true,
	"columnfamily": true, "index": true, "on": true,
}

func (p *parser) ident(what string) string {
	t := p.peek()
	switch {
	case t.kind == tokQuotedIdent:
		p.i++
		return t.text
	case t.kind == tokIdent && !reserved[t.text]:
		p.i++
		return t.text
	}
	p.fail("line 1:%d no viable alternative at input '%s' (expecting %s)", t.pos, t, what)
	return ""
}

func (p *parser) tableRef() tableRef {
	first := p.ident("a table name")
	if p.acceptPunct(".") {
		return tableRef{ks: first, name: p.ident("a table name")}
	}
	return tableRef{name: first}
}

func (p *parser) statement() statement {
	t := p.peek()
	if t.kind != tokIdent {
		p.fail("line 1:%d no viable alternative at input '%s'", t.pos, t)
	}
	switch t.text {
	case "select":
		p.next()
		return p.selectStmt()
	case "insert":
		p.next()
		return p.insertStmt()
	case "update":
		p.next()
		return p.updateStmt()
	case "delete":
		p.next()
		return p.deleteStmt()
	case "begin":
		p.next()
		return p.batchStmt()
	case "use":
		p.next()
		return &useStmt{ks: p.ident("a keyspace name")}
	case "truncate":
		p.next()
		if !p.acceptKW("table") {
			p.acceptKW("columnfamily")
		}
		return &truncateStmt{table: p.tableRef()}
	case "create":
		p.next()
		return p.createStmt()
	case "drop":
		p.next()
		return p.dropStmt()
	case "alter":
		p.next()
		if p.acceptKW("table") || p.acceptKW("columnfamily") {
			return p.alterTableStmt()
		}
		p.unsupported("ALTER " + strings.ToUpper(p.peek().text))
	case "grant", "revoke", "list", "describe", "desc":
		p.unsupported(strings.ToUpper(t.text) + " statements")
	}
	p.fail("line 1:%d no viable alternative at input '%s'", t.pos, t)
	return nil
}

func (p *parser) createStmt() statement {
	switch {
	case p.acceptKW("keyspace"), p.acceptKW("schema"):
		return p.createKeyspace()
	case p.acceptKW("table"), p.acceptKW("columnfamily"):
		return p.createTable()
	case p.isKW("index"), p.isKW("custom"):
		p.unsupported("CREATE INDEX (secondary indexes)")
	case p.isKW("materialized"):
		p.unsupported("CREATE MATERIALIZED VIEW")
	case p.isKW("or"), p.isKW("function"), p.isKW("aggregate"):
		p.unsupported("user-defined functions and aggregates")
	}
	p.unsupported("CREATE " + strings.ToUpper(p.peek().text))
	return nil
}

func (p *parser) ifNotExists() bool {
	return p.acceptKW("if", "not", "exists")
}

func (p *parser) createKeyspace() statement {
	s := &createKeyspaceStmt{durable: true}
	s.ifNotExists = p.ifNotExists()
	s.name = p.ident("a keyspace name")
	p.expectKW("with")
	for {
		name := p.ident("a keyspace property")
		p.expectPunct("=")
		v := p.literalOnly()
		switch name {
		case "replication":
			if v.kind != litMap {
				p.fail("replication must be a map literal, got %s", v.describe())
			}
			s.replication = map[string]string{}
			for i := 0; i+1 < len(v.elems); i += 2 {
				s.replication[v.elems[i].text] = v.elems[i+1].text
			}
		case "durable_writes":
			if v.kind != litBool {
				p.fail("durable_writes must be true or false")
			}
			s.durable = v.text == "true"
		default:
			p.fail("Unknown property '%s'", name)
		}
		if !p.acceptKW("and") {
			break
		}
	}
	if s.replication == nil || s.replication["class"] == "" {
		p.fail("Missing mandatory replication strategy class")
	}
	return s
}

func (p *parser) cqlType() *cqlType {
	// Type names may be reserved words (set, map, list...).
	tk := p.next()
	if tk.kind != tokIdent {
		p.fail("line 1:%d no viable alternative at input '%s' (expecting a type)", tk.pos, tk)
	}
	name := tk.text
	if name == "frozen" {
		p.expectPunct("<")
		t := p.cqlType()
		p.expectPunct(">")
		return t
	}
	switch name {
	case "list", "set":
		p.expectPunct("<")
		elem := p.cqlType()
		p.expectPunct(">")
		if elem.isCollection() {
			p.unsupported("nested collections")
		}
		id := typeList
		if name == "set" {
			id = typeSet
		}
		return &cqlType{id: id, elem: elem}
	case "map":
		p.expectPunct("<")
		k := p.cqlType()
		p.expectPunct(",")
		v := p.cqlType()
		p.expectPunct(">")
		if k.isCollection() || v.isCollection() {
			p.unsupported("nested collections")
		}
		return &cqlType{id: typeMap, key: k, elem: v}
	case "counter":
		p.unsupported("counter columns")
	case "tuple":
		p.unsupported("tuple types")
	case "varint", "decimal", "duration":
		p.unsupported("the " + name + " type")
	}
	id, ok := nativeTypes[name]
	if !ok {
		p.unsupported("the type " + name + " (user-defined types are not supported)")
	}
	return &cqlType{id: id}
}

func (p *parser) createTable() statement {
	s := &createTableStmt{}
	s.ifNotExists = p.ifNotExists()
	s.table = p.tableRef()
	p.expectPunct("(")
	for {
		if p.acceptKW("primary") {
			p.expectKW("key")
			if s.pk != nil {
				p.fail("Multiple PRIMARY KEYs specified (exactly one required)")
			}
			p.expectPunct("(")
			if p.acceptPunct("(") {
				for {
					s.pk = append(s.pk, p.ident("a column name"))
					if !p.acceptPunct(",") {
						break
					}
				}
				p.expectPunct(")")
			} else {
				s.pk = []string{p.ident("a column name")}
			}
			for p.acceptPunct(",") {
				s.ck = append(s.ck, p.ident("a column name"))
			}
			p.expectPunct(")")
		} else {
			name := p.ident("a column name")
			typ := p.cqlType()
			if p.acceptKW("static") {
				p.unsupported("static columns")
			}
			s.cols = append(s.cols, columnDef{name: name, typ: typ})
			if p.acceptKW("primary") {
				p.expectKW("key")
				if s.pk != nil {
					p.fail("Multiple PRIMARY KEYs specified (exactly one required)")
				}
				s.pk = []string{name}
			}
		}
		if !p.acceptPunct(",") {
			break
		}
		if p.peek().kind == tokPunct && p.peek().text == ")" {
			break
		}
	}
	p.expectPunct(")")
	if s.pk == nil {
		p.fail("No PRIMARY KEY specifed (exactly one required)")
	}
	if p.acceptKW("with") {
		p.tableOptions(func(name string, v *literal) {
			switch name {
			case "default_time_to_live":
				s.defaultTTL = p.ttlOption(v)
			case "comment":
				s.comment = v.text
			}
		}, &s.clusterOrder)
	}
	return s
}

func (p *parser) ttlOption(v *literal) int {
	if v.kind != litInt {
		p.fail("default_time_to_live must be an integer")
	}
	n := 0
	for _, c := range v.text {
		n = n*10 + int(c-'0')
		if n > maxTTL {
			p.fail("default_time_to_live must be at most %d", maxTTL)
		}
	}
	return n
}

// tableProperties Cassandra accepts; only default_time_to_live (and the
// comment, kept for system_schema) changes what this server does.
var tableProperties = map[string]bool{
	"default_time_to_live": true, "comment": true, "compaction": true, "compression": true,
	"caching": true, "gc_grace_seconds": true, "bloom_filter_fp_chance": true,
	"speculative_retry": true, "additional_write_policy": true, "memtable_flush_period_in_ms": true,
	"crc_check_chance": true, "cdc": true, "min_index_interval": true, "max_index_interval": true,
	"read_repair": true, "extensions": true, "dclocal_read_repair_chance": true, "read_repair_chance": true,
	"memtable": true,
}

func (p *parser) tableOptions(set func(string, *literal), order *[]ordering) {
	for {
		switch {
		case p.acceptKW("clustering", "order", "by"):
			if order == nil {
				p.fail("CLUSTERING ORDER BY can only be set when creating a table")
			}
			p.expectPunct("(")
			for {
				o := ordering{col: p.ident("a column name")}
				if p.acceptKW("desc") {
					o.desc = true
				} else {
					p.acceptKW("asc")
				}
				*order = append(*order, o)
				if !p.acceptPunct(",") {
					break
				}
			}
			p.expectPunct(")")
		case p.acceptKW("compact", "storage"):
			p.unsupported("COMPACT STORAGE")
		default:
			name := p.ident("a table property")
			if !tableProperties[name] {
				p.fail("Unknown property '%s'", name)
			}
			p.expectPunct("=")
			set(name, p.literalOnly())
		}
		if !p.acceptKW("and") {
			return
		}
	}
}

func (p *parser) alterTableStmt() statement {
	s := &alterTableStmt{table: p.tableRef()}
	switch {
	case p.acceptKW("add"):
		if p.acceptPunct("(") {
			for {
				name := p.ident("a column name")
				s.add = append(s.add, columnDef{name: name, typ: p.cqlType()})
				if !p.acceptPunct(",") {
					break
				}
			}
			p.expectPunct(")")
		} else {
			name := p.ident("a column name")
			s.add = append(s.add, columnDef{name: name, typ: p.cqlType()})
		}
		if p.acceptKW("static") {
			p.unsupported("static columns")
		}
	case p.acceptKW("drop"):
		if p.acceptPunct("(") {
			for {
				s.drop = append(s.drop, p.ident("a column name"))
				if !p.acceptPunct(",") {
					break
				}
			}
			p.expectPunct(")")
		} else {
			s.drop = append(s.drop, p.ident("a column name"))
		}
	case p.acceptKW("with"):
		p.tableOptions(func(name string, v *literal) {
			if name == "default_time_to_live" {
				n := p.ttlOption(v)
				s.defaultTTL = &n
			}
		}, nil)
	default:
		p.unsupported("ALTER TABLE " + strings.ToUpper(p.peek().text))
	}
	return s
}

func (p *parser) dropStmt() statement {
	s := &dropStmt{}
	switch {
	case p.acceptKW("keyspace"), p.acceptKW("schema"):
		s.keyspace = true
		s.ifExists = p.acceptKW("if", "exists")
		s.table = tableRef{ks: p.ident("a keyspace name")}
	case p.acceptKW("table"), p.acceptKW("columnfamily"):
		s.ifExists = p.acceptKW("if", "exists")
		s.table = p.tableRef()
	default:
		p.unsupported("DROP " + strings.ToUpper(p.peek().text))
	}
	return s
}

// literalOnly parses a constant (no bind marker), as in DDL properties.
func (p *parser) literalOnly() *literal {
	t := p.term()
	if t.isMarker() {
		p.fail("bind markers are not allowed here")
	}
	return t.lit
}

func (p *parser) marker() *term {
	t := &term{marker: p.markers}
	p.markers++
	return t
}

func (p *parser) term() *term {
	t := p.next()
	switch t.kind {
	case tokMarker:
		return p.marker()
	case tokNamedMarker:
		p.unsupported("named bind markers (:" + t.text + ")")
	case tokString:
		return &term{marker: -1, lit: &literal{kind: litString, text: t.text}}
	case tokInt:
		return &term{marker: -1, lit: &literal{kind: litInt, text: t.text}}
	case tokFloat:
		return &term{marker: -1, lit: &literal{kind: litFloat, text: t.text}}
	case tokUUID:
		return &term{marker: -1, lit: &literal{kind: litUUID, text: t.text}}
	case tokBlob:
		return &term{marker: -1, lit: &literal{kind: litBlob, text: t.text}}
	case tokIdent:
		switch t.text {
		case "true", "false":
			return &term{marker: -1, lit: &literal{kind: litBool, text: t.text}}
		case "null":
			return &term{marker: -1, lit: &literal{kind: litNull, text: "null"}}
		case "nan", "infinity":
			return &term{marker: -1, lit: &literal{kind: litFloat, text: t.text}}
		}
		if p.acceptPunct("(") {
			return &term{marker: -1, lit: &literal{kind: litFunc, text: p.funcCall(t.text)}}
		}
	case tokPunct:
		switch t.text {
		case "-":
			n := p.next()
			switch {
			case n.kind == tokInt:
				return &term{marker: -1, lit: &literal{kind: litInt, text: "-" + n.text}}
			case n.kind == tokFloat, n.kind == tokIdent && (n.text == "nan" || n.text == "infinity"):
				return &term{marker: -1, lit: &literal{kind: litFloat, text: "-" + n.text}}
			}
			p.fail("line 1:%d no viable alternative at input '%s'", n.pos, n)
		case "[":
			l := &literal{kind: litList}
			if !p.acceptPunct("]") {
				for {
					l.elems = append(l.elems, p.collectionElem())
					if !p.acceptPunct(",") {
						break
					}
				}
				p.expectPunct("]")
			}
			return &term{marker: -1, lit: l}
		case "{":
			l := &literal{kind: litSet}
			if p.acceptPunct("}") {
				return &term{marker: -1, lit: l}
			}
			first := p.collectionElem()
			if p.acceptPunct(":") {
				l.kind = litMap
				l.elems = append(l.elems, first, p.collectionElem())
				for p.acceptPunct(",") {
					l.elems = append(l.elems, p.collectionElem())
					p.expectPunct(":")
					l.elems = append(l.elems, p.collectionElem())
				}
			} else {
				l.elems = append(l.elems, first)
				for p.acceptPunct(",") {
					l.elems = append(l.elems, p.collectionElem())
				}
			}
			p.expectPunct("}")
			return &term{marker: -1, lit: l}
		case "(":
			p.unsupported("tuple literals")
		}
	}
	p.fail("line 1:%d no viable alternative at input '%s'", t.pos, t)
	return nil
}

func (p *parser) collectionElem() *literal {
	t := p.term()
	if t.isMarker() {
		p.unsupported("bind markers inside collection literals")
	}
	if t.lit.kind == litList || t.lit.kind == litSet || t.lit.kind == litMap {
		p.unsupported("nested collections")
	}
	return t.lit
}

// funcCall parses the rest of a function call after "name(" and returns
// its canonical name; only the value functions Tollgate might write are
// known.
func (p *parser) funcCall(name string) string {
	switch name {
	case "now", "uuid", "currenttimestamp":
		p.expectPunct(")")
		return name
	case "totimestamp":
		if p.acceptKW("now") {
			p.expectPunct("(")
			p.expectPunct(")")
			p.expectPunct(")")
			return "totimestamp(now)"
		}
	}
	p.unsupported("the function " + name + "()")
	return ""
}

func (p *parser) using(u *usingClause) {
	for {
		switch {
		case p.acceptKW("ttl"):
			if u.ttl != nil {
				p.fail("a TTL is given twice")
			}
			u.ttl = p.term()
		case p.isKW("timestamp"):
			p.unsupported("USING TIMESTAMP")
		default:
			p.fail("line 1:%d mismatched input '%s' expecting TTL", p.peek().pos, p.peek())
		}
		if !p.acceptKW("and") {
			return
		}
	}
}

func (p *parser) insertStmt() statement {
	p.expectKW("into")
	s := &insertStmt{table: p.tableRef()}
	if p.isKW("json") {
		p.unsupported("INSERT JSON")
	}
	p.expectPunct("(")
	for {
		s.cols = append(s.cols, p.ident("a column name"))
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct(")")
	if p.isKW("json") {
		p.unsupported("INSERT JSON")
	}
	p.expectKW("values")
	p.expectPunct("(")
	for {
		s.values = append(s.values, p.term())
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct(")")
	if len(s.cols) != len(s.values) {
		p.fail("Unmatched column names/values")
	}
	for i := 0; i < 2; i++ {
		if p.ifNotExists() {
			s.ifNotExists = true
		}
		if p.acceptKW("using") {
			p.using(&s.using)
		}
	}
	return s
}

func (p *parser) updateStmt() statement {
	s := &updateStmt{table: p.tableRef()}
	if p.acceptKW("using") {
		p.using(&s.using)
	}
	p.expectKW("set")
	for {
		col := p.ident("a column name")
		if p.peek().kind == tokPunct && p.peek().text == "[" {
			p.unsupported("setting collection elements (" + col + "[...] = ...)")
		}
		if p.peek().kind == tokPunct && p.peek().text == "." {
			p.unsupported("setting user-defined type fields")
		}
		p.expectPunct("=")
		if t := p.peek(); (t.kind == tokIdent && !reserved[t.text] && p.peekAt(1).kind == tokPunct && (p.peekAt(1).text == "+" || p.peekAt(1).text == "-")) ||
			t.kind == tokQuotedIdent {
			p.unsupported("counter and collection arithmetic (" + col + " = " + t.text + " " + p.peekAt(1).text + " ...)")
		}
		v := p.term()
		if p.peek().kind == tokPunct && (p.peek().text == "+" || p.peek().text == "-") {
			p.unsupported("counter and collection arithmetic (" + col + " = ... " + p.peek().text + " " + col + ")")
		}
		s.sets = append(s.sets, assignment{col: col, value: v})
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectKW("where")
	s.where = p.relations()
	s.ifExists, s.conds = p.conditions()
	return s
}

func (p *parser) deleteStmt() statement {
	s := &deleteStmt{}
	if !p.isKW("from") {
		for {
			col := p.ident("a column name")
			if p.peek().kind == tokPunct && p.peek().text == "[" {
				p.unsupported("deleting collection elements (" + col + "[...])")
			}
			s.cols = append(s.cols, col)
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	p.expectKW("from")
	s.table = p.tableRef()
	if p.acceptKW("using") {
		if p.isKW("timestamp") {
			p.unsupported("USING TIMESTAMP")
		}
		p.fail("line 1:%d mismatched input '%s' expecting TIMESTAMP", p.peek().pos, p.peek())
	}
	p.expectKW("where")
	s.where = p.relations()
	s.ifExists, s.conds = p.conditions()
	return s
}

func (p *parser) conditions() (ifExists bool, conds []relation) {
	if !p.acceptKW("if") {
		return false, nil
	}
	if p.acceptKW("exists") {
		return true, nil
	}
	if p.isKW("not") {
		p.fail("IF NOT EXISTS is only valid on INSERT")
	}
	for {
		conds = append(conds, p.relation(true))
		if !p.acceptKW("and") {
			return false, conds
		}
	}
}

func (p *parser) relations() []relation {
	var rels []relation
	for {
		rels = append(rels, p.relation(false))
		if !p.acceptKW("and") {
			return rels
		}
	}
}

func (p *parser) relation(condition bool) relation {
	if p.peek().kind == tokPunct && p.peek().text == "(" {
		p.unsupported("multi-column (tuple) relations")
	}
	if p.isKW("token") {
		p.unsupported("token() relations")
	}
	col := p.ident("a column name")
	if p.peek().kind == tokPunct && (p.peek().text == "[" || p.peek().text == ".") {
		p.unsupported("conditions on collection elements or fields")
	}
	r := relation{col: col}
	t := p.next()
	switch {
	case t.kind == tokPunct && (t.text == "=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">=" || t.text == "!="):
		r.op = t.text
		r.value = p.term()
	case t.kind == tokIdent && t.text == "in":
		r.op = "IN"
		if p.acceptPunct("(") {
			if !p.acceptPunct(")") {
				for {
					r.in = append(r.in, p.term())
					if !p.acceptPunct(",") {
						break
					}
				}
				p.expectPunct(")")
			}
		} else {
			r.value = p.term()
			if !r.value.isMarker() {
				p.fail("line 1:%d expecting '(' or '?' after IN", t.pos)
			}
		}
	case t.kind == tokIdent && (t.text == "contains" || t.text == "like"):
		p.unsupported(strings.ToUpper(t.text) + " relations")
	case t.kind == tokIdent && t.text == "is":
		p.unsupported("IS NOT NULL relations")
	default:
		p.fail("line 1:%d no viable alternative at input '%s'", t.pos, t)
	}
	if !condition && r.op == "!=" {
		p.unsupported("!= in a WHERE clause")
	}
	return r
}

func (p *parser) selectStmt() statement {
	s := &selectStmt{}
	if p.isKW("json") {
		p.unsupported("SELECT JSON")
	}
	if p.isKW("distinct") {
		p.unsupported("SELECT DISTINCT")
	}
	if p.acceptPunct("*") {
		s.sels = []selector{{star: true}}
	} else {
		for {
			s.sels = append(s.sels, p.selector())
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	p.expectKW("from")
	s.table = p.tableRef()
	if p.acceptKW("where") {
		s.where = p.relations()
	}
	if p.isKW("group") {
		p.unsupported("GROUP BY")
	}
	if p.acceptKW("order", "by") {
		for {
			o := ordering{col: p.ident("a column name")}
			if p.acceptKW("desc") {
				o.desc = true
			} else {
				p.acceptKW("asc")
			}
			s.orderBy = append(s.orderBy, o)
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	if p.isKW("per") {
		p.unsupported("PER PARTITION LIMIT")
	}
	if p.acceptKW("limit") {
		s.limit = p.term()
	}
	if p.isKW("allow") {
		p.unsupported("ALLOW FILTERING")
	}
	return s
}

func (p *parser) selector() selector {
	t := p.peek()
	if t.kind == tokIdent && p.peekAt(1).kind == tokPunct && p.peekAt(1).text == "(" {
		p.i += 2
		var sel selector
		switch t.text {
		case "count":
			if !p.acceptPunct("*") {
				if n := p.next(); n.kind != tokInt || n.text != "1" {
					p.unsupported("count(" + n.text + ")")
				}
			}
			sel.count = true
		case "writetime":
			p.unsupported("writetime()")
		case "ttl":
			sel.fn = "ttl"
			sel.col = p.ident("a column name")
		default:
			p.unsupported("the function " + t.text + "() in a selection")
		}
		p.expectPunct(")")
		if p.acceptKW("as") {
			sel.alias = p.ident("an alias")
		}
		return sel
	}
	sel := selector{col: p.ident("a column name")}
	if p.peek().kind == tokPunct && p.peek().text == "." {
		p.unsupported("user-defined type field selection")
	}
	if p.acceptKW("as") {
		sel.alias = p.ident("an alias")
	}
	return sel
}

func (p *parser) batchStmt() statement {
	if p.acceptKW("counter") {
		p.unsupported("COUNTER batches")
	}
	if !p.acceptKW("unlogged") {
		p.acceptKW("logged")
	}
	p.expectKW("batch")
	if p.acceptKW("using") {
		p.unsupported("USING TIMESTAMP on a batch")
	}
	s := &batchStmt{}
	for !p.acceptKW("apply") {
		var st statement
		switch {
		case p.acceptKW("insert"):
			st = p.insertStmt()
		case p.acceptKW("update"):
			st = p.updateStmt()
		case p.acceptKW("delete"):
			st = p.deleteStmt()
		default:
			p.fail("line 1:%d expecting INSERT, UPDATE, DELETE or APPLY BATCH, got '%s'", p.peek().pos, p.peek())
		}
		s.stmts = append(s.stmts, st)
		for p.acceptPunct(";") {
		}
	}
	p.expectKW("batch")
	return s
}
