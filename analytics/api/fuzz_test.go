package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzParams sends arbitrary query strings to every endpoint as every
// kind of caller: the answer is a success, a 400 that names every bad
// parameter in its fields and its message, or a 403, and never anything
// else (a panic would be a 500).
func FuzzParams(f *testing.F) {
	seeds := []string{
		"", "range=1h", "from=2026-03-02T00:00:00Z&to=2026-03-02T10:00:00Z&bucket=5m",
		"from=1772409600&to=1772445600", "group_by=service&order_by=errors&limit=5",
		"service=orders&route=r-a1&consumer=alice%40acme&node=n1&method=get&status=503&status_class=5xx",
		"errors=true&error_class=timeout&gateway_latency=true", "per=1h&range=7d", "kind=consumers",
		"workspace=globex", "consumer=bob", "bucket=1m&range=400d", "range=401d", "range=1h&from=0",
		"limit=0&limit=1", "=&&=x&%zz=%zz", "a;b=c", "from=9999999999999999999999", "range=-5m",
		"group_by=%00&order_by=%ff", "service=" + strings.Repeat("%27", 300), "status_class=0xx",
		"bucket=1.5h", "range=1e3h", "to=1969-12-31T23:59:59Z",
	}
	api, err := New(Config{Store: emptyStore{}, Directory: testDirectory(), AdminToken: adminToken, Now: func() time.Time { return testNow }})
	if err != nil {
		f.Fatal(err)
	}
	for i, s := range seeds {
		for ep := range api.endpoints {
			f.Add(uint8(ep), uint8(i%3), s)
		}
	}
	tokens := []string{adminToken, acmeToken, aliceToken}
	f.Fuzz(func(t *testing.T, ep, tok uint8, raw string) {
		e := api.endpoints[int(ep)%len(api.endpoints)]
		req := httptest.NewRequest(http.MethodGet, e.path, nil)
		req.URL.RawQuery = raw
		req.Header.Set("Authorization", "Bearer "+tokens[int(tok)%len(tokens)])
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		var body errorBody
		switch rec.Code {
		case http.StatusOK:
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s?%s: 200 with %q", e.path, raw, rec.Body)
			}
		case http.StatusForbidden:
		case http.StatusBadRequest:
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if len(body.Fields) == 0 {
				t.Fatalf("%s?%s: 400 naming no field: %s", e.path, raw, rec.Body)
			}
			for k, v := range body.Fields {
				if k == "" || v == "" || !strings.Contains(body.Message, k+": "+v) {
					t.Fatalf("%s?%s: field %q (%q) not in the message %q", e.path, raw, k, v, body.Message)
				}
			}
		default:
			t.Fatalf("%s?%s: status %d: %s", e.path, raw, rec.Code, rec.Body)
		}
	})
}
