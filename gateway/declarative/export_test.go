package declarative

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/gateway/store/memstore"
	"github.com/tollgate/tollgate/internal/entity"
)

// TestRoundTrip: exporting what a file flattens into, and importing the
// export, gives the same entities: ids, fields, timestamps and hashes.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		render func(*File) ([]byte, error)
	}{
		{"yaml", (*File).YAML},
		{"json", (*File).JSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := mustEntities(t, mustParse(t, readFile(t, "kong.yml")), "team-a")
			// Entities of another workspace are not exported.
			other := mustEntities(t, mustParse(t, []byte("_format_version: \"3.0\"\nconsumers:\n- username: mallory\n")), "team-b")
			exported := Export(append(append([]entity.Entity{}, first...), other...), "team-a")
			data, err := tc.render(exported)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"alice-secret-key-0001", "correct horse battery staple", "mallory"} {
				if bytes.Contains(data, []byte(secret)) {
					t.Errorf("export holds %q:\n%s", secret, data)
				}
			}
			f := mustParse(t, data)
			if f.Workspace != "team-a" {
				t.Errorf("_workspace %q, want team-a", f.Workspace)
			}
			second := mustEntities(t, f, "")
			diffLines(t, canonical(t, first), canonical(t, second))

			// And the export of the re-import is the same document.
			again, err := tc.render(Export(second, "team-a"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, again) {
				t.Errorf("second export differs:\n%s\n---\n%s", data, again)
			}
		})
	}
}

// fixedEntities flattens kong.yml and replaces what is random (key-auth
// ids, bcrypt salts) so that its export can be compared with a golden file.
func fixedEntities(t *testing.T) []entity.Entity {
	t.Helper()
	ents := mustEntities(t, mustParse(t, readFile(t, "kong.yml")), "")
	for _, e := range ents {
		switch e := e.(type) {
		case *entity.KeyAuthCredential:
			e.ID = derivedID(e.Kind(), e.KeyHash)
		case *entity.BasicAuthCredential:
			e.PasswordHash = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
		}
	}
	return ents
}

// TestExportGolden: the shape of an export (nesting, references, order)
// is in testdata/export.yml and testdata/export.json.
func TestExportGolden(t *testing.T) {
	f := Export(fixedEntities(t), "")
	for _, tc := range []struct {
		golden string
		render func() ([]byte, error)
	}{
		{"export.yml", f.YAML},
		{"export.json", f.JSON},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			got, err := tc.render()
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := readFile(t, tc.golden)
			if !bytes.Equal(got, want) {
				t.Errorf("export differs from %s:\n%s", golden, got)
			}
			// A golden export is itself a valid file.
			mustEntities(t, mustParse(t, want), "")
		})
	}
}

func TestExportNesting(t *testing.T) {
	f := Export(fixedEntities(t), "")
	if len(f.Services) != 2 || len(f.Routes) != 0 || len(f.Targets) != 0 || len(f.SNIs) != 0 ||
		len(f.KeyAuthCredentials) != 0 || len(f.ACLs) != 0 {
		t.Fatalf("not nested: %d services, %d routes, %d targets, %d snis, %d keys, %d acls",
			len(f.Services), len(f.Routes), len(f.Targets), len(f.SNIs), len(f.KeyAuthCredentials), len(f.ACLs))
	}
	billing, orders := f.Services[0], f.Services[1]
	if billing.Name != "billing" || len(billing.Routes) != 1 || billing.ClientCertificate == "" {
		t.Errorf("billing: %+v", billing)
	}
	if orders.Name != "orders" || len(orders.Routes) != 2 || len(orders.Plugins) != 1 {
		t.Errorf("orders: %d routes, %d plugins", len(orders.Routes), len(orders.Plugins))
	}
	// Global and multi-scope plugins stay at the top, referencing by name.
	if len(f.Plugins) != 2 {
		t.Fatalf("%d top-level plugins, want 2", len(f.Plugins))
	}
	var scoped *Plugin
	for _, p := range f.Plugins {
		if p.Route != "" {
			scoped = p
		}
	}
	if scoped == nil || scoped.Route != "billing-api" || scoped.Consumer != "bob" || scoped.Service != "" {
		t.Errorf("route+consumer plugin: %+v", scoped)
	}
	alice := f.Consumers[0]
	if alice.Username != "alice" || len(alice.KeyAuthCredentials) != 1 || len(alice.BasicAuthCredentials) != 1 ||
		len(alice.ACLs) != 2 || len(alice.Plugins) != 1 {
		t.Errorf("alice: %+v", alice)
	}
	if k := alice.KeyAuthCredentials[0]; k.Key != "" || k.KeyHash == "" || k.KeyPrefix != "alic" || k.Consumer != "" {
		t.Errorf("alice's key: %+v", k)
	}
	if len(f.Upstreams[0].Targets) != 3 || len(f.Certificates[0].SNIs) != 2 {
		t.Errorf("targets %d, snis %d", len(f.Upstreams[0].Targets), len(f.Certificates[0].SNIs))
	}
}

// TestExportReferencesByID: references use ids where names cannot serve:
// unnamed entities, and entities missing from the export.
func TestExportReferencesByID(t *testing.T) {
	svc := &entity.Service{Meta: entity.Meta{ID: "6f1f3c5a-1111-4c5e-9a8f-3e2d1c0b9a87"}, Host: "a", Protocol: "http", Port: 80}
	route := &entity.Route{Meta: entity.Meta{ID: "6f1f3c5a-2222-4c5e-9a8f-3e2d1c0b9a87"}, Paths: []string{"/"},
		Service: &entity.Ref{ID: svc.ID}}
	orphan := &entity.Target{Meta: entity.Meta{ID: "6f1f3c5a-3333-4c5e-9a8f-3e2d1c0b9a87"}, Target: "a:1",
		Upstream: &entity.Ref{ID: "6f1f3c5a-4444-4c5e-9a8f-3e2d1c0b9a87"}}
	plugin := &entity.Plugin{Meta: entity.Meta{ID: "6f1f3c5a-5555-4c5e-9a8f-3e2d1c0b9a87"}, Name: "key-auth",
		Service: &entity.Ref{ID: svc.ID}, Route: &entity.Ref{ID: route.ID}}
	f := Export([]entity.Entity{plugin, orphan, route, svc}, "")
	if len(f.Services) != 1 || len(f.Services[0].Routes) != 1 {
		t.Fatalf("route not nested in its unnamed service: %+v", f)
	}
	if len(f.Targets) != 1 || f.Targets[0].Upstream != Reference(orphan.Upstream.ID) {
		t.Errorf("orphan target: %+v", f.Targets)
	}
	if len(f.Plugins) != 1 || f.Plugins[0].Service != Reference(svc.ID) || f.Plugins[0].Route != Reference(route.ID) {
		t.Errorf("plugin: %+v", f.Plugins)
	}
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })

	count := func() map[entity.Kind]int {
		snap, err := st.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[entity.Kind]int{}
		for _, e := range snap.Entities {
			if e.GetMeta().Workspace == entity.DefaultWorkspace {
				m[e.Kind()]++
			}
		}
		return m
	}

	if err := Apply(ctx, st, mustParse(t, readFile(t, "kong.yml")), "", testRegistry(), testNow); err != nil {
		t.Fatal(err)
	}
	full := count()
	if full[entity.KindService] != 2 || full[entity.KindPlugin] != 5 || full[entity.KindKeyAuth] != 3 {
		t.Fatalf("after apply: %v", full)
	}

	// A file with a problem changes nothing.
	bad := mustParse(t, []byte("_format_version: \"3.0\"\nroutes:\n- paths: [/]\n  service: nowhere\n"))
	err := Apply(ctx, st, bad, "", testRegistry(), testNow)
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if got := count(); !reflect.DeepEqual(got, full) {
		t.Errorf("failed apply changed the store: %v, was %v", got, full)
	}

	// The file is the whole configuration: what it leaves out goes.
	small := mustParse(t, []byte("_format_version: \"3.0\"\nconsumers:\n- username: alice\n"))
	if err := Apply(ctx, st, small, "", testRegistry(), testNow); err != nil {
		t.Fatal(err)
	}
	if got := count(); !reflect.DeepEqual(got, map[entity.Kind]int{entity.KindConsumer: 1}) {
		t.Errorf("after replacing: %v", got)
	}
}

func TestReferenceForms(t *testing.T) {
	f := mustParse(t, []byte(`{
  "_format_version": "3.0",
  "services": [{"id": "6f1f3c5a-1111-4c5e-9a8f-3e2d1c0b9a87", "name": "s", "host": "s.internal"}],
  "routes": [
    {"name": "by-id", "paths": ["/a"], "service": "6f1f3c5a-1111-4c5e-9a8f-3e2d1c0b9a87"},
    {"name": "by-name", "paths": ["/b"], "service": "s"},
    {"name": "by-record", "paths": ["/c"], "service": {"id": "6f1f3c5a-1111-4c5e-9a8f-3e2d1c0b9a87"}}
  ]
}`))
	for _, e := range byKind(mustEntities(t, f, ""))[entity.KindRoute] {
		if got := entity.RefID(e.(*entity.Route).Service); got != "6f1f3c5a-1111-4c5e-9a8f-3e2d1c0b9a87" {
			t.Errorf("route %s service %q", e.(*entity.Route).Name, got)
		}
	}
	_, err := Parse([]byte(`{"_format_version": "3.0", "routes": [{"service": {"name": "s"}}, {"service": 5}]}`))
	if err == nil || strings.Count(err.Error(), "expected a name or id") != 2 {
		t.Errorf("err = %v", err)
	}
}
