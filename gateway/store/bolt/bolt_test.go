package bolt_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/bolt"
	"github.com/tollgate/tollgate/gateway/store/storetest"
	"github.com/tollgate/tollgate/internal/entity"
)

func open(t *testing.T, path string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "config.db"))
	})
}

func TestSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dir", "config.db")
	s := open(t, path)
	svc := &entity.Service{Meta: entity.Meta{ID: "0b6a5f0e-1d2c-4e3f-8a9b-0c1d2e3f4a5b", Workspace: "default", Tags: []string{"t"}},
		Name: "svc", Protocol: "http", Host: "example.com", Port: 80}
	route := &entity.Route{Meta: entity.Meta{ID: "7c6b5a4f-3e2d-4c1b-9a0f-1e2d3c4b5a69", Workspace: "default"},
		Name: "r", Paths: []string{"/"}, Service: &entity.Ref{ID: svc.ID}}
	ws := &entity.Workspace{Meta: entity.Meta{ID: "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d"}, Name: "default"}
	for _, e := range []entity.Entity{ws, svc, route} {
		if err := s.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	v1, err := s.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	v2, err := s.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v2 != v1 {
		t.Fatalf("version after reopen = %d, want %d", v2, v1)
	}
	got, err := s.GetByKey(ctx, entity.KindService, "default", "name", "svc")
	if err != nil {
		t.Fatal(err)
	}
	if g := got.(*entity.Service); g.ID != svc.ID || g.Host != "example.com" || g.Workspace != "default" || g.Tags[0] != "t" {
		t.Fatalf("service after reopen = %+v", g)
	}
	p, err := s.List(ctx, entity.KindRoute, "default", store.ListOptions{RefKind: entity.KindService, RefID: svc.ID})
	if err != nil || len(p.Entities) != 1 || p.Entities[0].GetMeta().ID != route.ID {
		t.Fatalf("routes of the service after reopen = %v, %v", p.Entities, err)
	}
	// Unique keys are still enforced and the version keeps growing.
	dup := &entity.Service{Meta: entity.Meta{ID: "99999999-1d2c-4e3f-8a9b-0c1d2e3f4a5b", Workspace: "default"}, Name: "svc"}
	if err := s.Create(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Create of a duplicate after reopen: %v", err)
	}
	if err := s.Delete(ctx, entity.KindRoute, "default", route.ID); err != nil {
		t.Fatal(err)
	}
	if v3, _ := s.Version(ctx); v3 <= v1 {
		t.Fatalf("version after a write = %d, want > %d", v3, v1)
	}
	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Entities) != 2 {
		t.Fatalf("snapshot after reopen holds %d entities, want 2", len(snap.Entities))
	}
}

func TestLockedByAnotherOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.db")
	open(t, path)
	start := time.Now()
	_, err := bolt.Open(path, bolt.Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, bolt.ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "another tollgate process holds the data dir") {
		t.Errorf("error %q does not say the data dir is held", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Error("second Open did not honour its lock timeout")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a bbolt file ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	futurePath := filepath.Join(dir, "future.db")
	db, err := bbolt.Open(futurePath, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("format"), []byte("99"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, path, want string
	}{
		{"not a database", notDB, "open config store"},
		{"directory is a file", filepath.Join(blocker, "config.db"), "open config store"},
		{"newer layout", futurePath, `unsupported layout version "99"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := bolt.Open(tt.path, bolt.Options{LockTimeout: 100 * time.Millisecond})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	// The newer-layout file was released: it can be opened by bbolt again.
	db, err = bbolt.Open(futurePath, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("file still locked after a failed Open: %v", err)
	}
	db.Close()
}
