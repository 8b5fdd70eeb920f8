package directory

import (
	"cmp"
	"log/slog"
	"slices"

	"github.com/tollgate/tollgate/analytics/api"
	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/internal/entity"
)

// key addresses the index: an entity kind, a workspace ("" for all) and
// an id or name ("" for the list of the kind in the workspace).
type key struct {
	kind entity.Kind
	ws   string
	s    string
}

// index is an immutable view of one config version.
type index struct {
	version uint64
	tokens  map[string]api.Token // by token hash
	byID    map[key]api.Named    // also under workspace ""
	byName  map[key]api.Named
	lists   map[key][]api.Named // key.s "", by name then id
}

// build indexes a snapshot. Consumer tokens whose consumer is not in the
// snapshot are left out: the Admin API deletes them with their consumer,
// so such a token is a leftover that must not authenticate.
func build(snap *store.Snapshot, log *slog.Logger) *index {
	idx := &index{
		version: snap.Version,
		tokens:  map[string]api.Token{},
		byID:    map[key]api.Named{},
		byName:  map[key]api.Named{},
		lists:   map[key][]api.Named{},
	}
	var tokens []*entity.AnalyticsToken
	for _, e := range snap.Entities {
		m := e.GetMeta()
		var name string
		switch e := e.(type) {
		case *entity.Service:
			name = e.Name
		case *entity.Route:
			name = e.Name
		case *entity.Consumer:
			name = e.Username
		case *entity.AnalyticsToken:
			tokens = append(tokens, e)
			continue
		default:
			continue
		}
		n := api.Named{ID: m.ID, Name: name, Workspace: m.Workspace}
		k := e.Kind()
		idx.byID[key{k, m.Workspace, m.ID}] = n
		if name != "" {
			idx.byName[key{k, m.Workspace, name}] = n
		}
		idx.lists[key{k, m.Workspace, ""}] = append(idx.lists[key{k, m.Workspace, ""}], n)
		idx.lists[key{k, "", ""}] = append(idx.lists[key{k, "", ""}], n)
	}
	for k, l := range idx.lists {
		slices.SortFunc(l, func(a, b api.Named) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Workspace, b.Workspace))
		})
		if k.ws != "" {
			continue
		}
		// Ids across workspaces: the first workspace by name wins where
		// an id repeats (see Directory.Entity).
		for _, n := range l {
			prev, ok := idx.byID[key{k.kind, "", n.ID}]
			if !ok || n.Workspace < prev.Workspace {
				idx.byID[key{k.kind, "", n.ID}] = n
			}
		}
	}
	orphans := 0
	for _, t := range tokens {
		if t.TokenHash == "" {
			continue
		}
		consumer := entity.RefID(t.Consumer)
		if consumer != "" {
			if _, ok := idx.byID[key{entity.KindConsumer, t.Workspace, consumer}]; !ok {
				orphans++
				continue
			}
		}
		idx.tokens[t.TokenHash] = api.Token{
			ID:         t.ID,
			Name:       t.Name,
			Workspace:  t.Workspace,
			ConsumerID: consumer,
			ExpiresAt:  t.ExpiresAt,
		}
	}
	if orphans > 0 {
		log.Debug("analytics tokens of missing consumers left out", "version", snap.Version, "tokens", orphans)
	}
	return idx
}
