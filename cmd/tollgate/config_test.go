package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const cliConfig = `_format_version: "3.0"
services:
- name: orders
  url: http://127.0.0.1:9/v1
  routes:
  - name: orders-route
    paths: [/orders]
  plugins:
  - name: key-auth
consumers:
- username: alice
  keyauth_credentials:
  - key: alice-key
`

func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// TestConfigCommands validates, imports and exports a declarative file
// offline, as "kong config" does, and checks the export imports again.
func TestConfigCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"TOLLGATE_DATA_DIR": filepath.Join(dir, "data"), "TOLLGATE_LOG_LEVEL": "error"}
	file := filepath.Join(dir, "kong.yml")
	os.WriteFile(file, []byte(cliConfig), 0o600)

	code, out, errOut := runCLI(t, env, "config", "validate", file)
	if code != 0 || !strings.Contains(out, "is valid: 1 services, 1 routes, 1 consumers, 1 keyauth_credentials, 1 plugins") {
		t.Fatalf("validate: %d %q %q", code, out, errOut)
	}
	if code, out, errOut = runCLI(t, env, "config", "import", file); code != 0 {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	exported := filepath.Join(dir, "export.yml")
	if code, out, errOut = runCLI(t, env, "config", "export", exported); code != 0 {
		t.Fatalf("export: %d %q %q", code, out, errOut)
	}
	data, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{"orders-route", "alice", "key_hash:", "_format_version: \"3.0\""} {
		if !strings.Contains(text, want) {
			t.Errorf("export lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "alice-key") {
		t.Errorf("the export reveals a key:\n%s", text)
	}
	if code, out, errOut = runCLI(t, env, "config", "import", exported); code != 0 {
		t.Fatalf("re-import of the export: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "config", "export", "-", "--format", "json")
	if code != 0 || !strings.Contains(out, `"orders-route"`) {
		t.Fatalf("export to stdout as JSON: %d %q", code, out)
	}
}

func TestConfigValidateNamesUnsupportedFeatures(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kong.yml")
	os.WriteFile(file, []byte(cliConfig+"vaults:\n- name: env\n  prefix: env\n"), 0o600)
	code, _, errOut := runCLI(t, nil, "config", "validate", file)
	if code != 1 || !strings.Contains(errOut, "vaults") {
		t.Fatalf("got %d %q, want a failure naming vaults", code, errOut)
	}
}

func TestUnknownCommandShowsUsage(t *testing.T) {
	code, _, errOut := runCLI(t, nil, "serve")
	if code != 2 || !strings.Contains(errOut, "tollgate standalone") {
		t.Fatalf("got %d %q", code, errOut)
	}
}
