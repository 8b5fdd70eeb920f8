package main

import (
	"cmp"
	"slices"
	"sync"

	"github.com/tollgate/tollgate/analytics/api"
	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
)

// directory is the api.Directory of the run: the seeded workspaces'
// services, routes and consumers, and the analytics tokens the benchmark
// made, held in maps. It stands in for the Directory `tollgate analytics`
// builds over the config store, which answers from memory too.
type directory struct {
	mu       sync.RWMutex
	tokens   map[string]api.Token // by the secret's hash
	byID     map[entity.Kind]map[string]api.Named
	byName   map[entity.Kind]map[[2]string]api.Named // by workspace and name
	listings map[entity.Kind][]api.Named             // by name then id
}

var _ api.Directory = (*directory)(nil)

// newDirectory names every entity of tr.
func newDirectory(tr *traffic) *directory {
	d := &directory{
		tokens:   map[string]api.Token{},
		byID:     map[entity.Kind]map[string]api.Named{},
		byName:   map[entity.Kind]map[[2]string]api.Named{},
		listings: map[entity.Kind][]api.Named{},
	}
	for _, ws := range tr.workspaces {
		for _, s := range ws.services {
			d.add(entity.KindService, api.Named{ID: s.id, Name: s.name, Workspace: ws.name})
			for _, r := range s.routes {
				d.add(entity.KindRoute, api.Named{ID: r.id, Name: r.name, Workspace: ws.name})
			}
		}
		for _, c := range ws.consumers {
			d.add(entity.KindConsumer, api.Named{ID: c.id, Name: c.username, Workspace: ws.name})
		}
	}
	for _, l := range d.listings {
		slices.SortFunc(l, func(a, b api.Named) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
		})
	}
	return d
}

func (d *directory) add(kind entity.Kind, n api.Named) {
	if d.byID[kind] == nil {
		d.byID[kind] = map[string]api.Named{}
		d.byName[kind] = map[[2]string]api.Named{}
	}
	d.byID[kind][n.ID] = n
	d.byName[kind][[2]string{n.Workspace, n.Name}] = n
	d.listings[kind] = append(d.listings[kind], n)
}

// addToken registers an analytics token with the secret secret.
func (d *directory) addToken(secret string, t api.Token) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tokens[validate.HashKey(secret)] = t
}

// Token implements api.Directory.
func (d *directory) Token(hash string) (api.Token, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	t, ok := d.tokens[hash]
	return t, ok
}

// Entity implements api.Directory.
func (d *directory) Entity(kind entity.Kind, workspace, idOrName string) (api.Named, bool) {
	if n, ok := d.byID[kind][idOrName]; ok && (workspace == "" || n.Workspace == workspace) {
		return n, true
	}
	if workspace == "" {
		return api.Named{}, false
	}
	n, ok := d.byName[kind][[2]string{workspace, idOrName}]
	return n, ok
}

// Entities implements api.Directory.
func (d *directory) Entities(kind entity.Kind, workspace string) []api.Named {
	var out []api.Named
	for _, n := range d.listings[kind] {
		if workspace == "" || n.Workspace == workspace {
			out = append(out, n)
		}
	}
	return out
}
