package api

import (
	"sort"

	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
)

// mapDirectory is a Directory over maps, as tests configure it.
type mapDirectory struct {
	tokens   map[string]Token // by secret
	entities map[entity.Kind][]Named
}

var _ Directory = (*mapDirectory)(nil)

func (d *mapDirectory) Token(hash string) (Token, bool) {
	for secret, t := range d.tokens {
		if validate.HashKey(secret) == hash {
			return t, true
		}
	}
	return Token{}, false
}

// Entity finds by id in the workspace (any workspace when ""), then by
// name within the workspace, as the real directory does.
func (d *mapDirectory) Entity(kind entity.Kind, workspace, idOrName string) (Named, bool) {
	for _, n := range d.sorted(kind) {
		if n.ID == idOrName && (workspace == "" || n.Workspace == workspace) {
			return n, true
		}
	}
	if workspace == "" {
		return Named{}, false
	}
	for _, n := range d.sorted(kind) {
		if n.Name == idOrName && n.Workspace == workspace {
			return n, true
		}
	}
	return Named{}, false
}

func (d *mapDirectory) Entities(kind entity.Kind, workspace string) []Named {
	var out []Named
	for _, n := range d.sorted(kind) {
		if workspace == "" || n.Workspace == workspace {
			out = append(out, n)
		}
	}
	return out
}

func (d *mapDirectory) sorted(kind entity.Kind) []Named {
	out := append([]Named(nil), d.entities[kind]...)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Workspace < b.Workspace
	})
	return out
}
