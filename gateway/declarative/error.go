package declarative

import (
	"sort"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/internal/entity"
)

// Problem is one thing wrong with a file: where, and what.
type Problem struct {
	// Path says where in the file, as "services[0].routes[1].paths"; it is
	// "" for problems with the file as a whole (it does not parse).
	Path    string
	Message string

	segs path // Path, unambiguously (keys may contain dots)
	line int  // line in the input, 0 when unknown
}

// Error lists every problem of a file. Kong reports declarative problems
// all at once rather than stopping at the first, and so does Tollgate, so
// that a file can be fixed in one pass.
type Error struct {
	Problems []Problem
}

// Error renders the problems on one line, each with its line in the file
// when known.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("declarative config is invalid: ")
	if len(e.Problems) != 1 {
		b.WriteString(strconv.Itoa(len(e.Problems)))
		b.WriteString(" problems: ")
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// String renders one problem as "path: message (line N)".
func (p Problem) String() string {
	s := p.Message
	if p.Path != "" {
		s = p.Path + ": " + s
	}
	if p.line > 0 {
		s += " (line " + strconv.Itoa(p.line) + ")"
	}
	return s
}

// Fields returns the problems nested the way Kong nests them in the
// "fields" of its "invalid declarative configuration" error (code 14):
// objects as maps, arrays as lists with null for entries without problems,
// e.g. {"services": [null, {"routes": [{"paths": "..."}]}]}. A problem with
// a whole entity is the entry itself when the entity has no other problem,
// else it goes under "@entity" as Kong's entity checks do; a problem with
// the whole file goes under "error", as Kong reports parse errors.
func (e *Error) Fields() map[string]any {
	root := map[string]any{}
	for _, p := range e.Problems {
		segs := p.segs
		if segs == nil {
			segs = parsePath(p.Path)
		}
		if len(segs) == 0 {
			segs = path{"error"}
		}
		root = insertProblem(root, segs, p.Message).(map[string]any)
	}
	return root
}

// insertProblem puts msg at segs under node and returns the new node.
func insertProblem(node any, segs path, msg string) any {
	if len(segs) == 0 {
		switch n := node.(type) {
		case nil:
			return msg
		case string:
			return n + "; " + msg
		case map[string]any:
			n["@entity"] = appendEntityMessage(n["@entity"], msg)
			return n
		default:
			// A list holds entries of its own; a problem with the list as
			// a whole is rare enough (e.g. "expected an array" cannot
			// coexist with entry problems) to replace them.
			return msg
		}
	}
	switch s := segs[0].(type) {
	case int:
		list, ok := node.([]any)
		if !ok {
			list = nil
		}
		for len(list) <= s {
			list = append(list, nil)
		}
		list[s] = insertProblem(list[s], segs[1:], msg)
		return list
	default:
		key := s.(string)
		m, ok := node.(map[string]any)
		if !ok {
			m = map[string]any{}
			if str, isStr := node.(string); isStr {
				m["@entity"] = []any{str}
			}
		}
		m[key] = insertProblem(m[key], segs[1:], msg)
		return m
	}
}

func appendEntityMessage(existing any, msg string) any {
	switch x := existing.(type) {
	case []any:
		return append(x, msg)
	case string:
		return []any{x, msg}
	}
	return []any{msg}
}

// path is a place in a file: object keys (string) and array indexes (int).
type path []any

func (p path) key(k string) path {
	out := make(path, len(p), len(p)+1)
	copy(out, p)
	return append(out, k)
}

func (p path) index(i int) path {
	out := make(path, len(p), len(p)+1)
	copy(out, p)
	return append(out, i)
}

// append appends the segments of q.
func (p path) append(q path) path {
	out := make(path, 0, len(p)+len(q))
	return append(append(out, p...), q...)
}

func (p path) String() string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case int:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s))
			b.WriteByte(']')
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// parsePath reads a Path written by String; keys containing '.' or '[' do
// not survive the round trip, which is why Problems keep their segments.
func parsePath(s string) path {
	var p path
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			continue
		}
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			p = append(p, name)
		}
		for rest != "" {
			idx, after, ok := strings.Cut(rest, "]")
			n, err := strconv.Atoi(idx)
			if !ok || err != nil {
				p = append(p, "["+rest)
				break
			}
			p = append(p, n)
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return p
}

// problems collects Problems, with the line of each path where known.
type problems struct {
	list  []Problem
	lines map[string]int
	seen  map[string]bool
}

func newProblems(lines map[string]int) *problems {
	if lines == nil {
		lines = map[string]int{}
	}
	return &problems{lines: lines, seen: map[string]bool{}}
}

func (ps *problems) add(at path, msg string) {
	p := Problem{Path: at.String(), Message: msg, segs: at}
	id := p.Path + "\x00" + msg
	if ps.seen[id] {
		return
	}
	ps.seen[id] = true
	// The line of the nearest ancestor that has one: a missing field has
	// no line of its own, its entity does.
	for n := len(at); n > 0 && p.line == 0; n-- {
		p.line = ps.lines[at[:n].String()]
	}
	ps.list = append(ps.list, p)
}

// addFields adds nested field errors (from validate) under at, in a stable
// order.
func (ps *problems) addFields(at path, fields map[string]any) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub := at.key(k)
		if k == "@entity" {
			sub = at
		}
		switch v := fields[k].(type) {
		case string:
			ps.add(sub, v)
		case map[string]any:
			ps.addFields(sub, v)
		case entity.FieldErrors:
			ps.addFields(sub, v)
		case []any:
			for _, item := range v {
				if s, ok := item.(string); ok {
					ps.add(sub, s)
				}
			}
		case []string:
			for _, s := range v {
				ps.add(sub, s)
			}
		default:
			ps.add(sub, "invalid value")
		}
	}
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &Error{Problems: ps.list}
}
