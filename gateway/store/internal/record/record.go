// Package record is what a config store keeps of an entity: its JSON form
// (Kong's shape, less input-only shorthands) with its workspace beside it,
// and the identity checks every store applies before writing. It never
// touches storage.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tollgate/tollgate/internal/entity"
)

// Errors of Check.
var (
	ErrNoEntity    = errors.New("no entity")
	ErrNoID        = errors.New("entity has no id")
	ErrNoWorkspace = errors.New("entity has no workspace")
)

// Check reports whether e carries the identity a store needs: an id, and a
// workspace unless it is a workspace itself.
func Check(e entity.Entity) error {
	if e == nil {
		return ErrNoEntity
	}
	m := e.GetMeta()
	if m.ID == "" {
		return fmt.Errorf("%s: %w", e.Kind(), ErrNoID)
	}
	if e.Kind() != entity.KindWorkspace && m.Workspace == "" {
		return fmt.Errorf("%s %s: %w", e.Kind(), m.ID, ErrNoWorkspace)
	}
	return nil
}

// Workspace is the workspace an entity is stored under: "" for workspaces.
func Workspace(e entity.Entity) string {
	if e.Kind() == entity.KindWorkspace {
		return ""
	}
	return e.GetMeta().Workspace
}

// Marshal returns the JSON a store keeps for e. Certificate.SNIs is an input
// shorthand for SNI entities and is not kept.
func Marshal(e entity.Entity) ([]byte, error) {
	if c, ok := e.(*entity.Certificate); ok && c.SNIs != nil {
		cp := *c
		cp.SNIs = nil
		e = &cp
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", e.Kind(), e.GetMeta().ID, err)
	}
	return b, nil
}

// Unmarshal decodes what Marshal returned, in workspace ws.
func Unmarshal(kind entity.Kind, ws string, data []byte) (entity.Entity, error) {
	e, err := entity.Decode(kind, data)
	if err != nil {
		return nil, err
	}
	e.GetMeta().Workspace = ws
	return e, nil
}

// Key is one unique key of an entity.
type Key struct{ Field, Value string }

// UniqueKeys returns e's unique keys sorted by field, so that a conflict on
// several keys is always reported on the same one.
func UniqueKeys(e entity.Entity) []Key {
	m := e.UniqueKeys()
	keys := make([]Key, 0, len(m))
	for f, v := range m {
		keys = append(keys, Key{f, v})
	}
	slices.SortFunc(keys, func(a, b Key) int { return strings.Compare(a.Field, b.Field) })
	return keys
}

// KnownKind reports whether k is a kind of entity.
func KnownKind(k entity.Kind) bool {
	_, err := entity.New(k)
	return err == nil
}
