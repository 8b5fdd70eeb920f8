package admin

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
)

var generatedToken = regexp.MustCompile(`^tga_[0-9A-Za-z]{40}$`)

// noSecret fails when a response shows a token or its hash.
func noSecret(t *testing.T, what string, r response, tokens ...string) {
	t.Helper()
	for _, tok := range tokens {
		if strings.Contains(string(r.raw), tok) {
			t.Errorf("%s: full token in response: %s", what, r.raw)
		}
		if strings.Contains(string(r.raw), validate.HashKey(tok)) {
			t.Errorf("%s: token hash in response: %s", what, r.raw)
		}
	}
	if strings.Contains(string(r.raw), "token_hash") {
		t.Errorf("%s: token_hash in response: %s", what, r.raw)
	}
}

func TestAnalyticsTokenCreate(t *testing.T) {
	f := newFixture(t)

	t.Run("generated token is shown once", func(t *testing.T) {
		r := f.must(http.StatusCreated, "POST", "/analytics-tokens", map[string]any{"name": "grafana"})
		tok := r.str("token")
		if !generatedToken.MatchString(tok) {
			t.Fatalf("generated token %q, want tga_ and 40 base62 characters: %s", tok, r.raw)
		}
		if r.str("token_prefix") != tok[:8] || r.get("token_hash") != nil || r.get("consumer") != nil {
			t.Errorf("creation response: %s", r.raw)
		}
		stored, err := f.store.Get(t.Context(), entity.KindAnalyticsToken, "default", r.str("id"))
		if err != nil {
			t.Fatal(err)
		}
		if a := stored.(*entity.AnalyticsToken); a.Token != "" || a.TokenHash != validate.HashKey(tok) {
			t.Errorf("stored %+v: want the hash of the token and never the token", a)
		}
	})

	t.Run("given token", func(t *testing.T) {
		const tok = "my-own-analytics-token-0001"
		r := f.must(http.StatusCreated, "POST", "/analytics-tokens", map[string]any{"token": tok, "expires_at": 1900000000})
		if r.str("token") != tok || r.str("token_prefix") != "my-own-a" || r.get("expires_at") != 1900000000.0 || r.get("name") != nil {
			t.Errorf("creation response: %s", r.raw)
		}
	})

	t.Run("form body", func(t *testing.T) {
		r := f.must(http.StatusCreated, "POST", "/analytics-tokens", form{"name": {"form-made"}, "expires_at": {"1900000000"}})
		if r.str("name") != "form-made" || r.get("expires_at") != 1900000000.0 || !generatedToken.MatchString(r.str("token")) {
			t.Errorf("creation response: %s", r.raw)
		}
	})

	t.Run("hash and prefix in input are ignored", func(t *testing.T) {
		r := f.must(http.StatusCreated, "POST", "/analytics-tokens", map[string]any{
			"token_hash": validate.HashKey("x"), "token_prefix": "forged",
		})
		tok := r.str("token")
		stored, err := f.store.Get(t.Context(), entity.KindAnalyticsToken, "default", r.str("id"))
		if err != nil {
			t.Fatal(err)
		}
		if a := stored.(*entity.AnalyticsToken); !generatedToken.MatchString(tok) || a.TokenHash != validate.HashKey(tok) || a.TokenPrefix != tok[:8] {
			t.Errorf("stored %+v for response %s", a, r.raw)
		}
	})

	t.Run("bad fields are all named", func(t *testing.T) {
		r := f.must(http.StatusBadRequest, "POST", "/analytics-tokens", map[string]any{
			"token": "short", "expires_at": -1, "name": "a b",
		})
		for _, field := range []string{"token", "expires_at", "name"} {
			if r.str("fields."+field) == "" {
				t.Errorf("no error for %s: %s", field, r.raw)
			}
		}
		if r.get("code") != 2.0 {
			t.Errorf("body %s", r.raw)
		}
	})

	t.Run("unknown consumer", func(t *testing.T) {
		const missing = "6f1f8a0e-4d0c-4b38-9a52-7a4bd2d0b0a1"
		r := f.must(http.StatusBadRequest, "POST", "/analytics-tokens", map[string]any{"consumer": map[string]any{"id": missing}})
		if r.get("code") != 4.0 || r.str("fields.consumer.id") != missing {
			t.Errorf("body %s", r.raw)
		}
		r = f.must(http.StatusBadRequest, "POST", "/analytics-tokens", map[string]any{"consumer": map[string]any{"username": "nobody"}})
		if r.get("code") != 13.0 {
			t.Errorf("body %s", r.raw)
		}
		f.must(http.StatusNotFound, "POST", "/consumers/nobody/analytics-tokens", nil)
		f.must(http.StatusNotFound, "GET", "/consumers/nobody/analytics-tokens", nil)
		if n := f.count(entity.KindAnalyticsToken, "default"); n != 4 {
			t.Errorf("%d tokens, want the 4 created above", n)
		}
	})
}

func TestAnalyticsTokenReadsMask(t *testing.T) {
	f := newFixture(t)
	f.must(http.StatusCreated, "POST", "/consumers", map[string]any{"username": "carol"})
	const given = "carols-analytics-token-0001"
	consumerTok := f.must(http.StatusCreated, "POST", "/consumers/carol/analytics-tokens", map[string]any{"name": "carol-reports", "token": given})
	providerTok := f.must(http.StatusCreated, "POST", "/analytics-tokens", map[string]any{"name": "provider"})
	gen := providerTok.str("token")
	id := consumerTok.str("id")

	reads := map[string]response{
		"get by id":        f.must(http.StatusOK, "GET", "/analytics-tokens/"+id, nil),
		"get by name":      f.must(http.StatusOK, "GET", "/analytics-tokens/carol-reports", nil),
		"get nested":       f.must(http.StatusOK, "GET", "/consumers/carol/analytics-tokens/carol-reports", nil),
		"list all":         f.must(http.StatusOK, "GET", "/analytics-tokens", nil),
		"list nested":      f.must(http.StatusOK, "GET", "/consumers/carol/analytics-tokens", nil),
		"patch":            f.must(http.StatusOK, "PATCH", "/analytics-tokens/provider", map[string]any{"expires_at": 1900000000}),
		"put":              f.must(http.StatusOK, "PUT", "/analytics-tokens/"+id, map[string]any{"name": "carol-reports", "consumer": map[string]any{"id": consumerTok.str("consumer.id")}}),
		"foreign consumer": f.must(http.StatusOK, "GET", "/analytics-tokens/"+id+"/consumer", nil),
	}
	for name, r := range reads {
		noSecret(t, name, r, given, gen)
	}
	if got := reads["get by name"]; got.str("id") != id || got.str("token_prefix") != given[:8] || got.str("consumer.id") == "" {
		t.Errorf("get by name: %s", got.raw)
	}
	if d := reads["list nested"].data(); len(d) != 1 || d[0]["id"] != id {
		t.Errorf("nested list: %s", reads["list nested"].raw)
	}
	if d := reads["list all"].data(); len(d) != 2 {
		t.Errorf("list: %s", reads["list all"].raw)
	}
	if reads["foreign consumer"].str("username") != "carol" {
		t.Errorf("foreign consumer: %s", reads["foreign consumer"].raw)
	}
	f.must(http.StatusNotFound, "GET", "/consumers/carol/analytics-tokens/provider", nil)

	t.Run("patch and put without token keep it", func(t *testing.T) {
		for _, tok := range []string{given, gen} {
			e, err := f.store.GetByKey(t.Context(), entity.KindAnalyticsToken, "default", "token", validate.HashKey(tok))
			if err != nil {
				t.Errorf("token %s…: %v", tok[:8], err)
				continue
			}
			if tok == gen && e.(*entity.AnalyticsToken).ExpiresAt != 1900000000 {
				t.Errorf("patch not stored: %+v", e)
			}
		}
	})

	t.Run("patch with a token replaces it", func(t *testing.T) {
		const next = "carols-analytics-token-0002"
		f.must(http.StatusOK, "PATCH", "/analytics-tokens/carol-reports", map[string]any{"token": next})
		if _, err := f.store.GetByKey(t.Context(), entity.KindAnalyticsToken, "default", "token", validate.HashKey(given)); !isNotFound(err) {
			t.Errorf("old token still stored: %v", err)
		}
		if _, err := f.store.GetByKey(t.Context(), entity.KindAnalyticsToken, "default", "token", validate.HashKey(next)); err != nil {
			t.Errorf("new token: %v", err)
		}
	})

	t.Run("put creates by name and shows the generated token", func(t *testing.T) {
		r := f.must(http.StatusOK, "PUT", "/analytics-tokens/ci", nil)
		if r.str("name") != "ci" || !generatedToken.MatchString(r.str("token")) {
			t.Errorf("PUT create: %s", r.raw)
		}
	})

	t.Run("delete", func(t *testing.T) {
		f.must(http.StatusNoContent, "DELETE", "/consumers/carol/analytics-tokens/carol-reports", nil)
		f.must(http.StatusNotFound, "GET", "/analytics-tokens/"+id, nil)
		f.must(http.StatusNoContent, "DELETE", "/analytics-tokens/provider", nil)
		f.must(http.StatusNotFound, "GET", "/analytics-tokens/provider", nil)
	})
}

func TestAnalyticsTokenUniqueness(t *testing.T) {
	f := newFixture(t)
	const tok = "a-shared-analytics-token-01"
	f.must(http.StatusCreated, "POST", "/analytics-tokens", map[string]any{"name": "dash", "token": tok})

	r := f.must(http.StatusConflict, "POST", "/analytics-tokens", map[string]any{"name": "dash"})
	if r.get("code") != 5.0 || r.str("fields.name") != "dash" {
		t.Errorf("name conflict: %s", r.raw)
	}
	r = f.must(http.StatusConflict, "POST", "/analytics-tokens", map[string]any{"name": "other", "token": tok})
	if r.get("code") != 5.0 || r.str("fields.token") != tok {
		t.Errorf("token conflict: %s", r.raw)
	}
	// Unnamed tokens do not collide.
	f.must(http.StatusCreated, "POST", "/analytics-tokens", nil)
	f.must(http.StatusCreated, "POST", "/analytics-tokens", nil)
}

func TestAnalyticsTokenWorkspaces(t *testing.T) {
	f := newFixture(t)
	f.must(http.StatusCreated, "POST", "/workspaces", map[string]any{"name": "team-a"})
	f.must(http.StatusCreated, "POST", "/team-a/consumers", map[string]any{"username": "dave"})

	a := f.must(http.StatusCreated, "POST", "/team-a/analytics-tokens", map[string]any{"name": "dash"})
	// The same name in another workspace is another token.
	d := f.must(http.StatusCreated, "POST", "/analytics-tokens", map[string]any{"name": "dash"})
	if a.str("id") == d.str("id") {
		t.Fatal("one token in two workspaces")
	}
	c := f.must(http.StatusCreated, "POST", "/team-a/consumers/dave/analytics-tokens", nil)
	if !generatedToken.MatchString(c.str("token")) || c.str("consumer.id") == "" {
		t.Errorf("consumer token: %s", c.raw)
	}

	if got := f.must(http.StatusOK, "GET", "/team-a/analytics-tokens/dash", nil); got.str("id") != a.str("id") {
		t.Errorf("team-a dash: %s", got.raw)
	}
	if l := f.must(http.StatusOK, "GET", "/team-a/analytics-tokens", nil); len(l.data()) != 2 {
		t.Errorf("team-a list: %s", l.raw)
	}
	if l := f.must(http.StatusOK, "GET", "/analytics-tokens", nil); len(l.data()) != 1 {
		t.Errorf("default list: %s", l.raw)
	}
	// Neither the consumer nor its tokens are reachable from another workspace.
	f.must(http.StatusNotFound, "GET", "/analytics-tokens/"+c.str("id"), nil)
	f.must(http.StatusNotFound, "POST", "/consumers/dave/analytics-tokens", nil)
	r := f.must(http.StatusBadRequest, "POST", "/analytics-tokens", map[string]any{"consumer": map[string]any{"id": c.str("consumer.id")}})
	if r.get("code") != 4.0 {
		t.Errorf("cross-workspace consumer: %s", r.raw)
	}

	t.Run("a workspace with tokens is not empty", func(t *testing.T) {
		f.must(http.StatusNoContent, "DELETE", "/team-a/consumers/dave", nil)
		if n := f.count(entity.KindAnalyticsToken, "team-a"); n != 1 {
			t.Fatalf("%d team-a tokens after the consumer delete, want the provider token", n)
		}
		f.must(http.StatusBadRequest, "DELETE", "/workspaces/team-a", nil)
		f.must(http.StatusNoContent, "DELETE", "/team-a/analytics-tokens/dash", nil)
		f.must(http.StatusNoContent, "DELETE", "/workspaces/team-a", nil)
	})

	t.Run("the collection is not a workspace name", func(t *testing.T) {
		r := f.must(http.StatusBadRequest, "POST", "/workspaces", map[string]any{"name": "analytics-tokens"})
		if r.str("fields.name") != "'analytics-tokens' is a reserved name" {
			t.Errorf("body %s", r.raw)
		}
	})
}
