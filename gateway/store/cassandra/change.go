package cassandra

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

// Operations of a config change (the op column of config_changes).
const (
	opCreate  = "create"
	opUpdate  = "update"
	opDelete  = "delete"
	opReplace = "replace"
)

// bucketSize is the number of changes per config_changes partition; the
// schema fixes it (bucket = version / 1024).
const bucketSize = 1024

func bucketOf(version uint64) int64 { return int64(version / bucketSize) }

// lastInBucket reports whether version is the last one of its bucket.
func lastInBucket(version uint64) bool { return version%bucketSize == bucketSize-1 }

// change is one row of config_changes.
type change struct {
	version uint64
	op      string
	kind    entity.Kind // "" for replace
	ws      string
	id      string // "" for replace
	body    []byte // entity JSON; replace: JSON array of replaceItem
	node    string
	at      time.Time
}

func (c *change) String() string {
	if c.op == opReplace {
		return fmt.Sprintf("change %d (replace workspace %q)", c.version, c.ws)
	}
	return fmt.Sprintf("change %d (%s %s %s)", c.version, c.op, c.kind, c.id)
}

// sameAs reports whether row, read back from the log, is c: the commit of c
// was applied even though the insert reported otherwise (a coordinator
// retry, for instance). A node commits one change per version at most, so
// node, op and body identify it.
func (c *change) sameAs(row *change) bool {
	return row.node == c.node && row.op == c.op && row.kind == c.kind && row.ws == c.ws &&
		row.id == c.id && bytes.Equal(row.body, c.body)
}

// replaceItem is one entity of a replace change's body. The kind travels
// with the entity because a workspace's entities are of many kinds; the id
// saves decoding the entity to find it.
type replaceItem struct {
	Kind   entity.Kind     `json:"kind"`
	ID     string          `json:"id"`
	Entity json.RawMessage `json:"entity"`
}

func decodeReplace(body []byte) ([]replaceItem, error) {
	var items []replaceItem
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, fmt.Errorf("decode replace body: %w", err)
	}
	for _, it := range items {
		if it.Kind == "" || it.ID == "" || it.Kind == entity.KindWorkspace {
			return nil, fmt.Errorf("decode replace body: bad item %q/%q", it.Kind, it.ID)
		}
	}
	return items, nil
}

// apply applies c to m, indexing as it goes. It does not touch m.version.
func (c *change) apply(m *mirror) error {
	switch c.op {
	case opCreate, opUpdate:
		return m.set(c.kind, c.ws, c.id, c.body)
	case opDelete:
		m.remove(c.kind, c.ws, c.id)
		return nil
	case opReplace:
		items, err := decodeReplace(c.body)
		if err != nil {
			return err
		}
		m.clearWorkspace(c.ws)
		for _, it := range items {
			if err := m.set(it.Kind, c.ws, it.ID, it.Entity); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown op %q", c.op)
}

// applyRaw is apply for a mirror that reindex will index afterwards
// (replay during a resync).
func (c *change) applyRaw(m *mirror) error {
	switch c.op {
	case opCreate, opUpdate:
		m.putRaw(c.kind, c.ws, c.id, c.body)
		return nil
	case opDelete:
		m.removeRaw(c.kind, c.ws, c.id)
		return nil
	case opReplace:
		items, err := decodeReplace(c.body)
		if err != nil {
			return err
		}
		m.clearWorkspace(c.ws)
		for _, it := range items {
			m.putRaw(it.Kind, c.ws, it.ID, it.Entity)
		}
		return nil
	}
	return fmt.Errorf("unknown op %q", c.op)
}

// workspaceKinds are the kinds stored in workspaces: every kind but
// workspaces themselves.
func workspaceKinds() []entity.Kind {
	out := make([]entity.Kind, 0, len(entity.Kinds)-1)
	for _, k := range entity.Kinds {
		if k != entity.KindWorkspace {
			out = append(out, k)
		}
	}
	return out
}
