package declarative

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/store"
)

// Apply replaces the configuration of a workspace with the file's
// entities (Entities, then store.Replace): the file is the whole
// configuration of the workspace, as in Kong's DB-less mode. Nothing is
// written when the file has a problem.
func Apply(ctx context.Context, st store.Store, f *File, workspace string, plugins *plugin.Registry, now time.Time) error {
	entities, err := f.Entities(workspace, plugins, now)
	if err != nil {
		return err
	}
	ws, _ := f.workspaceFor(workspace)
	if err := st.Replace(ctx, ws, entities); err != nil {
		return fmt.Errorf("apply declarative config to workspace %q: %w", ws, err)
	}
	return nil
}
