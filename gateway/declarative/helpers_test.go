package declarative

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// testNow is the clock of every test: timestamps in results are fixed.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// keyAuthConfig and rateLimitConfig are small stand-ins for the real
// plugins' configs: what matters here is that configs are decoded
// strictly, defaulted and validated through the registry.
type keyAuthConfig struct {
	KeyNames        []string `json:"key_names"`
	HideCredentials bool     `json:"hide_credentials"`
}

type rateLimitConfig struct {
	Second *int   `json:"second,omitempty"`
	Minute *int   `json:"minute,omitempty"`
	Hour   *int   `json:"hour,omitempty"`
	Policy string `json:"policy"`
}

type instance struct{}

func testRegistry() *plugin.Registry {
	return plugin.NewRegistry(
		&plugin.Factory{
			Name:      "key-auth",
			Priority:  1250,
			NewConfig: func() any { return &keyAuthConfig{KeyNames: []string{"apikey"}} },
			New: func(cfg any, _ plugin.Env) (any, error) {
				if len(cfg.(*keyAuthConfig).KeyNames) == 0 {
					return nil, entity.FieldErrors{"key_names": "length must be at least 1"}.Err()
				}
				return instance{}, nil
			},
		},
		&plugin.Factory{
			Name:      "rate-limiting",
			Priority:  910,
			NewConfig: func() any { return &rateLimitConfig{Policy: "local"} },
			New: func(cfg any, _ plugin.Env) (any, error) {
				c := cfg.(*rateLimitConfig)
				if c.Second == nil && c.Minute == nil && c.Hour == nil {
					return nil, entity.FieldErrors{"@entity": "at least one of these fields must be non-empty: 'second', 'minute', 'hour'"}.Err()
				}
				return instance{}, nil
			},
		},
	)
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t *testing.T, data []byte) *File {
	t.Helper()
	f, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func mustEntities(t *testing.T, f *File, ws string) []entity.Entity {
	t.Helper()
	ents, err := f.Entities(ws, testRegistry(), testNow)
	if err != nil {
		t.Fatalf("Entities: %v", err)
	}
	return ents
}

// byKind groups entities by kind.
func byKind(ents []entity.Entity) map[entity.Kind][]entity.Entity {
	m := map[entity.Kind][]entity.Entity{}
	for _, e := range ents {
		m[e.Kind()] = append(m[e.Kind()], e)
	}
	return m
}

// canonical renders entities as comparable JSON lines, sorted by kind and
// id, with the workspace (which JSON leaves out) included.
func canonical(t *testing.T, ents []entity.Entity) []string {
	t.Helper()
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(e.Kind())+" "+e.GetMeta().ID+" "+e.GetMeta().Workspace+" "+string(b))
	}
	sort.Strings(out)
	return out
}

func diffLines(t *testing.T, want, got []string) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("got %d entities, want %d", len(got), len(want))
	}
	for i := 0; i < len(want) && i < len(got); i++ {
		if want[i] != got[i] {
			t.Errorf("entity %d differs:\n got  %s\n want %s", i, got[i], want[i])
		}
	}
}
