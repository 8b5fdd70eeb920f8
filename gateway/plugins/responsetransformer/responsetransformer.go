// Package responsetransformer is the response-transformer plugin: it
// changes the response on its way to the client (headers, and fields of a
// JSON body), as Kong 3's response-transformer does (same config, priority
// 800, order of changes).
//
// It owns those rewrites. Only JSON bodies (a Content-Type containing
// application/json) are changed, and only when JSON changes are configured,
// so that other routes stream their responses. Compressed bodies
// (a Content-Encoding other than identity) are passed through unchanged.
package responsetransformer

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/gateway/plugin/jsonobject"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// Name and Priority are Kong's.
const (
	Name     = "response-transformer"
	Priority = 800
)

// Removals lists headers and JSON fields to remove.
type Removals struct {
	JSON    []string `json:"json"`
	Headers []string `json:"headers"`
}

// Renames lists "old:new" pairs.
type Renames struct {
	Headers []string `json:"headers"`
	JSON    []string `json:"json"`
}

// Changes lists "name:value" pairs; JSONTypes gives, by position, the type
// of each JSON value: string (default), number or boolean.
type Changes struct {
	JSON      []string `json:"json"`
	JSONTypes []string `json:"json_types"`
	Headers   []string `json:"headers"`
}

// Config is response-transformer's configuration, with Kong's fields and
// defaults. Changes apply in the order remove, rename, replace, add,
// append; header changes look at the headers as the upstream sent them.
type Config struct {
	Remove  Removals `json:"remove"`
	Rename  Renames  `json:"rename"`
	Replace Changes  `json:"replace"`
	Add     Changes  `json:"add"`
	Append  Changes  `json:"append"`
}

func emptyChanges() Changes {
	return Changes{JSON: []string{}, JSONTypes: []string{}, Headers: []string{}}
}

// DefaultConfig returns Kong's defaults: every list empty.
func DefaultConfig() *Config {
	return &Config{
		Remove:  Removals{JSON: []string{}, Headers: []string{}},
		Rename:  Renames{Headers: []string{}, JSON: []string{}},
		Replace: emptyChanges(),
		Add:     emptyChanges(),
		Append:  emptyChanges(),
	}
}

// Factory returns the response-transformer plugin factory.
func Factory() *plugin.Factory {
	return &plugin.Factory{
		Name:      Name,
		Priority:  Priority,
		NewConfig: func() any { return DefaultConfig() },
		New: func(cfg any, env plugin.Env) (any, error) {
			return New(cfg.(*Config))
		},
	}
}

type pair struct {
	name, value string
	typ         string // JSON type for json changes
	jsonValue   json.RawMessage
	skip        bool // a number that is not one: Kong leaves the field alone
}

// split is Kong's ^([^:]+):*(.-)$.
func split(entry string) (name, value string, colon bool) {
	i := strings.IndexByte(entry, ':')
	if i < 0 {
		return entry, "", false
	}
	return entry[:i], strings.TrimLeft(entry[i:], ":"), true
}

func parseList(list []string, needColon bool) ([]pair, entity.FieldErrors) {
	out := make([]pair, 0, len(list))
	fe := entity.FieldErrors{}
	for i, e := range list {
		name, value, colon := split(e)
		if name == "" || (needColon && !colon) {
			fe[strconv.Itoa(i+1)] = "invalid value: " + e
			continue
		}
		out = append(out, pair{name: name, value: value})
	}
	if len(fe) == 0 {
		fe = nil
	}
	return out, fe
}

// typed prepares the JSON values of a Changes with their types, as Kong's
// cast_value does: number values that do not parse are skipped, booleans
// are true only for "true" (any case).
func typed(c Changes) ([]pair, entity.FieldErrors) {
	ps, fe := parseList(c.JSON, true)
	terrs := entity.FieldErrors{}
	for i, typ := range c.JSONTypes {
		if msg := plugin.OneOfError(typ, "boolean", "number", "string"); msg != "" {
			terrs[strconv.Itoa(i+1)] = msg
		}
	}
	out := entity.FieldErrors{}
	out.Nest("json", fe)
	out.Nest("json_types", terrs)
	if len(out) > 0 {
		return nil, out
	}
	for i := range ps {
		p := &ps[i]
		p.typ = "string"
		if i < len(c.JSONTypes) {
			p.typ = c.JSONTypes[i]
		}
		switch p.typ {
		case "number":
			f, err := strconv.ParseFloat(strings.TrimSpace(p.value), 64)
			if err != nil {
				p.skip = true
				continue
			}
			p.jsonValue, _ = json.Marshal(f)
		case "boolean":
			p.jsonValue, _ = json.Marshal(strings.EqualFold(p.value, "true"))
		default:
			p.jsonValue = jsonobject.Quote(p.value)
		}
	}
	return ps, nil
}

// Transformer is a response-transformer instance.
type Transformer struct {
	removeHeaders, renameHeaders, replaceHeaders, addHeaders, appendHeaders []pair
	removeJSON, renameJSON, replaceJSON, addJSON, appendJSON                []pair
	anyJSON                                                                 bool
	checked                                                                 []string // headers whose presence decides a change
}

var (
	_ plugin.HeaderFilter     = (*Transformer)(nil)
	_ plugin.BodyFilter       = (*Transformer)(nil)
	_ plugin.ResponseBodyUser = (*Transformer)(nil)
)

// New validates cfg and returns an instance.
func New(cfg *Config) (*Transformer, error) {
	t := &Transformer{}
	fe := entity.FieldErrors{}
	sub := func(field string) entity.FieldErrors {
		if m, ok := fe[field].(entity.FieldErrors); ok {
			return m
		}
		m := entity.FieldErrors{}
		fe[field] = m
		return m
	}
	var errs entity.FieldErrors
	if t.removeHeaders, errs = parseList(cfg.Remove.Headers, false); errs != nil {
		sub("remove").Nest("headers", errs)
	}
	if t.removeJSON, errs = parseList(cfg.Remove.JSON, false); errs != nil {
		sub("remove").Nest("json", errs)
	}
	if t.renameHeaders, errs = parseList(cfg.Rename.Headers, true); errs != nil {
		sub("rename").Nest("headers", errs)
	}
	if t.renameJSON, errs = parseList(cfg.Rename.JSON, true); errs != nil {
		sub("rename").Nest("json", errs)
	}
	for _, ch := range []struct {
		field   string
		c       Changes
		headers *[]pair
		json    *[]pair
	}{
		{"replace", cfg.Replace, &t.replaceHeaders, &t.replaceJSON},
		{"add", cfg.Add, &t.addHeaders, &t.addJSON},
		{"append", cfg.Append, &t.appendHeaders, &t.appendJSON},
	} {
		if *ch.headers, errs = parseList(ch.c.Headers, true); errs != nil {
			sub(ch.field).Nest("headers", errs)
		}
		if *ch.json, errs = typed(ch.c); errs != nil {
			for k, v := range errs {
				sub(ch.field)[k] = v
			}
		}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	t.anyJSON = len(t.removeJSON)+len(t.renameJSON)+len(t.replaceJSON)+len(t.addJSON)+len(t.appendJSON) > 0
	for _, l := range [][]pair{t.renameHeaders, t.replaceHeaders, t.addHeaders} {
		for _, p := range l {
			t.checked = append(t.checked, p.name)
		}
	}
	return t, nil
}

// UsesResponseBody reports whether JSON changes are configured.
func (t *Transformer) UsesResponseBody() bool { return t.anyJSON }

func isJSON(contentType string) bool {
	return strings.Contains(strings.ToLower(contentType), "application/json")
}

// HeaderFilter applies the header changes. As in Kong, whether a header
// "exists" for rename, replace and add is judged on the headers as they were
// before any change.
func (t *Transformer) HeaderFilter(c *plugin.Context) {
	r := c.Response
	var buf [16]string
	before := buf[:0]
	for _, name := range t.checked {
		before = append(before, r.Header(name))
	}
	i := 0
	next := func() string { v := before[i]; i++; return v }
	bodyChanges := t.anyJSON && isJSON(r.Header("Content-Type"))

	for _, p := range t.removeHeaders {
		r.DelHeader(p.name)
	}
	for _, p := range t.renameHeaders {
		if v := next(); v != "" && p.value != "" {
			r.SetHeader(p.value, v)
			if !strings.EqualFold(p.name, p.value) {
				r.DelHeader(p.name)
			}
		}
	}
	for _, p := range t.replaceHeaders {
		if next() != "" {
			r.SetHeader(p.name, p.value)
		}
	}
	for _, p := range t.addHeaders {
		if next() == "" {
			r.SetHeader(p.name, p.value)
		}
	}
	for _, p := range t.appendHeaders {
		r.AddHeader(p.name, p.value)
	}
	// The body is going to change length.
	if bodyChanges {
		r.DelHeader("Content-Length")
	}
}

// BodyFilter applies the JSON changes to a JSON object body.
func (t *Transformer) BodyFilter(c *plugin.Context) {
	r := c.Response
	if !t.anyJSON || !isJSON(r.Header("Content-Type")) {
		return
	}
	if enc := r.Header("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return
	}
	o, err := jsonobject.Parse(r.Body())
	if err != nil {
		return
	}
	for _, p := range t.removeJSON {
		o.Del(p.name)
	}
	for _, p := range t.renameJSON {
		if _, ok := o.Get(p.name); ok && p.value != "" {
			o.Rename(p.name, p.value)
		}
	}
	for _, p := range t.replaceJSON {
		if p.skip {
			continue
		}
		if v, ok := o.Get(p.name); ok && !isFalsy(v) {
			o.Set(p.name, p.jsonValue)
		}
	}
	for _, p := range t.addJSON {
		if p.skip {
			continue
		}
		if _, ok := o.Get(p.name); !ok {
			o.Set(p.name, p.jsonValue)
		}
	}
	for _, p := range t.appendJSON {
		if p.skip {
			continue
		}
		old, ok := o.Get(p.name)
		o.Set(p.name, jsonobject.AppendValue(old, ok, p.jsonValue))
	}
	r.SetBody(o.Marshal())
}

// isFalsy: Kong replaces only when json_body[name] is truthy in Lua, so a
// false field is not replaced (null decodes to cjson.null, which is truthy).
func isFalsy(v json.RawMessage) bool {
	return strings.TrimSpace(string(v)) == "false"
}
