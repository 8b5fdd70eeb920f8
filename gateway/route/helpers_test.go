package route

import (
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/entity"
)

// opt configures a test route.
type opt func(*entity.Route)

func newRoute(id string, opts ...opt) *entity.Route {
	r := &entity.Route{Meta: entity.Meta{ID: id}, Name: id, Protocols: []string{"http", "https"}}
	for _, o := range opts {
		o(r)
	}
	return r
}

func hosts(h ...string) opt     { return func(r *entity.Route) { r.Hosts = h } }
func paths(p ...string) opt     { return func(r *entity.Route) { r.Paths = p } }
func methods(m ...string) opt   { return func(r *entity.Route) { r.Methods = m } }
func snis(s ...string) opt      { return func(r *entity.Route) { r.SNIs = s } }
func protocols(p ...string) opt { return func(r *entity.Route) { r.Protocols = p } }
func prio(n int) opt            { return func(r *entity.Route) { r.RegexPriority = n } }
func created(n int64) opt       { return func(r *entity.Route) { r.CreatedAt = n } }
func pathHandling(v string) opt { return func(r *entity.Route) { r.PathHandling = v } }
func strip(b bool) opt          { return func(r *entity.Route) { r.StripPath = &b } }
func header(name string, values ...string) opt {
	return func(r *entity.Route) {
		if r.Headers == nil {
			r.Headers = map[string][]string{}
		}
		r.Headers[name] = values
	}
}

// hdr is a HeaderSource over a map with case-insensitive names.
type hdr map[string][]string

func (h hdr) HeaderValues(name string) []string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

var _ HeaderSource = hdr(nil)

func entries(routes ...*entity.Route) []Entry {
	es := make([]Entry, len(routes))
	for i, r := range routes {
		es[i] = Entry{Route: r, Workspace: entity.DefaultWorkspace}
	}
	return es
}

func mustCompile(t testing.TB, routes ...*entity.Route) *Table {
	t.Helper()
	tb, err := Compile(entries(routes...))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return tb
}

func get(host, path string) *Request {
	return &Request{Protocol: "http", Method: "GET", Host: host, Path: path}
}

func matchedID(m Match, ok bool) string {
	if !ok {
		return ""
	}
	return m.Entry.Route.ID
}
