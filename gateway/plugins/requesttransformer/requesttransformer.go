// Package requesttransformer is the request-transformer plugin: it changes
// the request on its way upstream (method, path, headers, query string and
// form or JSON body fields), as Kong 3's request-transformer does (same
// config, priority 801, order of changes).
//
// It owns those rewrites. It reads the body only when body changes are
// configured (or a form body must move to the query string), and leaves
// bodies of other types (multipart included) untouched.
package requesttransformer

import (
	"encoding/json"
	"mime"
	"net/url"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/gateway/plugin/jsonobject"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// Name and Priority are Kong's.
const (
	Name     = "request-transformer"
	Priority = 801
)

// maxBody bounds the body read for transformation; a longer body is sent
// unchanged.
const maxBody = 8 << 20

// Factory returns the request-transformer plugin factory.
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

// Transformer is a request-transformer instance.
type Transformer struct {
	method                             string
	uri                                *template
	remove, rename, replace, add, appd lists
	anyBody, anyQuery                  bool
}

var (
	_ plugin.Accessor        = (*Transformer)(nil)
	_ plugin.RequestBodyUser = (*Transformer)(nil)
)

// New validates cfg and returns an instance.
func New(cfg *Config) (*Transformer, error) {
	fe := entity.FieldErrors{}
	t := &Transformer{}
	if cfg.HTTPMethod != nil {
		m := *cfg.HTTPMethod
		ok := m != ""
		for i := 0; i < len(m); i++ {
			if m[i] < 'A' || m[i] > 'Z' {
				ok = false
			}
		}
		if !ok {
			fe["http_method"] = "invalid value: " + m
		}
		t.method = m
	}
	var errs entity.FieldErrors
	t.remove, errs = parseFields(cfg.Remove, names, headerNames, names)
	fe.Nest("remove", errs)
	t.rename, errs = parseFields(cfg.Rename, renames, headerRenames, renames)
	fe.Nest("rename", errs)
	t.replace, errs = parseFields(Fields{cfg.Replace.Body, cfg.Replace.Headers, cfg.Replace.Querystring}, pairs, headerPairs, pairs)
	if cfg.Replace.URI != nil {
		u, msg := parseTemplate(*cfg.Replace.URI)
		if msg != "" {
			if errs == nil {
				errs = entity.FieldErrors{}
			}
			errs["uri"] = msg
		}
		t.uri = &u
	}
	fe.Nest("replace", errs)
	t.add, errs = parseFields(cfg.Add, pairs, headerPairs, pairs)
	fe.Nest("add", errs)
	t.appd, errs = parseFields(cfg.Append, pairs, headerPairs, pairs)
	fe.Nest("append", errs)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	for _, l := range []lists{t.remove, t.rename, t.replace, t.add, t.appd} {
		t.anyBody = t.anyBody || len(l.body) > 0
		t.anyQuery = t.anyQuery || len(l.query) > 0
	}
	return t, nil
}

// movesFormToQuery: Kong moves a form body into the query string when the
// method becomes one without a body.
func (t *Transformer) movesFormToQuery() bool {
	return t.method == "GET" || t.method == "HEAD" || t.method == "TRACE"
}

// UsesRequestBody reports whether body changes are configured.
func (t *Transformer) UsesRequestBody() bool { return t.anyBody || t.movesFormToQuery() }

// Access applies the changes in Kong's order.
func (t *Transformer) Access(c *plugin.Context) {
	req := c.Request
	if t.uri != nil {
		req.SetPath(t.uri.render(req))
	}
	t.transformMethod(req)
	t.transformHeaders(req)
	if t.anyBody {
		t.transformBody(req)
	}
	if t.anyQuery {
		t.transformQuery(req)
	}
}

func mediaType(req plugin.Request) string {
	mt, _, err := mime.ParseMediaType(req.Header("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

func (t *Transformer) transformMethod(req plugin.Request) {
	if t.method == "" {
		return
	}
	if ms, ok := req.(plugin.MethodSetter); ok {
		ms.SetMethod(t.method)
	}
	if !t.movesFormToQuery() || mediaType(req) != "application/x-www-form-urlencoded" {
		return
	}
	body, ok, err := req.Body(maxBody)
	if err != nil || !ok {
		return
	}
	for _, p := range parseForm(body) {
		req.AddQuery(p.k, p.v)
	}
}

func isHost(name string) bool { return strings.EqualFold(name, "host") }

func (t *Transformer) transformHeaders(req plugin.Request) {
	for _, p := range t.remove.headers {
		if !isHost(p.name) {
			req.DelHeader(p.name)
		}
	}
	for _, p := range t.rename.headers {
		if isHost(p.name) {
			continue
		}
		newName := p.value.parts[0].lit
		if p.name == newName {
			continue
		}
		vals := req.HeaderValues(p.name)
		if len(vals) == 0 {
			continue
		}
		req.DelHeader(p.name)
		req.SetHeader(newName, vals[0])
		for _, v := range vals[1:] {
			req.AddHeader(newName, v)
		}
	}
	for _, p := range t.replace.headers {
		if isHost(p.name) || len(req.HeaderValues(p.name)) > 0 {
			req.SetHeader(p.name, p.value.render(req))
		}
	}
	for _, p := range t.add.headers {
		if !isHost(p.name) && len(req.HeaderValues(p.name)) == 0 {
			req.SetHeader(p.name, p.value.render(req))
		}
	}
	for _, p := range t.appd.headers {
		if !isHost(p.name) {
			req.AddHeader(p.name, p.value.render(req))
		}
	}
}

func (t *Transformer) transformQuery(req plugin.Request) {
	for _, p := range t.remove.query {
		req.DelQuery(p.name)
	}
	for _, p := range t.rename.query {
		// Kong moves the values: the new name loses its own, even when the
		// old name is absent.
		var vals []string
		req.VisitQuery(func(k, v string) {
			if k == p.name {
				vals = append(vals, v)
			}
		})
		req.DelQuery(p.name)
		newName := p.value.parts[0].lit
		req.DelQuery(newName)
		for _, v := range vals {
			req.AddQuery(newName, v)
		}
	}
	for _, p := range t.replace.query {
		if req.HasQuery(p.name) {
			req.SetQuery(p.name, p.value.render(req))
		}
	}
	for _, p := range t.add.query {
		if !req.HasQuery(p.name) {
			req.SetQuery(p.name, p.value.render(req))
		}
	}
	for _, p := range t.appd.query {
		req.AddQuery(p.name, p.value.render(req))
	}
}

func (t *Transformer) transformBody(req plugin.Request) {
	mt := mediaType(req)
	if mt != "application/json" && mt != "application/x-www-form-urlencoded" {
		return
	}
	body, ok, err := req.Body(maxBody)
	if err != nil || !ok {
		return
	}
	var out []byte
	if mt == "application/json" {
		out = t.transformJSON(req, body)
	} else {
		out = t.transformForm(req, body)
	}
	if out != nil {
		req.SetBody(out)
		req.SetHeader("Content-Length", strconv.Itoa(len(out)))
	}
}

func jsonString(s string) json.RawMessage { return jsonobject.Quote(s) }

// transformJSON is Kong's transform_json_body; nil means unchanged.
func (t *Transformer) transformJSON(req plugin.Request, body []byte) []byte {
	nonEmpty := len(body) > 0
	o, err := jsonobject.Parse(body)
	if err != nil {
		if nonEmpty {
			return nil
		}
		o = jsonobject.Object{}
	}
	changed := false
	if nonEmpty {
		for _, p := range t.remove.body {
			o.Del(p.name)
			changed = true
		}
		for _, p := range t.rename.body {
			o.Rename(p.name, p.value.parts[0].lit)
			changed = true
		}
		for _, p := range t.replace.body {
			if _, ok := o.Get(p.name); ok {
				o.Set(p.name, jsonString(p.value.render(req)))
				changed = true
			}
		}
	}
	for _, p := range t.add.body {
		if _, ok := o.Get(p.name); !ok {
			o.Set(p.name, jsonString(p.value.render(req)))
			changed = true
		}
	}
	for _, p := range t.appd.body {
		old, ok := o.Get(p.name)
		o.Set(p.name, jsonobject.AppendValue(old, ok, jsonString(p.value.render(req))))
		changed = true
	}
	if !changed {
		return nil
	}
	return o.Marshal()
}

type kv struct{ k, v string }

func parseForm(body []byte) []kv {
	var out []kv
	for _, part := range strings.Split(string(body), "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, kv{k, v})
	}
	return out
}

func formHas(f []kv, k string) bool {
	for _, p := range f {
		if p.k == k {
			return true
		}
	}
	return false
}

func formDel(f []kv, k string) []kv {
	out := f[:0]
	for _, p := range f {
		if p.k != k {
			out = append(out, p)
		}
	}
	return out
}

// transformForm is Kong's transform_url_encoded_body.
func (t *Transformer) transformForm(req plugin.Request, body []byte) []byte {
	f := parseForm(body)
	changed := false
	if len(body) > 0 {
		for _, p := range t.remove.body {
			f = formDel(f, p.name)
			changed = true
		}
		for _, p := range t.rename.body {
			newName := p.value.parts[0].lit
			var moved []kv
			for _, e := range f {
				if e.k == p.name {
					moved = append(moved, kv{newName, e.v})
				}
			}
			f = append(formDel(formDel(f, p.name), newName), moved...)
			changed = true
		}
		for _, p := range t.replace.body {
			if formHas(f, p.name) {
				f = append(formDel(f, p.name), kv{p.name, p.value.render(req)})
				changed = true
			}
		}
	}
	for _, p := range t.add.body {
		if !formHas(f, p.name) {
			f = append(f, kv{p.name, p.value.render(req)})
			changed = true
		}
	}
	for _, p := range t.appd.body {
		f = append(f, kv{p.name, p.value.render(req)})
		changed = true
	}
	if !changed {
		return nil
	}
	var b strings.Builder
	for i, p := range f {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.v))
	}
	return []byte(b.String())
}
