package declarative

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestBadFixtures: every file in testdata/bad is refused, with the
// problems in its .golden file (rewritten by go test -update).
func TestBadFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range files {
		ext := filepath.Ext(name)
		if ext != ".yml" && ext != ".json" {
			continue
		}
		n++
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			got := render(t, data)
			golden := strings.TrimSuffix(name, ext) + ext + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("problems differ from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d bad fixtures found", n)
	}
}

// render parses and flattens data, which must fail, and renders the error
// as Error() and Fields() print it.
func render(t *testing.T, data []byte) string {
	t.Helper()
	f, err := Parse(data)
	if err == nil {
		_, err = f.Entities("", testRegistry(), testNow)
	}
	if err == nil {
		t.Fatal("accepted")
	}
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("error %T %v is not an *Error", err, err)
	}
	fields, err := json.MarshalIndent(de.Fields(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString(de.Error())
	b.WriteString("\n\n")
	for _, p := range de.Problems {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(fields)
	b.WriteByte('\n')
	return b.String()
}
