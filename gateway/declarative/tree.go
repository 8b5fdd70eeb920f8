package declarative

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// valueKind is the JSON type of a document value.
type valueKind uint8

const (
	kindNull valueKind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

// value is one node of a parsed document, YAML or JSON alike: the JSON data
// model with object keys kept in document order and the line each value
// starts on, so that problems can say where they are.
type value struct {
	kind  valueKind
	text  string   // string contents, or a number as JSON text
	b     bool     // kindBool
	keys  []string // kindObject: keys in document order
	items []*value // kindObject: values parallel to keys; kindArray: elements
	line  int      // 1-based; 0 when unknown
}

func (v *value) isNull() bool { return v == nil || v.kind == kindNull }

// get returns the value of key in an object.
func (v *value) get(key string) (*value, bool) {
	if v == nil || v.kind != kindObject {
		return nil, false
	}
	for i, k := range v.keys {
		if k == key {
			return v.items[i], true
		}
	}
	return nil, false
}

// set adds or replaces key in an object.
func (v *value) set(key string, val *value) {
	for i, k := range v.keys {
		if k == key {
			v.items[i] = val
			return
		}
	}
	v.keys = append(v.keys, key)
	v.items = append(v.items, val)
}

// del removes key from an object.
func (v *value) del(key string) {
	for i, k := range v.keys {
		if k == key {
			v.keys = append(v.keys[:i:i], v.keys[i+1:]...)
			v.items = append(v.items[:i:i], v.items[i+1:]...)
			return
		}
	}
}

// isEmpty reports values that Kong treats as "not set": null, "", false, 0,
// and empty arrays and objects.
func (v *value) isEmpty() bool {
	switch {
	case v.isNull():
		return true
	case v.kind == kindString:
		return v.text == ""
	case v.kind == kindBool:
		return !v.b
	case v.kind == kindNumber:
		f, err := strconv.ParseFloat(v.text, 64)
		return err == nil && f == 0
	}
	return len(v.items) == 0
}

// Limits that keep hostile input from exhausting the machine: YAML aliases
// can expand a small document exponentially ("billion laughs"), and deep
// nesting would exhaust the stack of a recursive walk.
const (
	maxDepth       = 256
	baseNodeBudget = 200_000
)

var errTooComplex = errors.New("document too complex: excessive aliasing or nesting")

// load parses data as JSON when it is valid JSON (as Kong tries cjson
// first) and as YAML otherwise.
func load(data []byte) (*value, error) {
	if json.Valid(data) {
		return loadJSON(data)
	}
	return loadYAML(data)
}

// lineIndex maps byte offsets to line numbers.
type lineIndex []int

func newLineIndex(data []byte) lineIndex {
	li := lineIndex{0}
	for i, c := range data {
		if c == '\n' {
			li = append(li, i+1)
		}
	}
	return li
}

func (li lineIndex) line(off int) int {
	return sort.Search(len(li), func(i int) bool { return li[i] > off })
}

type jsonLoader struct {
	data  []byte
	dec   *json.Decoder
	lines lineIndex
}

func loadJSON(data []byte) (*value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	l := &jsonLoader{data: data, dec: dec, lines: newLineIndex(data)}
	v, err := l.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the top-level value")
	}
	return v, nil
}

// offset returns where the next token starts.
func (l *jsonLoader) offset() int {
	off := int(l.dec.InputOffset())
	for off < len(l.data) {
		switch l.data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

func (l *jsonLoader) value(depth int) (*value, error) {
	if depth > maxDepth {
		return nil, errTooComplex
	}
	line := l.lines.line(l.offset())
	tok, err := l.dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return &value{kind: kindNull, line: line}, nil
	case bool:
		return &value{kind: kindBool, b: t, line: line}, nil
	case json.Number:
		return &value{kind: kindNumber, text: string(t), line: line}, nil
	case string:
		return &value{kind: kindString, text: t, line: line}, nil
	case json.Delim:
		if t == '[' {
			v := &value{kind: kindArray, line: line}
			for l.dec.More() {
				item, err := l.value(depth + 1)
				if err != nil {
					return nil, err
				}
				v.items = append(v.items, item)
			}
			_, err := l.dec.Token() // ']'
			return v, err
		}
		v := &value{kind: kindObject, line: line}
		seen := map[string]bool{}
		for l.dec.More() {
			keyLine := l.lines.line(l.offset())
			kt, err := l.dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := kt.(string)
			if seen[key] {
				return nil, fmt.Errorf("line %d: duplicate key %q", keyLine, key)
			}
			seen[key] = true
			item, err := l.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v.keys = append(v.keys, key)
			v.items = append(v.items, item)
		}
		_, err := l.dec.Token() // '}'
		return v, err
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

type yamlLoader struct {
	budget int
}

func loadYAML(data []byte) (v *value, err error) {
	// The YAML library is third-party code fed untrusted input: a panic in
	// it must not take the process down.
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &value{kind: kindNull}, nil
	}
	l := &yamlLoader{budget: baseNodeBudget + 10*len(data)}
	return l.node(doc.Content[0], 0)
}

func (l *yamlLoader) node(n *yaml.Node, depth int) (*value, error) {
	l.budget--
	if l.budget < 0 || depth > maxDepth {
		return nil, errTooComplex
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &value{kind: kindNull, line: n.Line}, nil
		}
		return l.node(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: unknown alias", n.Line)
		}
		v, err := l.node(n.Alias, depth+1)
		if err != nil {
			return nil, err
		}
		// Report problems where the alias is used, not where the anchor is.
		c := *v
		c.line = n.Line
		return &c, nil
	case yaml.ScalarNode:
		return scalar(n), nil
	case yaml.SequenceNode:
		v := &value{kind: kindArray, line: n.Line}
		for _, c := range n.Content {
			item, err := l.node(c, depth+1)
			if err != nil {
				return nil, err
			}
			v.items = append(v.items, item)
		}
		return v, nil
	case yaml.MappingNode:
		return l.mapping(n, depth)
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// mapping converts a YAML mapping, applying merge keys ("<<: *base") the
// way YAML 1.1 defines them: keys of the mapping itself win over merged ones,
// and earlier merged mappings win over later ones.
func (l *yamlLoader) mapping(n *yaml.Node, depth int) (*value, error) {
	v := &value{kind: kindObject, line: n.Line}
	explicit := map[string]bool{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, val)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: mapping keys must be strings", k.Line)
		}
		if explicit[k.Value] {
			return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
		}
		explicit[k.Value] = true
		item, err := l.node(val, depth+1)
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, k.Value)
		v.items = append(v.items, item)
	}
	for _, m := range merges {
		src, err := l.node(m, depth+1)
		if err != nil {
			return nil, err
		}
		var maps []*value
		switch src.kind {
		case kindObject:
			maps = []*value{src}
		case kindArray:
			maps = src.items
		}
		for _, mm := range maps {
			if mm.kind != kindObject {
				return nil, fmt.Errorf("line %d: merge key needs a mapping or a list of mappings", m.Line)
			}
			for i, k := range mm.keys {
				if _, ok := v.get(k); !ok {
					v.keys = append(v.keys, k)
					v.items = append(v.items, mm.items[i])
				}
			}
		}
		if len(maps) == 0 && src.kind != kindObject && src.kind != kindArray {
			return nil, fmt.Errorf("line %d: merge key needs a mapping or a list of mappings", m.Line)
		}
	}
	return v, nil
}

// scalar converts a YAML scalar by its resolved tag (YAML 1.2 core schema,
// as the YAML library resolves it).
func scalar(n *yaml.Node) *value {
	v := &value{line: n.Line}
	switch n.ShortTag() {
	case "!!null":
		v.kind = kindNull
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			v.kind, v.b = kindBool, b
		} else {
			v.kind, v.text = kindString, n.Value
		}
	case "!!int", "!!float":
		if text, ok := yamlNumber(n); ok {
			v.kind, v.text = kindNumber, text
		} else {
			// .inf, .nan and out-of-range numbers have no JSON form:
			// keep the text so that typed fields report a type error.
			v.kind, v.text = kindString, n.Value
		}
	default:
		v.kind, v.text = kindString, n.Value
	}
	return v
}

// yamlNumber returns a YAML number as JSON number text.
func yamlNumber(n *yaml.Node) (string, bool) {
	if isJSONNumber(n.Value) {
		return n.Value, true
	}
	var i int64
	if n.Decode(&i) == nil {
		return strconv.FormatInt(i, 10), true
	}
	var u uint64
	if n.Decode(&u) == nil {
		return strconv.FormatUint(u, 10), true
	}
	var f float64
	if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64), true
	}
	return "", false
}

func isJSONNumber(s string) bool {
	if s == "" || s[0] == '+' || s[0] == '.' || strings.ContainsAny(s, "_xXoObB") {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

// appendJSON renders v as compact JSON.
func appendJSON(buf *bytes.Buffer, v *value) {
	switch v.kind {
	case kindNull:
		buf.WriteString("null")
	case kindBool:
		buf.WriteString(strconv.FormatBool(v.b))
	case kindNumber:
		buf.WriteString(v.text)
	case kindString:
		appendJSONString(buf, v.text)
	case kindArray:
		buf.WriteByte('[')
		for i, item := range v.items {
			if i > 0 {
				buf.WriteByte(',')
			}
			appendJSON(buf, item)
		}
		buf.WriteByte(']')
	case kindObject:
		buf.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			appendJSONString(buf, k)
			buf.WriteByte(':')
			appendJSON(buf, v.items[i])
		}
		buf.WriteByte('}')
	}
}

func appendJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // cannot fail for a string
	buf.Truncate(buf.Len() - 1)
}

func toJSON(v *value) []byte {
	var buf bytes.Buffer
	appendJSON(&buf, v)
	return buf.Bytes()
}

// withoutNulls returns v with every object member whose value is null
// removed, recursively: what Kong reads as "not set" need not be written.
func withoutNulls(v *value) *value {
	switch v.kind {
	case kindObject:
		out := &value{kind: kindObject, line: v.line}
		for i, k := range v.keys {
			if v.items[i].isNull() {
				continue
			}
			out.keys = append(out.keys, k)
			out.items = append(out.items, withoutNulls(v.items[i]))
		}
		return out
	case kindArray:
		out := &value{kind: kindArray, line: v.line, items: make([]*value, len(v.items))}
		for i, item := range v.items {
			out.items[i] = withoutNulls(item)
		}
		return out
	}
	return v
}

// yamlNode renders v as a YAML node tree.
func yamlNode(v *value) *yaml.Node {
	switch v.kind {
	case kindNull:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case kindBool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.b)}
	case kindNumber:
		tag := "!!int"
		if strings.ContainsAny(v.text, ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v.text}
	case kindString:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.text}
		if strings.Contains(v.text, "\n") {
			// PEM certificates and keys read best as literal blocks.
			n.Style = yaml.LiteralStyle
		}
		return n
	case kindArray:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, item := range v.items {
			n.Content = append(n.Content, yamlNode(item))
		}
		return n
	}
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i, k := range v.keys {
		n.Content = append(n.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k},
			yamlNode(v.items[i]))
	}
	return n
}

// appendIndentedJSON renders v as JSON indented by two spaces.
func appendIndentedJSON(buf *bytes.Buffer, v *value, indent string) {
	switch v.kind {
	case kindArray:
		if len(v.items) == 0 {
			buf.WriteString("[]")
			return
		}
		buf.WriteString("[\n")
		for i, item := range v.items {
			buf.WriteString(indent + "  ")
			appendIndentedJSON(buf, item, indent+"  ")
			if i < len(v.items)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString(indent + "]")
	case kindObject:
		if len(v.keys) == 0 {
			buf.WriteString("{}")
			return
		}
		buf.WriteString("{\n")
		for i, k := range v.keys {
			buf.WriteString(indent + "  ")
			appendJSONString(buf, k)
			buf.WriteString(": ")
			appendIndentedJSON(buf, v.items[i], indent+"  ")
			if i < len(v.keys)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString(indent + "}")
	default:
		appendJSON(buf, v)
	}
}
