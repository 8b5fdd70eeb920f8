package declarative

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/internal/entity"
)

// Apply replaces the configuration of a workspace with the file's
// entities (Entities, then Replace): the file is the whole configuration
// of the workspace, as in Kong's DB-less mode, except for what only the
// Admin API manages (see Replace). Nothing is written when the file has a
// problem.
func Apply(ctx context.Context, st store.Store, f *File, workspace string, plugins *plugin.Registry, now time.Time) error {
	entities, err := f.Entities(workspace, plugins, now)
	if err != nil {
		return err
	}
	ws, _ := f.workspaceFor(workspace)
	return Replace(ctx, st, ws, entities)
}

// Declared reports whether entities of kind k are part of declarative
// configuration. Analytics tokens are not: they are secrets handed out
// through the Admin API, which a kong.yml neither holds nor removes.
func Declared(k entity.Kind) bool {
	return k != entity.KindAnalyticsToken && k != entity.KindWorkspace
}

// Replace swaps the configuration of workspace in st for entities (as
// Entities returns them) with store.Replace, carrying over the workspace's
// analytics tokens, which store.Replace would otherwise delete with
// everything else. Consumer tokens go with their consumer: those whose
// consumer id is not among entities are dropped, as deleting the consumer
// through the Admin API would drop them.
//
// The tokens are read before the swap, and the store offers no
// transaction over both: a token created or deleted through the Admin API
// while an import runs may be lost or kept. Imports are rare operator
// actions; the window is one listing long.
func Replace(ctx context.Context, st store.Store, workspace string, entities []entity.Entity) error {
	kept, err := keptTokens(ctx, st, workspace, entities)
	if err != nil {
		return fmt.Errorf("apply declarative config to workspace %q: %w", workspace, err)
	}
	all := make([]entity.Entity, 0, len(entities)+len(kept))
	all = append(all, entities...)
	all = append(all, kept...)
	if err := st.Replace(ctx, workspace, all); err != nil {
		return fmt.Errorf("apply declarative config to workspace %q: %w", workspace, err)
	}
	return nil
}

// keptTokens returns the analytics tokens of workspace that survive an
// import of entities.
func keptTokens(ctx context.Context, st store.Store, workspace string, entities []entity.Entity) ([]entity.Entity, error) {
	consumers := map[string]bool{}
	given := map[string]bool{}
	for _, e := range entities {
		switch e.Kind() {
		case entity.KindConsumer:
			consumers[e.GetMeta().ID] = true
		case entity.KindAnalyticsToken:
			given[e.GetMeta().ID] = true
		}
	}
	var kept []entity.Entity
	opts := store.ListOptions{Size: 1000}
	for {
		page, err := st.List(ctx, entity.KindAnalyticsToken, workspace, opts)
		if err != nil {
			return nil, fmt.Errorf("list analytics tokens: %w", err)
		}
		for _, e := range page.Entities {
			t, ok := e.(*entity.AnalyticsToken)
			if !ok || given[t.ID] {
				continue
			}
			if t.Consumer != nil && !consumers[t.Consumer.ID] {
				continue
			}
			kept = append(kept, t)
		}
		if page.Next == "" {
			return kept, nil
		}
		opts.Offset = page.Next
	}
}
