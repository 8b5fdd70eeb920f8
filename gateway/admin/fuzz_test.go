package admin

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tollgate/tollgate/gateway/store/memstore"
)

// FuzzAdminJSON posts arbitrary bodies to the write endpoints: whatever the
// input, the answer is a client error or a success, never a 5xx (which is
// also what a recovered panic becomes).
func FuzzAdminJSON(f *testing.F) {
	seeds := []string{
		`{"name":"s","url":"http://example.com"}`,
		`{"name":"s","host":"example.com","port":"80","retries":-1,"tags":[1]}`,
		`{"paths":["/a"],"service":{"name":"svc"}}`,
		`{"paths":["/a"],"service":{"id":"6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}}`,
		`{"name":"rate-limiting","config":{"minute":5,"policy":"cluster"}}`,
		`{"name":"rate-limiting","config":{"minute":"x","second":1e400}}`,
		`{"name":"key-auth","config":null,"route":{"name":"r"},"protocols":["http",1]}`,
		`{"key":"abc","ttl":1.5}`,
		`{"username":"u","custom_id":null}`,
		`{"healthchecks":{"active":{"healthy":{"http_statuses":[200,"x"]}}}}`,
		`{"headers":{"x":["a"],"y":"b"},"hosts":"h"}`,
		`{"id":"00000000-0000-0000-0000-000000000000","tags":["a","b/c"]}`,
		`[]`, `null`, `{`, ``, `{"a":{"b":{"c":{"d":[[[[]]]]}}}}`,
		`{"port":99999999999999999999999}`,
		`{"name":"t2","token":"abcdefghijklmnopqrstu","expires_at":-1,"consumer":{"username":"x"}}`,
		`{"token":"short","token_hash":"00","consumer":null}`,
	}
	for i, s := range seeds {
		for path := 0; path < 5; path++ {
			f.Add(uint8(path), uint8(i%3), []byte(s))
		}
	}
	f.Add(uint8(0), uint8(1), []byte("name=a&url=http://x&paths[]=/a&config.minute=5&tags[99999]=x&a..b=c"))
	f.Add(uint8(2), uint8(1), []byte("name=rate-limiting&config.minute=abc&config.second=&config=1"))

	st := memstore.New()
	f.Cleanup(func() { _ = st.Close() })
	h, err := New(Config{Store: st, Plugins: testRegistry()})
	if err != nil {
		f.Fatal(err)
	}
	setup := []struct{ path, body string }{
		{"/services", `{"name":"svc","host":"svc.internal"}`},
		{"/services/svc/routes", `{"name":"r","paths":["/"]}`},
		{"/consumers", `{"username":"x"}`},
		{"/analytics-tokens", `{"name":"t"}`},
	}
	for _, s := range setup {
		req := httptest.NewRequest(http.MethodPost, s.path, bytes.NewReader([]byte(s.body)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			f.Fatalf("setup %s: %d %s", s.path, rec.Code, rec.Body)
		}
	}

	paths := []string{"/services", "/routes", "/plugins", "/consumers/x/key-auth", "/consumers/x/analytics-tokens"}
	types := []string{"application/json", "application/x-www-form-urlencoded", ""}
	f.Fuzz(func(t *testing.T, path, ctype uint8, body []byte) {
		p := paths[int(path)%len(paths)]
		for _, method := range []string{http.MethodPost, http.MethodPatch} {
			target := p
			if method == http.MethodPatch {
				// Patch entities that exist, to fuzz merging too.
				switch p {
				case "/services":
					target = "/services/svc"
				case "/routes":
					target = "/routes/r"
				case "/plugins":
					continue
				case "/consumers/x/key-auth":
					target = "/consumers/x"
				case "/consumers/x/analytics-tokens":
					target = "/analytics-tokens/t"
				}
			}
			req := httptest.NewRequest(method, target, bytes.NewReader(body))
			if ct := types[int(ctype)%len(types)]; ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s %q: %d %s", method, target, body, rec.Code, rec.Body)
			}
		}
	})
}
