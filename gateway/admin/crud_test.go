package admin

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/testcert"

	"github.com/tollgate/tollgate/internal/entity"
)

func TestServiceCRUD(t *testing.T) {
	f := newFixture(t)

	created := f.must(http.StatusCreated, "POST", "/services", map[string]any{
		"name": "billing", "url": "https://billing.internal:8443/v1", "tags": []string{"team-a"},
	})
	id := created.str("id")
	if !isUUID(id) {
		t.Fatalf("id %q is not a UUID", id)
	}
	for field, want := range map[string]any{
		"protocol": "https", "host": "billing.internal", "port": 8443.0, "path": "/v1",
		"retries": 5.0, "connect_timeout": 60000.0, "created_at": 1700000000.0, "updated_at": 1700000000.0,
	} {
		if got := created.get(field); got != want {
			t.Errorf("created %s = %v, want %v", field, got, want)
		}
	}
	if created.get("url") != nil {
		t.Errorf("url shorthand echoed back: %v", created.get("url"))
	}

	t.Run("get by id and by name", func(t *testing.T) {
		for _, key := range []string{id, "billing"} {
			got := f.must(http.StatusOK, "GET", "/services/"+key, nil)
			if got.str("id") != id {
				t.Errorf("GET /services/%s: id %q, want %q", key, got.str("id"), id)
			}
		}
	})

	t.Run("patch merges", func(t *testing.T) {
		got := f.must(http.StatusOK, "PATCH", "/services/billing", map[string]any{"retries": 0, "read_timeout": 1000})
		if got.get("retries") != 0.0 || got.get("read_timeout") != 1000.0 || got.str("host") != "billing.internal" {
			t.Errorf("PATCH result: %s", got.raw)
		}
		if got.str("id") != id {
			t.Errorf("PATCH changed id")
		}
	})

	t.Run("put replaces an existing entity", func(t *testing.T) {
		got := f.must(http.StatusOK, "PUT", "/services/billing", map[string]any{"host": "other.internal"})
		if got.str("id") != id || got.str("host") != "other.internal" || got.get("port") != 80.0 || got.get("retries") != 5.0 {
			t.Errorf("PUT result: %s", got.raw)
		}
	})

	t.Run("put creates with the name from the path", func(t *testing.T) {
		got := f.must(http.StatusOK, "PUT", "/services/inventory", map[string]any{"host": "inv.internal"})
		if got.str("name") != "inventory" || !isUUID(got.str("id")) {
			t.Errorf("PUT create: %s", got.raw)
		}
		f.must(http.StatusOK, "GET", "/services/inventory", nil)
	})

	t.Run("put creates with the id from the path", func(t *testing.T) {
		const pid = "0b8c8a4e-0a8f-4b8e-9f7a-3f1c2d3e4f50"
		got := f.must(http.StatusOK, "PUT", "/services/"+pid, map[string]any{"host": "x.internal"})
		if got.str("id") != pid {
			t.Errorf("PUT by id: %s", got.raw)
		}
	})

	t.Run("patch of a missing entity is 404", func(t *testing.T) {
		r := f.must(http.StatusNotFound, "PATCH", "/services/nope", map[string]any{"retries": 1})
		if r.str("message") != "Not found" {
			t.Errorf("body %s", r.raw)
		}
	})

	t.Run("delete", func(t *testing.T) {
		f.must(http.StatusNoContent, "DELETE", "/services/billing", nil)
		f.must(http.StatusNotFound, "GET", "/services/"+id, nil)
		// Deleting what is not there is not an error, as in Kong.
		f.must(http.StatusNoContent, "DELETE", "/services/billing", nil)
		f.must(http.StatusNoContent, "DELETE", "/services/"+id, nil)
	})
}

func TestRoutes(t *testing.T) {
	f := newFixture(t)
	svc := f.must(http.StatusCreated, "POST", "/services", map[string]any{"name": "s1", "host": "a.internal"})
	f.must(http.StatusCreated, "POST", "/services", map[string]any{"name": "s2", "host": "b.internal"})

	r1 := f.must(http.StatusCreated, "POST", "/services/s1/routes", map[string]any{"name": "r1", "paths": []string{"/a"}})
	if r1.str("service.id") != svc.str("id") {
		t.Fatalf("nested create did not set service: %s", r1.raw)
	}
	if got := r1.get("protocols"); fmt.Sprint(got) != "[http https]" {
		t.Errorf("default protocols %v", got)
	}

	t.Run("reference by name", func(t *testing.T) {
		r := f.must(http.StatusCreated, "POST", "/routes", map[string]any{
			"name": "r2", "paths": []string{"/b"}, "service": map[string]any{"name": "s2"},
		})
		if r.str("service.id") == "" || r.str("service.id") == svc.str("id") {
			t.Errorf("service by name: %s", r.raw)
		}
	})

	t.Run("nested list only shows the parent's routes", func(t *testing.T) {
		l := f.must(http.StatusOK, "GET", "/services/"+svc.str("id")+"/routes", nil)
		if d := l.data(); len(d) != 1 || d[0]["name"] != "r1" {
			t.Errorf("nested list: %s", l.raw)
		}
		if l.get("next") != nil {
			t.Errorf("next = %v", l.get("next"))
		}
		all := f.must(http.StatusOK, "GET", "/routes", nil)
		if len(all.data()) != 2 {
			t.Errorf("all routes: %s", all.raw)
		}
	})

	t.Run("nested entity must belong to the parent", func(t *testing.T) {
		f.must(http.StatusOK, "GET", "/services/s1/routes/r1", nil)
		f.must(http.StatusNotFound, "GET", "/services/s2/routes/r1", nil)
		f.must(http.StatusNotFound, "PATCH", "/services/s2/routes/r1", map[string]any{"paths": []string{"/z"}})
		f.must(http.StatusNotFound, "DELETE", "/services/s2/routes/r1", nil)
		f.must(http.StatusNotFound, "GET", "/services/nope/routes", nil)
		f.must(http.StatusNotFound, "POST", "/services/nope/routes", map[string]any{"paths": []string{"/x"}})
	})

	t.Run("foreign entity endpoint", func(t *testing.T) {
		r := f.must(http.StatusOK, "GET", "/routes/r1/service", nil)
		if r.str("name") != "s1" {
			t.Errorf("GET /routes/r1/service: %s", r.raw)
		}
	})

	t.Run("nested patch and put", func(t *testing.T) {
		r := f.must(http.StatusOK, "PATCH", "/services/s1/routes/r1", map[string]any{"hosts": []string{"example.com"}})
		if fmt.Sprint(r.get("hosts")) != "[example.com]" || fmt.Sprint(r.get("paths")) != "[/a]" {
			t.Errorf("PATCH nested: %s", r.raw)
		}
		r = f.must(http.StatusOK, "PUT", "/services/s1/routes/r9", map[string]any{"paths": []string{"/nine"}})
		if r.str("name") != "r9" || r.str("service.id") != svc.str("id") {
			t.Errorf("PUT nested: %s", r.raw)
		}
	})

	t.Run("unknown service id is a foreign key violation", func(t *testing.T) {
		const missing = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
		r := f.must(http.StatusBadRequest, "POST", "/routes", map[string]any{"paths": []string{"/c"}, "service": map[string]any{"id": missing}})
		if r.get("code") != 4.0 || r.str("name") != "foreign key violation" || r.str("fields.service.id") != missing {
			t.Errorf("body %s", r.raw)
		}
		want := `the foreign key '{id="` + missing + `"}' does not reference an existing 'services' entity.`
		if r.str("message") != want {
			t.Errorf("message %q, want %q", r.str("message"), want)
		}
	})

	t.Run("unknown service name is unresolved", func(t *testing.T) {
		r := f.must(http.StatusBadRequest, "POST", "/routes", map[string]any{"paths": []string{"/c"}, "service": map[string]any{"name": "ghost"}})
		if r.get("code") != 13.0 || !strings.Contains(r.str("fields.service.name"), `'{name="ghost"}'`) {
			t.Errorf("body %s", r.raw)
		}
	})
}

func TestConsumersAndCredentials(t *testing.T) {
	f := newFixture(t)
	c := f.must(http.StatusCreated, "POST", "/consumers", map[string]any{"username": "alice", "custom_id": "a-1"})
	cid := c.str("id")

	t.Run("by username and custom_id filter", func(t *testing.T) {
		f.must(http.StatusOK, "GET", "/consumers/alice", nil)
		l := f.must(http.StatusOK, "GET", "/consumers?custom_id=a-1", nil)
		if d := l.data(); len(d) != 1 || d[0]["id"] != cid {
			t.Errorf("custom_id filter: %s", l.raw)
		}
		l = f.must(http.StatusOK, "GET", "/consumers?custom_id=zzz", nil)
		if len(l.data()) != 0 {
			t.Errorf("custom_id filter miss: %s", l.raw)
		}
	})

	t.Run("acls by group under the consumer", func(t *testing.T) {
		a := f.must(http.StatusCreated, "POST", "/consumers/alice/acls", map[string]any{"group": "admins"})
		if a.str("consumer.id") != cid {
			t.Errorf("acl: %s", a.raw)
		}
		f.must(http.StatusOK, "GET", "/consumers/alice/acls/admins", nil)
		f.must(http.StatusOK, "GET", "/acls/"+a.str("id"), nil)
		r := f.must(http.StatusConflict, "POST", "/consumers/alice/acls", map[string]any{"group": "admins"})
		if r.get("code") != 5.0 || r.str("fields.group") != "admins" {
			t.Errorf("duplicate acl: %s", r.raw)
		}
		if l := f.must(http.StatusOK, "GET", "/acls", nil); len(l.data()) != 1 {
			t.Errorf("/acls: %s", l.raw)
		}
		f.must(http.StatusOK, "GET", "/acls/"+a.str("id")+"/consumer", nil)
	})

	t.Run("basic-auth password is never returned", func(t *testing.T) {
		b := f.must(http.StatusCreated, "POST", "/consumers/alice/basic-auth", map[string]any{"username": "alice", "password": "s3cret-pass"})
		for _, r := range []response{
			b,
			f.must(http.StatusOK, "GET", "/consumers/alice/basic-auth/"+b.str("id"), nil),
			f.must(http.StatusOK, "GET", "/basic-auths", nil),
			f.must(http.StatusOK, "GET", "/basic-auths/alice", nil),
			f.must(http.StatusOK, "PATCH", "/basic-auths/alice", map[string]any{"tags": []string{"x"}}),
		} {
			if strings.Contains(string(r.raw), "s3cret-pass") || strings.Contains(string(r.raw), "$2a$") {
				t.Errorf("password or its hash in response: %s", r.raw)
			}
		}
		// PATCH without a password kept the hash: a password change works.
		f.must(http.StatusOK, "PATCH", "/basic-auths/alice", map[string]any{"password": "other"})
	})
}

func TestKeyAuthSecrets(t *testing.T) {
	f := newFixture(t)
	f.must(http.StatusCreated, "POST", "/consumers", map[string]any{"username": "bob"})
	const key = "bobs-very-secret-api-key"

	created := f.must(http.StatusCreated, "POST", "/consumers/bob/key-auth", map[string]any{"key": key})
	if created.str("key") != key {
		t.Fatalf("creation response must show the key once: %s", created.raw)
	}
	id := created.str("id")

	generated := f.must(http.StatusCreated, "POST", "/consumers/bob/key-auth", nil)
	gen := generated.str("key")
	if len(gen) != 32 {
		t.Fatalf("generated key %q, want 32 hex characters", gen)
	}

	reads := map[string]response{
		"get nested":    f.must(http.StatusOK, "GET", "/consumers/bob/key-auth/"+id, nil),
		"get by key":    f.must(http.StatusOK, "GET", "/key-auths/"+key, nil),
		"list nested":   f.must(http.StatusOK, "GET", "/consumers/bob/key-auth", nil),
		"list all":      f.must(http.StatusOK, "GET", "/key-auths", nil),
		"patch":         f.must(http.StatusOK, "PATCH", "/key-auths/"+id, map[string]any{"tags": []string{"t"}}),
		"foreign route": f.must(http.StatusOK, "GET", "/key-auths/"+id+"/consumer", nil),
	}
	for name, r := range reads {
		for _, secret := range []string{key, gen} {
			if strings.Contains(string(r.raw), secret) {
				t.Errorf("%s: full key in response: %s", name, r.raw)
			}
		}
		if strings.Contains(string(r.raw), "key_hash") {
			t.Errorf("%s: key hash in response: %s", name, r.raw)
		}
	}
	if got := reads["get by key"].str("key"); !strings.HasPrefix(got, key[:4]) {
		t.Errorf("redacted key %q should show the prefix", got)
	}

	t.Run("patch without key keeps it", func(t *testing.T) {
		f.must(http.StatusOK, "GET", "/key-auths/"+key, nil)
	})

	t.Run("duplicate key", func(t *testing.T) {
		r := f.must(http.StatusConflict, "POST", "/consumers/bob/key-auth", map[string]any{"key": key})
		if r.str("message") != `UNIQUE violation detected on '{key="`+key+`"}'` {
			t.Errorf("body %s", r.raw)
		}
	})
}

func TestPlugins(t *testing.T) {
	f := newFixture(t)
	svc := f.must(http.StatusCreated, "POST", "/services", map[string]any{"name": "s", "host": "s.internal"})
	f.must(http.StatusCreated, "POST", "/consumers", map[string]any{"username": "carol"})

	p := f.must(http.StatusCreated, "POST", "/services/s/plugins", map[string]any{"name": "rate-limiting", "config": map[string]any{"minute": 5}})
	if p.str("service.id") != svc.str("id") || p.get("config.minute") != 5.0 || p.str("config.policy") != "local" {
		t.Fatalf("scoped plugin: %s", p.raw)
	}
	if p.get("route") != nil || p.get("consumer") != nil {
		t.Errorf("scope leaked: %s", p.raw)
	}

	t.Run("one plugin of a name per scope", func(t *testing.T) {
		r := f.must(http.StatusConflict, "POST", "/services/s/plugins", map[string]any{"name": "rate-limiting", "config": map[string]any{"minute": 9}})
		want := `UNIQUE violation detected on '{consumer=null,name="rate-limiting",route=null,service={id="` + svc.str("id") + `"}}'`
		if r.str("message") != want {
			t.Errorf("message %q, want %q", r.str("message"), want)
		}
		// The same plugin on a consumer is another scope.
		c := f.must(http.StatusCreated, "POST", "/consumers/carol/plugins", map[string]any{"name": "rate-limiting", "config": map[string]any{"minute": 1}})
		if c.str("consumer.id") == "" || c.get("service") != nil {
			t.Errorf("consumer plugin: %s", c.raw)
		}
	})

	t.Run("patch merges config", func(t *testing.T) {
		r := f.must(http.StatusOK, "PATCH", "/plugins/"+p.str("id"), map[string]any{"config": map[string]any{"second": 1}})
		if r.get("config.minute") != 5.0 || r.get("config.second") != 1.0 {
			t.Errorf("config merge: %s", r.raw)
		}
		r = f.must(http.StatusOK, "GET", "/services/s/plugins/"+p.str("id"), nil)
		if r.get("config.second") != 1.0 {
			t.Errorf("nested get: %s", r.raw)
		}
	})

	t.Run("config errors are named under config", func(t *testing.T) {
		r := f.must(http.StatusBadRequest, "POST", "/plugins", map[string]any{"name": "rate-limiting", "config": map[string]any{"minute": "lots", "policy": "redis"}})
		if r.str("fields.config.minute") != "expected a number" {
			t.Errorf("body %s", r.raw)
		}
	})

	t.Run("unknown plugin", func(t *testing.T) {
		r := f.must(http.StatusBadRequest, "POST", "/plugins", map[string]any{"name": "nope"})
		if !strings.Contains(r.str("fields.name"), "plugin 'nope' not enabled") {
			t.Errorf("body %s", r.raw)
		}
	})

	t.Run("enabled plugins", func(t *testing.T) {
		r := f.must(http.StatusOK, "GET", "/plugins/enabled", nil)
		if fmt.Sprint(r.get("enabled_plugins")) != "[key-auth rate-limiting]" {
			t.Errorf("body %s", r.raw)
		}
	})

	t.Run("instance name addresses a plugin", func(t *testing.T) {
		f.must(http.StatusCreated, "POST", "/plugins", map[string]any{"name": "key-auth", "instance_name": "global-auth"})
		r := f.must(http.StatusOK, "GET", "/plugins/global-auth", nil)
		if r.str("name") != "key-auth" || fmt.Sprint(r.get("config.key_names")) != "[apikey]" {
			t.Errorf("body %s", r.raw)
		}
	})

	t.Run("schema", func(t *testing.T) {
		r := f.must(http.StatusOK, "GET", "/schemas/plugins/rate-limiting", nil)
		if !strings.Contains(string(r.raw), `"minute"`) {
			t.Errorf("schema: %s", r.raw)
		}
		f.must(http.StatusNotFound, "GET", "/schemas/plugins/nope", nil)
	})
}

func TestUpstreamsTargetsHealth(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Health = func(ws, upstream string) []TargetHealth {
			if ws != "default" || upstream != "pool" {
				return nil
			}
			return []TargetHealth{{Target: "10.0.0.1:8080", Weight: 100, Health: "HEALTHY"}, {Target: "10.0.0.2:8000", Weight: 0, Health: "UNHEALTHY"}}
		}
	})
	u := f.must(http.StatusCreated, "POST", "/upstreams", map[string]any{"name": "pool"})
	if u.str("algorithm") != "round-robin" {
		t.Errorf("defaults: %s", u.raw)
	}
	t1 := f.must(http.StatusCreated, "POST", "/upstreams/pool/targets", map[string]any{"target": "10.0.0.1:8080"})
	if t1.str("upstream.id") != u.str("id") || t1.get("weight") != 100.0 {
		t.Errorf("target: %s", t1.raw)
	}
	t2 := f.must(http.StatusCreated, "POST", "/upstreams/pool/targets", map[string]any{"target": "10.0.0.2", "weight": 0})
	if t2.str("target") != "10.0.0.2:8000" || t2.get("weight") != 0.0 {
		t.Errorf("explicit weight 0 and default port: %s", t2.raw)
	}
	f.must(http.StatusOK, "GET", "/upstreams/pool/targets/10.0.0.1:8080", nil)
	f.must(http.StatusOK, "GET", "/upstreams/pool/targets/10.0.0.2", nil)
	r := f.must(http.StatusConflict, "POST", "/upstreams/pool/targets", map[string]any{"target": "10.0.0.1:8080"})
	if r.get("code") != 5.0 {
		t.Errorf("duplicate target: %s", r.raw)
	}
	// Kong serves targets under their upstream only.
	f.must(http.StatusNotFound, "GET", "/targets", nil)

	h := f.must(http.StatusOK, "GET", "/upstreams/pool/health", nil)
	health := map[string]any{}
	for _, d := range h.data() {
		health[d["target"].(string)] = d["health"]
	}
	if health["10.0.0.1:8080"] != "HEALTHY" || health["10.0.0.2:8000"] != "UNHEALTHY" || h.get("total") != 2.0 {
		t.Errorf("health: %s", h.raw)
	}
	if h.str("node_id") != "11111111-2222-4333-8444-555555555555" {
		t.Errorf("node_id: %s", h.raw)
	}
}

func TestCertificatesAndSNIs(t *testing.T) {
	f := newFixture(t)
	cert, key := testcert.PEM(t, "example.com", "example.com", "www.example.com")

	c := f.must(http.StatusCreated, "POST", "/certificates", map[string]any{"cert": cert, "key": key, "snis": []string{"example.com", "www.example.com"}})
	cid := c.str("id")
	if fmt.Sprint(c.get("snis")) != "[example.com www.example.com]" {
		t.Errorf("snis: %s", c.raw)
	}
	if strings.Contains(string(c.raw), "PRIVATE KEY") {
		t.Errorf("private key in response: %s", c.raw)
	}
	if n := f.count(entity.KindSNI, "default"); n != 2 {
		t.Errorf("%d SNI entities, want 2", n)
	}

	t.Run("certificate by sni name", func(t *testing.T) {
		r := f.must(http.StatusOK, "GET", "/certificates/example.com", nil)
		if r.str("id") != cid {
			t.Errorf("body %s", r.raw)
		}
		l := f.must(http.StatusOK, "GET", "/certificates/"+cid+"/snis", nil)
		if len(l.data()) != 2 {
			t.Errorf("nested snis: %s", l.raw)
		}
		f.must(http.StatusOK, "GET", "/snis/example.com/certificate", nil)
	})

	t.Run("sni taken by another certificate", func(t *testing.T) {
		r := f.must(http.StatusBadRequest, "POST", "/certificates", map[string]any{"cert": cert, "key": key, "snis": []string{"example.com"}})
		if !strings.Contains(r.str("fields.snis"), "already associated with existing certificate") {
			t.Errorf("body %s", r.raw)
		}
	})

	t.Run("patch replaces snis", func(t *testing.T) {
		r := f.must(http.StatusOK, "PATCH", "/certificates/"+cid, map[string]any{"snis": []string{"api.example.com"}})
		if fmt.Sprint(r.get("snis")) != "[api.example.com]" {
			t.Errorf("body %s", r.raw)
		}
		if n := f.count(entity.KindSNI, "default"); n != 1 {
			t.Errorf("%d SNI entities, want 1", n)
		}
	})

	t.Run("multipart upload", func(t *testing.T) {
		cert2, key2 := testcert.PEM(t, "upload.example.com", "upload.example.com")
		mb := newMultipart(t, map[string]string{"snis[]": "upload.example.com", "tags": "uploaded"}, map[string]string{"cert": cert2, "key": key2})
		r := f.must(http.StatusCreated, "POST", "/certificates", mb)
		if fmt.Sprint(r.get("snis")) != "[upload.example.com]" || fmt.Sprint(r.get("tags")) != "[uploaded]" {
			t.Errorf("body %s", r.raw)
		}
	})

	t.Run("delete cascades to snis", func(t *testing.T) {
		f.must(http.StatusNoContent, "DELETE", "/certificates/"+cid, nil)
		f.must(http.StatusNotFound, "GET", "/snis/api.example.com", nil)
	})
}

func TestWorkspaceEntities(t *testing.T) {
	f := newFixture(t)
	l := f.must(http.StatusOK, "GET", "/workspaces", nil)
	if d := l.data(); len(d) != 1 || d[0]["name"] != "default" {
		t.Fatalf("the default workspace exists implicitly: %s", l.raw)
	}
	ws := f.must(http.StatusCreated, "POST", "/workspaces", map[string]any{"name": "team-a", "comment": "first team"})
	f.must(http.StatusOK, "GET", "/workspaces/team-a", nil)
	f.must(http.StatusOK, "GET", "/workspaces/"+ws.str("id"), nil)
	r := f.must(http.StatusOK, "PATCH", "/workspaces/team-a", map[string]any{"comment": "renamed team"})
	if r.str("comment") != "renamed team" {
		t.Errorf("patch: %s", r.raw)
	}
	f.must(http.StatusBadRequest, "PATCH", "/workspaces/team-a", map[string]any{"name": "team-b"})
	f.must(http.StatusConflict, "POST", "/workspaces", map[string]any{"name": "team-a"})
	r = f.must(http.StatusBadRequest, "POST", "/workspaces", map[string]any{"name": "services"})
	if r.str("fields.name") == "" {
		t.Errorf("reserved name: %s", r.raw)
	}
	r = f.must(http.StatusBadRequest, "DELETE", "/workspaces/default", nil)
	if r.str("message") == "" {
		t.Errorf("delete default: %s", r.raw)
	}

	f.must(http.StatusCreated, "POST", "/team-a/consumers", map[string]any{"username": "dave"})
	f.must(http.StatusBadRequest, "DELETE", "/workspaces/team-a", nil)
	f.must(http.StatusNoContent, "DELETE", "/team-a/consumers/dave", nil)
	f.must(http.StatusNoContent, "DELETE", "/workspaces/team-a", nil)
	f.must(http.StatusNotFound, "GET", "/team-a/consumers", nil)
}

func TestWorkspaceIsolation(t *testing.T) {
	f := newFixture(t)
	ws := f.must(http.StatusCreated, "POST", "/workspaces", map[string]any{"name": "team-a"})

	// The same name in two workspaces is two entities.
	a := f.must(http.StatusCreated, "POST", "/team-a/services", map[string]any{"name": "svc", "host": "a.internal"})
	d := f.must(http.StatusCreated, "POST", "/services", map[string]any{"name": "svc", "host": "d.internal"})
	if a.str("id") == d.str("id") {
		t.Fatal("same id in two workspaces")
	}
	if r := f.must(http.StatusOK, "GET", "/team-a/services/svc", nil); r.str("host") != "a.internal" {
		t.Errorf("team-a svc: %s", r.raw)
	}
	if r := f.must(http.StatusOK, "GET", "/services/svc", nil); r.str("host") != "d.internal" {
		t.Errorf("default svc: %s", r.raw)
	}
	if r := f.must(http.StatusOK, "GET", "/default/services/svc", nil); r.str("host") != "d.internal" {
		t.Errorf("explicit default prefix: %s", r.raw)
	}
	// By workspace id as well as by name.
	if r := f.must(http.StatusOK, "GET", "/"+ws.str("id")+"/services/svc", nil); r.str("host") != "a.internal" {
		t.Errorf("workspace by id: %s", r.raw)
	}
	// An entity of one workspace is not reachable from another.
	f.must(http.StatusNotFound, "GET", "/services/"+a.str("id"), nil)
	f.must(http.StatusNotFound, "GET", "/team-a/services/"+d.str("id"), nil)
	// References do not cross workspaces.
	r := f.must(http.StatusBadRequest, "POST", "/team-a/routes", map[string]any{"paths": []string{"/x"}, "service": map[string]any{"id": d.str("id")}})
	if r.get("code") != 4.0 {
		t.Errorf("cross-workspace reference: %s", r.raw)
	}

	l := f.must(http.StatusOK, "GET", "/team-a/services", nil)
	if len(l.data()) != 1 {
		t.Errorf("team-a list: %s", l.raw)
	}

	missing := f.must(http.StatusNotFound, "GET", "/nowhere/services", nil)
	if missing.str("message") != "Workspace 'nowhere' not found" {
		t.Errorf("unknown workspace: %s", missing.raw)
	}
}

func TestCascadeDeletes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()

	t.Run("consumer takes its credentials, acls, analytics tokens and plugins", func(t *testing.T) {
		f.must(http.StatusCreated, "POST", "/consumers", map[string]any{"username": "erin"})
		f.must(http.StatusCreated, "POST", "/consumers/erin/key-auth", map[string]any{"key": "erins-key-000000"})
		f.must(http.StatusCreated, "POST", "/consumers/erin/basic-auth", map[string]any{"username": "erin", "password": "pw"})
		f.must(http.StatusCreated, "POST", "/consumers/erin/acls", map[string]any{"group": "g"})
		f.must(http.StatusCreated, "POST", "/consumers/erin/plugins", map[string]any{"name": "rate-limiting", "config": map[string]any{"minute": 3}})
		f.must(http.StatusCreated, "POST", "/consumers/erin/analytics-tokens", map[string]any{"name": "erins-dashboard"})
		f.must(http.StatusNoContent, "DELETE", "/consumers/erin", nil)
		for _, k := range []entity.Kind{entity.KindKeyAuth, entity.KindBasicAuth, entity.KindACL, entity.KindAnalyticsToken, entity.KindPlugin} {
			if n := f.count(k, "default"); n != 0 {
				t.Errorf("%d %s left", n, k)
			}
		}
	})

	t.Run("service with routes is refused; plugins go with it", func(t *testing.T) {
		f.must(http.StatusCreated, "POST", "/services", map[string]any{"name": "s", "host": "s.internal"})
		rt := f.must(http.StatusCreated, "POST", "/services/s/routes", map[string]any{"name": "r", "paths": []string{"/"}})
		f.must(http.StatusCreated, "POST", "/services/s/plugins", map[string]any{"name": "key-auth"})
		f.must(http.StatusCreated, "POST", "/routes/r/plugins", map[string]any{"name": "key-auth"})
		r := f.must(http.StatusBadRequest, "DELETE", "/services/s", nil)
		if r.get("code") != 4.0 || r.str("fields.@referenced_by") != "routes" ||
			r.str("message") != "an existing 'routes' entity references this 'services' entity" {
			t.Errorf("body %s", r.raw)
		}
		f.must(http.StatusNoContent, "DELETE", "/routes/"+rt.str("id"), nil)
		if n := f.count(entity.KindPlugin, "default"); n != 1 {
			t.Errorf("%d plugins after route delete, want 1", n)
		}
		f.must(http.StatusNoContent, "DELETE", "/services/s", nil)
		if n := f.count(entity.KindPlugin, "default"); n != 0 {
			t.Errorf("%d plugins after service delete", n)
		}
	})

	t.Run("upstream takes its targets", func(t *testing.T) {
		f.must(http.StatusCreated, "POST", "/upstreams", map[string]any{"name": "u"})
		f.must(http.StatusCreated, "POST", "/upstreams/u/targets", map[string]any{"target": "10.1.1.1:80"})
		f.must(http.StatusNoContent, "DELETE", "/upstreams/u", nil)
		if n := f.count(entity.KindTarget, "default"); n != 0 {
			t.Errorf("%d targets left", n)
		}
		if _, err := f.store.GetByKey(ctx, entity.KindUpstream, "default", "name", "u"); !isNotFound(err) {
			t.Errorf("upstream still there: %v", err)
		}
	})
}
