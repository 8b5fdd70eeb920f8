package declarative

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no input makes Parse panic, and whatever Parse accepts,
// Entities, Export and the renderers handle without panicking.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yml", "testdata/*.json", "testdata/bad/*.yml", "testdata/bad/*.json"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte(`{"_format_version":"3.0","services":[{"name":"a","host":"h","routes":[{"paths":["/"]}]}]}`))
	f.Add([]byte("_format_version: \"1.1\"\nroutes:\n- paths: [/a/(b)]\n"))
	f.Add([]byte("a: &a [*a]"))
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse error %T is not an *Error", err)
			}
			return
		}
		withoutBcrypt(file)
		ents, err := file.Entities("", reg, testNow)
		if err != nil {
			return
		}
		out := Export(ents, "")
		if _, err := out.YAML(); err != nil {
			t.Fatalf("YAML of an export: %v", err)
		}
		if _, err := out.JSON(); err != nil {
			t.Fatalf("JSON of an export: %v", err)
		}
	})
}

// withoutBcrypt swaps plaintext basic-auth passwords for a ready hash:
// bcrypt is deliberately slow (tens of milliseconds per password, far more
// under fuzzing instrumentation), which would leave the fuzzer a handful of
// executions; hashing is validate's, and tested there.
func withoutBcrypt(f *File) {
	const hash = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
	creds := f.BasicAuthCredentials
	for _, c := range f.Consumers {
		creds = append(creds, c.BasicAuthCredentials...)
	}
	for _, c := range creds {
		if c.Password != "" {
			c.Password, c.PasswordHash = "", hash
		}
	}
}
