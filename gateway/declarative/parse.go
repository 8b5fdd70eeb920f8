package declarative

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/tollgate/tollgate/internal/entity"
)

// Parse reads a declarative config in YAML or JSON. It checks
// _format_version ("3.0"; "1.1" and "2.1" are read as Kong 3 reads them,
// when that is a trivial rewrite), decodes strictly, and refuses unknown
// or unsupported keys with an error naming each one and where it is
// ("services[0].routes[1].sources: not supported by tollgate"). Problems
// are returned together in an *Error.
func Parse(data []byte) (*File, error) {
	root, err := load(data)
	if err != nil {
		return nil, fileError("failed parsing declarative configuration: " + err.Error())
	}
	if root.kind != kindObject {
		return nil, fileError("failed parsing declarative configuration: expected an object")
	}
	p := &parser{
		lines:  map[string]int{},
		specs:  map[entity.Kind]*spec{},
		fields: map[reflect.Type]map[string]jsonField{},
	}
	p.probs = newProblems(p.lines)
	f := &File{lines: p.lines}
	p.file(root, f)
	if err := p.probs.err(); err != nil {
		return nil, err
	}
	return f, nil
}

func fileError(msg string) *Error {
	return &Error{Problems: []Problem{{Message: msg}}}
}

type parser struct {
	probs *problems
	lines map[string]int
	// legacy is set for _format_version "1.1" and "2.1".
	legacy bool
	// stored is set by _transform: false: secrets are in stored form.
	stored bool
	// specs and fields cache what every entity of a kind shares.
	specs  map[entity.Kind]*spec
	fields map[reflect.Type]map[string]jsonField
}

func (p *parser) spec(k entity.Kind) *spec {
	s, ok := p.specs[k]
	if !ok {
		s = specFor(k)
		p.specs[k] = s
	}
	return s
}

func (p *parser) jsonFields(t reflect.Type) map[string]jsonField {
	f, ok := p.fields[t]
	if !ok {
		f = jsonFields(t)
		p.fields[t] = f
	}
	return f
}

func (p *parser) mark(at path, v *value) {
	if v != nil && v.line > 0 {
		p.lines[at.String()] = v.line
	}
}

func (p *parser) file(root *value, f *File) {
	p.formatVersion(root, f)
	if v, ok := root.get("_transform"); ok && !v.isNull() {
		if v.kind != kindBool {
			p.mark(path{"_transform"}, v)
			p.probs.add(path{"_transform"}, "expected a boolean")
		} else {
			b := v.b
			f.Transform = &b
			p.stored = !b
		}
	}
	collections := map[string]entity.Kind{}
	for _, c := range topLevel() {
		collections[c.key] = c.kind
	}
	fv := reflect.ValueOf(f)
	for i, key := range root.keys {
		v := root.items[i]
		at := path{key}
		p.mark(at, v)
		if kind, ok := collections[key]; ok {
			p.collection(fv, key, kind, v, at, "")
			continue
		}
		switch {
		case key == "_format_version", key == "_transform":
			// Read above.
		case key == "_workspace":
			if s, ok := p.str(v, at); ok {
				f.Workspace = s
			}
		case key == "_comment", key == "_ignore":
			// Kong's annotations.
		case key == "_konnect":
			// decK's Konnect control plane selection: it says where decK
			// syncs the file to, nothing about the configuration itself.
		case key == "_info":
			f.Info = p.info(v, at)
		case unsupportedTopLevel(key):
			if !v.isEmpty() {
				p.probs.add(at, msgUnsupported)
			}
		default:
			p.probs.add(at, "unknown field")
		}
	}
}

func (p *parser) formatVersion(root *value, f *File) {
	at := path{"_format_version"}
	v, ok := root.get("_format_version")
	if !ok || v.isNull() {
		p.probs.add(at, "required field missing")
		return
	}
	p.mark(at, v)
	if v.kind != kindString {
		msg := "expected a string"
		if v.kind == kindNumber {
			msg += ` (quote the version: "3.0")`
		}
		p.probs.add(at, msg)
		return
	}
	switch v.text {
	case FormatVersion:
	case "1.1", "2.1":
		// Kong 3 reads these with one rewrite: route paths that look like
		// regexes gain the "~" prefix that 3.0 requires
		// (kong/db/declarative/migrations/route_path.lua).
		p.legacy = true
	default:
		p.probs.add(at, "expected one of: 1.1, 2.1, 3.0")
		return
	}
	f.FormatVersion = FormatVersion
}

// info reads decK's _info block.
func (p *parser) info(v *value, at path) *Info {
	if v.isNull() {
		return nil
	}
	if v.kind != kindObject {
		p.probs.add(at, "expected a record")
		return nil
	}
	info := &Info{}
	for i, key := range v.keys {
		item, kat := v.items[i], at.key(key)
		p.mark(kat, item)
		switch key {
		case "select_tags":
			if item.isNull() {
				continue
			}
			if item.kind != kindArray {
				p.probs.add(kat, "expected an array")
				continue
			}
			for j, t := range item.items {
				if s, ok := p.str(t, kat.index(j)); ok {
					info.SelectTags = append(info.SelectTags, s)
				}
			}
		case "defaults", "default_lookup_tags":
			// decK's own defaults for entity fields, and tags to look up
			// entities outside the file by: Tollgate fills Kong's
			// defaults and references only within the file.
			if !item.isEmpty() {
				p.probs.add(kat, msgUnsupported)
			}
		default:
			p.probs.add(kat, "unknown field")
		}
	}
	if len(info.SelectTags) == 0 {
		return nil
	}
	return info
}

func (p *parser) str(v *value, at path) (string, bool) {
	if v.isNull() {
		return "", false
	}
	if v.kind != kindString {
		p.probs.add(at, "expected a string")
		return "", false
	}
	return v.text, true
}

// collection reads the list of entities of kind under key into the
// matching slice field of obj (a pointer to File or to an entity file type).
func (p *parser) collection(obj reflect.Value, key string, kind entity.Kind, v *value, at path, parent entity.Kind) {
	if v.isNull() {
		return
	}
	if v.kind != kindArray {
		p.probs.add(at, "expected an array")
		return
	}
	s := p.spec(kind)
	field, ok := p.jsonFields(obj.Elem().Type())[key]
	if !ok {
		p.probs.add(at, "unknown field")
		return
	}
	dst := obj.Elem().FieldByIndex(field.index)
	for i, item := range v.items {
		if e, ok := p.entity(s, item, at.index(i), parent); ok {
			dst.Set(reflect.Append(dst, e))
		}
	}
}

// entity reads one entity record, strictly, and the entities nested in it.
func (p *parser) entity(s *spec, v *value, at path, parent entity.Kind) (reflect.Value, bool) {
	p.mark(at, v)
	if v.kind != kindObject {
		p.probs.add(at, "expected a record")
		return reflect.Value{}, false
	}
	fields := p.jsonFields(s.typ)
	children := map[string]entity.Kind{}
	for _, c := range s.children {
		children[c.key] = c.kind
	}
	parentField := ""
	if parent != "" {
		parentField = s.parentField(parent)
	}
	type pending struct {
		key  string
		kind entity.Kind
		v    *value
		at   path
	}
	var nested []pending
	clean := &value{kind: kindObject, line: v.line}
	for i, key := range v.keys {
		fv, fat := v.items[i], at.key(key)
		p.mark(fat, fv)
		if kind, ok := children[key]; ok {
			nested = append(nested, pending{key, kind, fv, fat})
			continue
		}
		if _, ok := s.refs[key]; ok {
			if key == parentField {
				// Nesting sets this reference; Kong's nested records
				// require it to be absent.
				if !fv.isNull() {
					p.probs.add(fat, "value must be null")
				}
				continue
			}
			if fv.isNull() {
				continue
			}
			ref, ok := refText(fv)
			if !ok {
				p.probs.add(fat, "expected a name or id, or a record with an id")
				continue
			}
			clean.set(key, &value{kind: kindString, text: ref, line: fv.line})
			continue
		}
		if h, ok := s.unsupported[key]; ok {
			if !h(fv) {
				p.probs.add(fat, msgUnsupported)
			}
			continue
		}
		field, ok := fields[key]
		if !ok {
			p.probs.add(fat, "unknown field")
			continue
		}
		if fv.isNull() {
			// Kong reads null as "not set": the default applies.
			continue
		}
		if rt := recordType(field.typ); rt != nil {
			if rv := p.record(s, rt, fv, fat, key); rv != nil {
				clean.set(key, rv)
			}
			continue
		}
		clean.set(key, fv)
	}
	p.check(s, clean, at)
	obj := reflect.New(s.typ)
	p.decode(obj, clean, at)
	for _, n := range nested {
		p.collection(obj, n.key, n.kind, n.v, n.at, s.kind)
	}
	return obj, true
}

// refText reads a reference: "name-or-id" or {"id": "..."}.
func refText(v *value) (string, bool) {
	switch v.kind {
	case kindString:
		return v.text, v.text != ""
	case kindObject:
		if len(v.keys) == 1 && v.keys[0] == "id" && v.items[0].kind == kindString && v.items[0].text != "" {
			return v.items[0].text, true
		}
	}
	return "", false
}

// record checks the keys of a nested record (upstream healthchecks)
// strictly, rel being its dotted path within the entity.
func (p *parser) record(s *spec, t reflect.Type, v *value, at path, rel string) *value {
	if v.kind != kindObject {
		p.probs.add(at, "expected a record")
		return nil
	}
	fields := p.jsonFields(t)
	out := &value{kind: kindObject, line: v.line}
	for i, key := range v.keys {
		fv, fat, frel := v.items[i], at.key(key), rel+"."+key
		p.mark(fat, fv)
		if h, ok := s.unsupported[frel]; ok {
			if !h(fv) {
				p.probs.add(fat, msgUnsupported)
			}
			continue
		}
		field, ok := fields[key]
		if !ok {
			p.probs.add(fat, "unknown field")
			continue
		}
		if fv.isNull() {
			continue
		}
		if rt := recordType(field.typ); rt != nil {
			if rv := p.record(s, rt, fv, fat, frel); rv != nil {
				out.set(key, rv)
			}
			continue
		}
		out.set(key, fv)
	}
	return out
}

// decode sets the fields of obj from clean one key at a time, so that
// every field of the wrong type is reported, not only the first.
func (p *parser) decode(obj reflect.Value, clean *value, at path) {
	for i, key := range clean.keys {
		one := &value{kind: kindObject, keys: []string{key}, items: []*value{clean.items[i]}}
		dec := json.NewDecoder(bytes.NewReader(toJSON(one)))
		dec.DisallowUnknownFields()
		err := dec.Decode(obj.Interface())
		if err == nil {
			continue
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			p.probs.add(at.append(fieldPath(one, te.Field, key)), typeMessage(te.Type))
			continue
		}
		p.probs.add(at.key(key), err.Error())
	}
}

// fieldPath turns the field of a type error, which names Go's embedded
// structs too ("Service.Meta.tags"), into the path of keys of v it follows
// ("tags"); key when there is nothing to follow.
func fieldPath(v *value, field, key string) path {
	var out path
	for _, part := range strings.Split(field, ".") {
		if next, ok := v.get(part); ok {
			out = append(out, part)
			v = next
		}
	}
	if len(out) == 0 {
		return path{key}
	}
	return out
}

// typeMessage words a type error as Kong's schema validator does.
func typeMessage(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "expected a string"
	case reflect.Bool:
		return "expected a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "expected an integer"
	case reflect.Float32, reflect.Float64:
		return "expected a number"
	case reflect.Slice, reflect.Array:
		return "expected an array"
	case reflect.Map:
		return "expected a map"
	case reflect.Struct:
		return "expected a record"
	}
	return "invalid value"
}

// Kong protocols that Tollgate does not proxy: it is an HTTP gateway.
func unsupportedProtocol(p string) bool {
	switch p {
	case "grpc", "grpcs", "tcp", "tls", "tls_passthrough", "udp", "ws", "wss":
		return true
	}
	return false
}

// check refuses values of supported fields that select Kong features
// Tollgate lacks, naming the feature (other bad values are validate's to
// report), and applies the format 1.1/2.1 route path rewrite.
func (p *parser) check(s *spec, clean *value, at path) {
	switch s.kind {
	case entity.KindService:
		if v, ok := clean.get("protocol"); ok && v.kind == kindString && unsupportedProtocol(v.text) {
			p.probs.add(at.key("protocol"), "protocol '"+v.text+"' is "+msgUnsupported)
		}
	case entity.KindRoute:
		p.checkProtocols(clean, at, func(string) bool { return true })
		if p.legacy {
			p.migratePaths(clean, at)
		}
	case entity.KindPlugin:
		if v, ok := clean.get("config"); ok {
			if v.kind != kindObject {
				p.probs.add(at.key("config"), "expected a record")
				clean.del("config")
			} else {
				// Kong's exports spell out every config field, unset ones
				// as null; null means "not set" (the default applies), so
				// fields Tollgate's plugin lacks are harmless when null.
				clean.set("config", withoutNulls(v))
			}
		}
		// Kong's default plugin protocols include grpc and grpcs, so
		// exports list them on every plugin: they are validate's to accept.
		p.checkProtocols(clean, at, func(proto string) bool { return proto != "grpc" && proto != "grpcs" })
	case entity.KindUpstream:
		if v, ok := clean.get("algorithm"); ok && v.kind == kindString && (v.text == "latency" || v.text == "sticky-sessions") {
			p.probs.add(at.key("algorithm"), "algorithm '"+v.text+"' is "+msgUnsupported)
		}
		for _, f := range []string{"hash_on", "hash_fallback"} {
			if v, ok := clean.get(f); ok && v.kind == kindString {
				switch v.text {
				case "path", "query_arg", "uri_capture":
					p.probs.add(at.key(f), "hashing on '"+v.text+"' is "+msgUnsupported)
				}
			}
		}
		hc, _ := clean.get("healthchecks")
		for _, kind := range []string{"active", "passive"} {
			c, _ := hc.get(kind)
			if v, ok := c.get("type"); ok && v.kind == kindString && (v.text == "grpc" || v.text == "grpcs") {
				p.probs.add(at.key("healthchecks").key(kind).key("type"), "healthcheck type '"+v.text+"' is "+msgUnsupported)
			}
		}
	case entity.KindBasicAuth:
		if _, ok := clean.get("password"); ok && p.stored {
			// Kong hashes basic-auth passwords with SHA-1 salted by the
			// consumer id; with _transform: false the file holds those
			// hashes, which Tollgate's bcrypt hashes cannot be made from.
			p.probs.add(at.key("password"), "a password hashed by Kong (_transform: false) cannot be imported: give the plaintext password")
		}
	}
}

func (p *parser) checkProtocols(clean *value, at path, refuse func(string) bool) {
	v, ok := clean.get("protocols")
	if !ok || v.kind != kindArray {
		return
	}
	for _, item := range v.items {
		if item.kind == kindString && unsupportedProtocol(item.text) && refuse(item.text) {
			p.probs.add(at.key("protocols"), "protocol '"+item.text+"' is "+msgUnsupported)
		}
	}
}

// migratePaths rewrites the paths of a route of a format 1.1/2.1 file as
// Kong 3 does (kong/db/migrations/migrate_path_280_300.lua): a path made
// only of [A-Za-z0-9._~/%-] is a prefix, kept after URI normalization;
// any other is a regex and gains the "~" prefix. Paths that normalization
// would change, and regexes with percent-encodings (which Kong decodes),
// are refused rather than rewritten.
func (p *parser) migratePaths(clean *value, at path) {
	v, ok := clean.get("paths")
	if !ok || v.kind != kindArray {
		return
	}
	out := &value{kind: kindArray, line: v.line}
	for i, item := range v.items {
		if item.kind != kindString {
			out.items = append(out.items, item)
			continue
		}
		pth := item.text
		if isPlainPath(pth) {
			if strings.Contains(pth, "%") || strings.Contains(pth, "//") || hasDotSegment(pth) {
				p.probs.add(at.key("paths").index(i), "path '"+pth+`' is rewritten when Kong reads _format_version "1.1" or "2.1": write it as Kong 3 reads it, with _format_version "3.0"`)
			}
			out.items = append(out.items, item)
			continue
		}
		if strings.Contains(pth, "%") {
			p.probs.add(at.key("paths").index(i), "regex path '"+pth+`' is rewritten when Kong reads _format_version "1.1" or "2.1": write it as Kong 3 reads it, with _format_version "3.0"`)
		}
		out.items = append(out.items, &value{kind: kindString, text: "~" + pth, line: item.line})
	}
	clean.set("paths", out)
}

func isPlainPath(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == '~' || c == '/' || c == '%') {
			return false
		}
	}
	return true
}

func hasDotSegment(s string) bool {
	for _, seg := range strings.Split(s, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
