package snapshot

import (
	"errors"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

func meta(id string) entity.Meta {
	return entity.Meta{ID: id, Workspace: entity.DefaultWorkspace, CreatedAt: time.Now().Unix()}
}

// testFactory is a plugin whose config has one field; "bad" fails New.
func testFactory() *plugin.Factory {
	type cfg struct {
		Mode string `json:"mode"`
	}
	return &plugin.Factory{
		Name:      "test",
		Priority:  1,
		NewConfig: func() any { return &cfg{Mode: "ok"} },
		New: func(c any, _ plugin.Env) (any, error) {
			if c.(*cfg).Mode == "bad" {
				return nil, entity.FieldErrors{"mode": "bad mode"}.Err()
			}
			return struct{}{}, nil
		},
	}
}

var errStoreDown = errors.New("store down")
