package admin

import (
	"context"
	"fmt"
	"testing"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/internal/entity"
)

// unreachableStore refuses writes as a cluster store does while its
// database is away, and reads from what it has.
type unreachableStore struct{ store.Store }

func (unreachableStore) Create(context.Context, entity.Entity) error {
	return fmt.Errorf("write services: %w", store.ErrUnavailable)
}

// TestWriteWhileStoreUnavailable: a write the store cannot save is a 503
// that says what happened and what to do, not Kong's opaque 500.
func TestWriteWhileStoreUnavailable(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Store = unreachableStore{c.Store} })
	r := f.do("POST", "/services", map[string]any{"name": "s", "url": "http://example.com"})
	if r.status != 503 {
		t.Fatalf("status %d %s, want 503", r.status, r.raw)
	}
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if msg := r.str("message"); msg == "" || msg == "An unexpected error occurred" {
		t.Errorf("message %q does not say what happened", msg)
	}
	if r := f.do("GET", "/services", nil); r.status != 200 {
		t.Errorf("reads fail too: %d", r.status)
	}
}
