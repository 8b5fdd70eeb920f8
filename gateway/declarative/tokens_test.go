package declarative

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/memstore"
	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
)

const twoConsumers = `_format_version: "3.0"
consumers:
- username: alice
- username: bob
services:
- name: orders
  host: orders.internal
`

// tokenStore is a store holding the entities of twoConsumers in the
// default workspace, a provider token, a token for each consumer, and a
// token of another workspace.
func tokenStore(t *testing.T) (store.Store, map[string]*entity.AnalyticsToken) {
	t.Helper()
	ctx := context.Background()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	if err := Apply(ctx, st, mustParse(t, []byte(twoConsumers)), "", testRegistry(), testNow); err != nil {
		t.Fatal(err)
	}
	consumerID := func(username string) string {
		c, err := st.GetByKey(ctx, entity.KindConsumer, entity.DefaultWorkspace, "username", username)
		if err != nil {
			t.Fatal(err)
		}
		return c.GetMeta().ID
	}
	tokens := map[string]*entity.AnalyticsToken{
		"provider": {},
		"alice":    {Consumer: &entity.Ref{ID: consumerID("alice")}},
		"bob":      {Consumer: &entity.Ref{ID: consumerID("bob")}},
		"other-ws": {},
	}
	for name, tok := range tokens {
		tok.ID, tok.Name, tok.Workspace = uuid.NewString(), name, entity.DefaultWorkspace
		if name == "other-ws" {
			tok.Workspace = "team-b"
		}
		tok.TokenHash, tok.TokenPrefix = validate.HashKey("secret-of-"+name), "secret-o"
		if err := st.Create(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	return st, tokens
}

// tokenNames lists the names of the analytics tokens of ws.
func tokenNames(t *testing.T, st store.Store, ws string) []string {
	t.Helper()
	page, err := st.List(context.Background(), entity.KindAnalyticsToken, ws, store.ListOptions{Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range page.Entities {
		names = append(names, e.(*entity.AnalyticsToken).Name)
	}
	slices.Sort(names)
	return names
}

func TestApplyKeepsAnalyticsTokens(t *testing.T) {
	st, tokens := tokenStore(t)
	ctx := context.Background()

	// The same file again, then one that changes everything but the
	// consumers.
	changed := strings.Replace(twoConsumers, "orders", "billing", -1)
	for _, file := range []string{twoConsumers, changed} {
		if err := Apply(ctx, st, mustParse(t, []byte(file)), "", testRegistry(), testNow); err != nil {
			t.Fatal(err)
		}
		if got, want := tokenNames(t, st, entity.DefaultWorkspace), []string{"alice", "bob", "provider"}; !slices.Equal(got, want) {
			t.Errorf("tokens after import: %v, want %v", got, want)
		}
	}
	if got := tokenNames(t, st, "team-b"); !slices.Equal(got, []string{"other-ws"}) {
		t.Errorf("another workspace's tokens: %v", got)
	}
	// Kept as they were: same id, same hash.
	got, err := st.GetByKey(ctx, entity.KindAnalyticsToken, entity.DefaultWorkspace, "token", validate.HashKey("secret-of-alice"))
	if err != nil {
		t.Fatal(err)
	}
	if got.GetMeta().ID != tokens["alice"].ID {
		t.Errorf("alice's token changed id: %+v", got)
	}
	if _, err := st.GetByKey(ctx, entity.KindService, entity.DefaultWorkspace, "name", "orders"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the import did not replace the configuration: %v", err)
	}
}

func TestApplyDropsTokensOfRemovedConsumers(t *testing.T) {
	st, _ := tokenStore(t)
	ctx := context.Background()
	onlyAlice := "_format_version: \"3.0\"\nconsumers:\n- username: alice\n"
	if err := Apply(ctx, st, mustParse(t, []byte(onlyAlice)), "", testRegistry(), testNow); err != nil {
		t.Fatal(err)
	}
	if got, want := tokenNames(t, st, entity.DefaultWorkspace), []string{"alice", "provider"}; !slices.Equal(got, want) {
		t.Errorf("tokens after removing bob: %v, want %v", got, want)
	}
	empty := "_format_version: \"3.0\"\n"
	if err := Apply(ctx, st, mustParse(t, []byte(empty)), "", testRegistry(), testNow); err != nil {
		t.Fatal(err)
	}
	if got, want := tokenNames(t, st, entity.DefaultWorkspace), []string{"provider"}; !slices.Equal(got, want) {
		t.Errorf("tokens after an empty file: %v, want %v", got, want)
	}
}

func TestExportLeavesOutAnalyticsTokens(t *testing.T) {
	st, _ := tokenStore(t)
	snap, err := st.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := Export(snap.Entities, entity.DefaultWorkspace)
	for _, render := range []func() ([]byte, error){f.YAML, f.JSON} {
		out, err := render()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"token", "secret-o", "provider"} {
			if strings.Contains(string(out), s) {
				t.Errorf("export mentions %q:\n%s", s, out)
			}
		}
		if !strings.Contains(string(out), "alice") {
			t.Errorf("export lost the consumers:\n%s", out)
		}
	}
	// Re-importing the export keeps the tokens it left out.
	if err := Apply(context.Background(), st, f, "", testRegistry(), testNow); err != nil {
		t.Fatal(err)
	}
	if got := tokenNames(t, st, entity.DefaultWorkspace); len(got) != 3 {
		t.Errorf("tokens after re-importing the export: %v", got)
	}
}

func TestAnalyticsTokensAreNotAFileKey(t *testing.T) {
	_, err := Parse([]byte("_format_version: \"3.0\"\nanalytics_tokens:\n- name: x\n"))
	if err == nil {
		t.Fatal("analytics_tokens in a file must be refused")
	}
	if !strings.Contains(err.Error(), "analytics_tokens") {
		t.Errorf("error does not name the key: %v", err)
	}
}
