package admin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/entity"
)

const configYAML = `_format_version: "3.0"
services:
- name: orders
  url: http://orders.internal:8080/v1
  routes:
  - name: orders-api
    paths: [/orders]
  plugins:
  - name: rate-limiting
    config:
      minute: 100
consumers:
- username: alice
  keyauth_credentials:
  - key: alice-secret-key-0001
  basicauth_credentials:
  - username: alice
    password: correct horse battery staple
`

func TestConfigImportExport(t *testing.T) {
	f := newFixture(t)
	// Something the import must replace.
	f.must(http.StatusCreated, "POST", "/consumers", map[string]any{"username": "old"})

	imp := f.must(http.StatusCreated, "POST", "/config", rawBody{"application/yaml", configYAML})
	if _, ok := imp.get("services").(map[string]any); !ok {
		t.Fatalf("import response: %s", imp.raw)
	}
	if strings.Contains(string(imp.raw), "alice-secret-key-0001") || strings.Contains(string(imp.raw), "battery staple") {
		t.Errorf("import response shows a secret: %s", imp.raw)
	}
	f.must(http.StatusNotFound, "GET", "/consumers/old", nil)
	f.must(http.StatusOK, "GET", "/services/orders/routes/orders-api", nil)
	// An imported key is found by its value.
	k := f.must(http.StatusOK, "GET", "/key-auths/alice-secret-key-0001", nil)
	if strings.Contains(string(k.raw), "alice-secret-key-0001") {
		t.Errorf("key in response: %s", k.raw)
	}

	t.Run("export is YAML by default and never shows secrets", func(t *testing.T) {
		r := f.do("GET", "/config", nil)
		if r.status != http.StatusOK || !strings.Contains(r.header.Get("Content-Type"), "yaml") {
			t.Fatalf("export: %d %s", r.status, r.header.Get("Content-Type"))
		}
		body := string(r.raw)
		if !strings.Contains(body, "_format_version") || !strings.Contains(body, "orders-api") {
			t.Errorf("export: %s", body)
		}
		if strings.Contains(body, "alice-secret-key-0001") || strings.Contains(body, "battery staple") {
			t.Errorf("export shows a secret: %s", body)
		}

		// A re-import of the export keeps every credential working.
		f.must(http.StatusCreated, "POST", "/config", rawBody{"application/yaml", body})
		f.must(http.StatusOK, "GET", "/key-auths/alice-secret-key-0001", nil)
		f.must(http.StatusOK, "GET", "/basic-auths/alice", nil)
	})

	t.Run("export as JSON", func(t *testing.T) {
		for _, r := range []response{
			f.do("GET", "/config?format=json", nil),
			f.do("GET", "/config", nil, "Accept", "application/json"),
		} {
			if r.status != http.StatusOK || r.str("_format_version") != "3.0" {
				t.Errorf("JSON export: %d %s", r.status, r.raw)
			}
			if strings.Contains(string(r.raw), "alice-secret-key-0001") {
				t.Errorf("export shows a key: %s", r.raw)
			}
		}
	})

	t.Run("import forms", func(t *testing.T) {
		small := "_format_version: \"3.0\"\nconsumers:\n- username: formed\n"
		js, _ := json.Marshal(map[string]any{"_format_version": "3.0", "consumers": []any{map[string]any{"username": "jsoned"}}})
		cases := []struct {
			name string
			body any
			user string
		}{
			{"form field", form{"config": {small}}, "formed"},
			{"multipart field", newMultipart(t, map[string]string{"config": small}, nil), "formed"},
			{"json body", rawBody{"application/json", string(js)}, "jsoned"},
			{"json config member", map[string]any{"config": small}, "formed"},
			{"no content type", rawBody{"", small}, "formed"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f.must(http.StatusCreated, "POST", "/config", tc.body)
				f.must(http.StatusOK, "GET", "/consumers/"+tc.user, nil)
				if n := f.count(entity.KindConsumer, "default"); n != 1 {
					t.Errorf("%d consumers after import, want 1", n)
				}
			})
		}
	})

	t.Run("invalid configuration", func(t *testing.T) {
		bad := "_format_version: \"3.0\"\nservices:\n- name: s\n  port: eighty\n  host: h.internal\n"
		before := f.count(entity.KindConsumer, "default")
		r := f.must(http.StatusBadRequest, "POST", "/config", rawBody{"application/yaml", bad})
		if r.get("code") != 14.0 || r.str("name") != "invalid declarative configuration" ||
			!strings.HasPrefix(r.str("message"), "declarative config is invalid") {
			t.Errorf("body %s", r.raw)
		}
		if _, ok := r.get("fields").(map[string]any); !ok {
			t.Errorf("fields: %s", r.raw)
		}
		if after := f.count(entity.KindConsumer, "default"); after != before {
			t.Errorf("a refused import changed the config")
		}
		for _, body := range []string{"", "{", "- just\n- a list\n"} {
			r := f.do("POST", "/config", rawBody{"application/yaml", body})
			if r.status != http.StatusBadRequest || r.get("code") != 14.0 {
				t.Errorf("%q: %d %s", body, r.status, r.raw)
			}
		}
	})

	t.Run("workspace scoped", func(t *testing.T) {
		f.must(http.StatusCreated, "POST", "/workspaces", map[string]any{"name": "team"})
		f.must(http.StatusCreated, "POST", "/team/config", rawBody{"application/yaml", "_format_version: \"3.0\"\nconsumers:\n- username: teamuser\n"})
		f.must(http.StatusOK, "GET", "/team/consumers/teamuser", nil)
		f.must(http.StatusNotFound, "GET", "/consumers/teamuser", nil)
		r := f.must(http.StatusOK, "GET", "/team/config?format=json", nil)
		if !strings.Contains(string(r.raw), "teamuser") || strings.Contains(string(r.raw), "formed") {
			t.Errorf("team export: %s", r.raw)
		}
		q := url.Values{"format": {"json"}}
		r = f.must(http.StatusOK, "GET", "/config?"+q.Encode(), nil)
		if strings.Contains(string(r.raw), "teamuser") {
			t.Errorf("default export shows another workspace: %s", r.raw)
		}
	})
}

func TestConfigImportKeepsAnalyticsTokens(t *testing.T) {
	f := newFixture(t)
	f.must(http.StatusCreated, "POST", "/config", rawBody{"application/yaml", configYAML})
	f.must(http.StatusCreated, "POST", "/consumers", map[string]any{"username": "bob"})
	provider := f.must(http.StatusCreated, "POST", "/analytics-tokens", map[string]any{"name": "provider"})
	alice := f.must(http.StatusCreated, "POST", "/consumers/alice/analytics-tokens", map[string]any{"name": "alice-dash"})
	f.must(http.StatusCreated, "POST", "/consumers/bob/analytics-tokens", map[string]any{"name": "bob-dash"})

	t.Run("export has no tokens", func(t *testing.T) {
		for _, r := range []response{f.do("GET", "/config", nil), f.do("GET", "/config?format=json", nil)} {
			body := string(r.raw)
			if r.status != http.StatusOK || !strings.Contains(body, "alice") {
				t.Fatalf("export: %d %s", r.status, body)
			}
			for _, s := range []string{"analytics", "provider", "alice-dash", provider.str("token"), provider.str("token_prefix")} {
				if strings.Contains(body, s) {
					t.Errorf("export shows %q: %s", s, body)
				}
			}
		}
	})

	t.Run("import keeps the workspace's tokens", func(t *testing.T) {
		// configYAML again: bob, created through the API, goes.
		f.must(http.StatusCreated, "POST", "/config", rawBody{"application/yaml", configYAML})
		f.must(http.StatusNotFound, "GET", "/consumers/bob", nil)
		f.must(http.StatusOK, "GET", "/analytics-tokens/"+provider.str("id"), nil)
		got := f.must(http.StatusOK, "GET", "/consumers/alice/analytics-tokens/alice-dash", nil)
		if got.str("id") != alice.str("id") {
			t.Errorf("alice's token: %s", got.raw)
		}
		f.must(http.StatusNotFound, "GET", "/analytics-tokens/bob-dash", nil)
		if n := f.count(entity.KindAnalyticsToken, "default"); n != 2 {
			t.Errorf("%d tokens, want provider and alice-dash", n)
		}
	})

	t.Run("import that removes a consumer drops its tokens", func(t *testing.T) {
		f.must(http.StatusCreated, "POST", "/config", rawBody{"application/yaml", "_format_version: \"3.0\"\n"})
		f.must(http.StatusNotFound, "GET", "/analytics-tokens/alice-dash", nil)
		f.must(http.StatusOK, "GET", "/analytics-tokens/provider", nil)
		if n := f.count(entity.KindAnalyticsToken, "default"); n != 1 {
			t.Errorf("%d tokens, want the provider token", n)
		}
	})
}
