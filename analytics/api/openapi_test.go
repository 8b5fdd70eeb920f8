package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The OpenAPI description is written by hand; these tests hold it to the
// handlers: the same paths, the same parameters (compared with the
// endpoints' parameter tables and exercised through the handlers), and
// real responses that validate against the documented schemas.

type oaDoc struct {
	OpenAPI    string                            `json:"openapi"`
	Security   []map[string][]string             `json:"security"`
	Paths      map[string]map[string]oaOperation `json:"paths"`
	Components struct {
		SecuritySchemes map[string]struct{ Type, Scheme string } `json:"securitySchemes"`
		Parameters      map[string]oaParam                       `json:"parameters"`
		Schemas         map[string]*schema                       `json:"schemas"`
		Responses       map[string]oaResponse                    `json:"responses"`
	} `json:"components"`
}

type oaOperation struct {
	OperationID string                `json:"operationId"`
	Parameters  []oaParam             `json:"parameters"`
	Responses   map[string]oaResponse `json:"responses"`
	Security    *[]map[string][]string
}

type oaParam struct {
	Ref         string  `json:"$ref"`
	Name        string  `json:"name"`
	In          string  `json:"in"`
	Description string  `json:"description"`
	Required    bool    `json:"required"`
	Schema      *schema `json:"schema"`
	Example     any     `json:"example"`
}

type oaResponse struct {
	Ref     string                              `json:"$ref"`
	Content map[string]struct{ Schema *schema } `json:"content"`
	Headers map[string]any                      `json:"headers"`
}

// schema is the subset of JSON Schema the description uses.
type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Required             []string           `json:"required"`
	Properties           map[string]*schema `json:"properties"`
	Items                *schema            `json:"items"`
	Enum                 []any              `json:"enum"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Minimum, Maximum     *float64
}

func loadDoc(t *testing.T) *oaDoc {
	t.Helper()
	var d oaDoc
	dec := json.NewDecoder(bytes.NewReader(openapiJSON))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if d.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", d.OpenAPI)
	}
	return &d
}

func (d *oaDoc) param(t *testing.T, p oaParam) oaParam {
	t.Helper()
	if p.Ref == "" {
		return p
	}
	name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
	r, found := d.Components.Parameters[name]
	if !ok || !found {
		t.Fatalf("unresolved parameter %s", p.Ref)
	}
	return r
}

func (d *oaDoc) response(t *testing.T, r oaResponse) oaResponse {
	t.Helper()
	if r.Ref == "" {
		return r
	}
	name, ok := strings.CutPrefix(r.Ref, "#/components/responses/")
	res, found := d.Components.Responses[name]
	if !ok || !found {
		t.Fatalf("unresolved response %s", r.Ref)
	}
	return res
}

func (d *oaDoc) resolve(s *schema) (*schema, error) {
	for s.Ref != "" {
		name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/")
		r := d.Components.Schemas[name]
		if !ok || r == nil {
			return nil, fmt.Errorf("unresolved schema %s", s.Ref)
		}
		s = r
	}
	return s, nil
}

// validate returns every way v (decoded JSON) differs from s, at path.
func (d *oaDoc) validate(path string, s *schema, v any) []string {
	s, err := d.resolve(s)
	if err != nil {
		return []string{path + ": " + err.Error()}
	}
	var bad []string
	fail := func(format string, args ...any) { bad = append(bad, path+": "+fmt.Sprintf(format, args...)) }
	if len(s.Enum) > 0 && !slices.ContainsFunc(s.Enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		fail("%v is not one of %v", v, s.Enum)
	}
	switch s.Type {
	case "":
	case "object":
		o, ok := v.(map[string]any)
		if !ok {
			fail("%T is not an object", v)
			break
		}
		for _, r := range s.Required {
			if _, ok := o[r]; !ok {
				fail("required %q missing", r)
			}
		}
		var extra *schema
		closed := string(s.AdditionalProperties) == "false"
		if len(s.AdditionalProperties) > 0 && !closed {
			extra = new(schema)
			if err := json.Unmarshal(s.AdditionalProperties, extra); err != nil {
				fail("additionalProperties: %v", err)
			}
		}
		keys := make([]string, 0, len(o))
		for k := range o {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch ps, ok := s.Properties[k]; {
			case ok:
				bad = append(bad, d.validate(path+"."+k, ps, o[k])...)
			case closed:
				fail("property %q is not in the schema", k)
			case extra != nil:
				bad = append(bad, d.validate(path+"."+k, extra, o[k])...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			fail("%T is not an array", v)
			break
		}
		if s.Items != nil {
			for i, e := range a {
				bad = append(bad, d.validate(path+"["+strconv.Itoa(i)+"]", s.Items, e)...)
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			fail("%T is not a string", v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("%T is not a boolean", v)
		}
	case "number", "integer":
		n, ok := v.(float64)
		if !ok {
			fail("%T is not a number", v)
			break
		}
		if s.Type == "integer" && n != math.Trunc(n) {
			fail("%v is not an integer", n)
		}
		if s.Minimum != nil && n < *s.Minimum || s.Maximum != nil && n > *s.Maximum {
			fail("%v is out of range", n)
		}
	default:
		fail("schema type %q is not checked by this test", s.Type)
	}
	return bad
}

// responseSchema returns the documented schema of path's answer with
// status, or nil.
func (d *oaDoc) responseSchema(t *testing.T, path string, status int) *schema {
	t.Helper()
	r, ok := d.Paths[path]["get"].Responses[strconv.Itoa(status)]
	if !ok {
		return nil
	}
	r = d.response(t, r)
	c, ok := r.Content["application/json"]
	if !ok || c.Schema == nil {
		t.Fatalf("%s %d: no application/json schema", path, status)
	}
	return c.Schema
}

// Every path the router serves is described, and nothing else; every
// endpoint serves GET (and HEAD), and only the documented ones need no
// token.
func TestOpenAPIPathsAreTheRoutes(t *testing.T) {
	d := loadDoc(t)
	f := newFixture(t, emptyStore{})
	var served, documented []string
	for _, e := range f.api.endpoints {
		served = append(served, e.path)
		// The router serves it: not a 404.
		if r := f.get(t, "", e.path); r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed {
			t.Errorf("GET %s: %d", e.path, r.status)
		}
		op, ok := d.Paths[e.path]["get"]
		if !ok {
			continue
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public == e.auth {
			t.Errorf("%s: documented security %v, handler needs a token: %v", e.path, op.Security, e.auth)
		}
		if !e.auth {
			continue
		}
		if _, ok := op.Responses["401"]; !ok {
			t.Errorf("%s: 401 not documented", e.path)
		}
	}
	for p, ops := range d.Paths {
		documented = append(documented, p)
		for m := range ops {
			if m != "get" {
				t.Errorf("%s: documents %s, which is never served", p, m)
			}
		}
	}
	slices.Sort(served)
	slices.Sort(documented)
	if !slices.Equal(served, documented) {
		t.Errorf("served %q, documented %q", served, documented)
	}
	if len(d.Security) != 1 || d.Components.SecuritySchemes["bearer"].Scheme != "bearer" {
		t.Errorf("security %v, schemes %v: want a bearer scheme required by default", d.Security, d.Components.SecuritySchemes)
	}
}

// Every endpoint's parameters are the documented ones, described by the
// same words; every documented parameter, with its example and with
// every value of its enum, is accepted by the handler; a required one is
// required, and an undocumented one is refused.
func TestOpenAPIParametersAreTheHandlers(t *testing.T) {
	d := loadDoc(t)
	f := newFixture(t, emptyStore{})
	for _, e := range f.api.endpoints {
		t.Run(e.path, func(t *testing.T) {
			op := d.Paths[e.path]["get"]
			doc := map[string]oaParam{}
			for _, p := range op.Parameters {
				p = d.param(t, p)
				if p.In != "query" {
					t.Errorf("%s is in %s", p.Name, p.In)
				}
				if _, dup := doc[p.Name]; dup {
					t.Errorf("%s documented twice", p.Name)
				}
				doc[p.Name] = p
			}
			table := map[string]param{}
			for _, p := range e.params {
				table[p.name] = p
				dp, ok := doc[p.name]
				if !ok {
					t.Errorf("accepts %s, which is not documented", p.name)
					continue
				}
				if dp.Description != p.doc {
					t.Errorf("%s: documented as %q, the table says %q", p.name, dp.Description, p.doc)
				}
			}
			for name := range doc {
				if _, ok := table[name]; !ok {
					t.Errorf("documents %s, which the handler does not accept", name)
				}
			}

			// The required parameters, with their examples, make a valid
			// request; each parameter is then tried on top of them.
			base := url.Values{}
			for name, p := range doc {
				if p.Required {
					base.Set(name, fmt.Sprint(p.Example))
				}
			}
			try := func(name, value string) response {
				q := url.Values{}
				for k, v := range base {
					q[k] = v
				}
				q.Set(name, value)
				return f.get(t, adminToken, e.path+"?"+q.Encode())
			}
			for name, p := range doc {
				if p.Example == nil || p.Schema == nil {
					t.Errorf("%s: no example or schema", name)
					continue
				}
				if r := try(name, fmt.Sprint(p.Example)); r.status != http.StatusOK {
					t.Errorf("%s=%v: %d %s", name, p.Example, r.status, r.body)
				}
				for _, v := range p.Schema.Enum {
					if r := try(name, fmt.Sprint(v)); r.status != http.StatusOK {
						t.Errorf("%s=%v (documented enum): %d %s", name, v, r.status, r.body)
					}
				}
				if len(p.Schema.Enum) > 0 {
					e := try(name, "not-in-the-enum").error(t, http.StatusBadRequest)
					if _, ok := e.Fields[name]; !ok {
						t.Errorf("%s outside its enum: fields %v", name, e.Fields)
					}
				}
				if p.Required {
					q := url.Values{}
					for k, v := range base {
						if k != name {
							q[k] = v
						}
					}
					e := f.get(t, adminToken, e.path+"?"+q.Encode()).error(t, http.StatusBadRequest)
					if _, ok := e.Fields[name]; !ok {
						t.Errorf("without required %s: fields %v", name, e.Fields)
					}
				}
			}
			if e := try("undocumented", "1").error(t, http.StatusBadRequest); e.Fields["undocumented"] == "" {
				t.Errorf("undocumented parameter: fields %v", e.Fields)
			}
		})
	}
}

// Real answers of the handlers over the seeded store, successes and
// errors, validate against the schemas documented for their status.
func TestOpenAPIResponsesMatchSchemas(t *testing.T) {
	d := loadDoc(t)
	f := newFixture(t, seededStore(t))
	down := newFixture(t, failingStore{fmt.Errorf("connection refused")})
	cases := []struct {
		fx           *fixture
		token, path  string
		query        string
		status       int
		wantProperty string // a property the answer must have, to show the case covers it
	}{
		{f, adminToken, "/v1/series", span + "&bucket=1h", 200, "totals"},
		{f, acmeToken, "/v1/series", span + "&gateway_latency=true", 200, "gateway_latency_ms"},
		{f, adminToken, "/v1/breakdown", span + "&group_by=service&workspace=acme", 200, "deleted"},
		{f, acmeToken, "/v1/breakdown", span + "&group_by=consumer&gateway_latency=true", 200, "name"},
		{f, aliceToken, "/v1/top", span + "&group_by=route&order_by=latency_p95&limit=2", 200, "order_by"},
		{f, acmeToken, "/v1/recent", span + "&limit=50", 200, "consumer_name"},
		{f, adminToken, "/v1/usage", span + "&per=1h", 200, "consumer_name"},
		{f, aliceToken, "/v1/usage", "range=2d", 200, "billing_units"},
		{f, adminToken, "/v1/whoami", "", 200, "scope"},
		{f, aliceToken, "/v1/whoami", "", 200, "consumer"},
		{f, acmeToken, "/v1/entities", "kind=routes", 200, "workspace"},
		{f, aliceToken, "/v1/entities", "kind=consumers", 200, "data"},
		{f, "", "/healthz", "", 200, "status"},
		{f, "", "/openapi.json", "", 200, "paths"},
		{f, adminToken, "/v1/series", "bucket=1s&nope=1", 400, "fields"},
		{f, adminToken, "/healthz", "x=1", 400, "fields"},
		{f, acmeToken, "/v1/top", "group_by=route&workspace=globex", 403, "message"},
		{f, aliceToken, "/v1/recent", "consumer=bob", 403, "message"},
		{f, "", "/v1/usage", "", 401, "message"},
		{f, expiredToken, "/v1/whoami", "", 401, "message"},
		{down, adminToken, "/v1/series", "", 503, "message"},
		{down, adminToken, "/v1/recent", "", 503, "message"},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %d %s", tc.path, tc.status, tc.query), func(t *testing.T) {
			r := tc.fx.get(t, tc.token, tc.path+"?"+tc.query)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			s := d.responseSchema(t, tc.path, tc.status)
			if s == nil {
				t.Fatalf("status %d of %s is not documented", tc.status, tc.path)
			}
			covered[tc.path+" "+strconv.Itoa(tc.status)] = true
			var v any
			if err := json.Unmarshal(r.body, &v); err != nil {
				t.Fatal(err)
			}
			for _, b := range d.validate(tc.path, s, v) {
				t.Error(b)
			}
			if !bytes.Contains(r.body, []byte(`"`+tc.wantProperty+`"`)) {
				t.Errorf("the answer has no %q: the case does not cover it: %.300s", tc.wantProperty, r.body)
			}
			if tc.status == http.StatusUnauthorized {
				if _, ok := d.response(t, d.Paths[tc.path]["get"].Responses["401"]).Headers["WWW-Authenticate"]; !ok {
					t.Error("WWW-Authenticate not documented")
				}
			}
		})
	}
	// Every documented 200 is exercised.
	for p := range d.Paths {
		if !covered[p+" 200"] {
			t.Errorf("no case validates %s's 200", p)
		}
	}
	// The errors no path documents share the Error schema.
	for _, tc := range []struct {
		method, path string
		status       int
	}{{http.MethodGet, "/v1/nope", 404}, {http.MethodPost, "/v1/series", 405}} {
		r := f.do(t, tc.method, adminToken, tc.path)
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil || r.status != tc.status {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, r.status, r.body)
		}
		for _, b := range d.validate(tc.path, &schema{Ref: "#/components/schemas/Error"}, v) {
			t.Error(b)
		}
	}
}

// The checker finds the drift it is there to find.
func TestSchemaCheckerCatchesDrift(t *testing.T) {
	d := loadDoc(t)
	row := &schema{Ref: "#/components/schemas/Row"}
	good := map[string]any{"key": "svc", "requests": 1.0, "errors_4xx": 0.0, "errors_5xx": 0.0, "error_rate": 0.0,
		"latency_ms": map[string]any{"p50": 1.0, "p95": 2.0, "p99": 3.0}, "upstream_latency_ms": map[string]any{"p50": 1.0, "p95": 2.0, "p99": 3.0},
		"bytes_in": 1.0, "bytes_out": 2.0}
	if bad := d.validate("row", row, good); len(bad) != 0 {
		t.Fatalf("a good row: %v", bad)
	}
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
	}{
		{"extra property", func(m map[string]any) { m["latency_p95"] = 1.0 }},
		{"missing property", func(m map[string]any) { delete(m, "bytes_out") }},
		{"wrong type", func(m map[string]any) { m["requests"] = "1" }},
		{"fraction for an integer", func(m map[string]any) { m["requests"] = 1.5 }},
		{"nested", func(m map[string]any) { m["latency_ms"] = map[string]any{"p50": 1.0} }},
	} {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		tc.edit(m)
		if bad := d.validate("row", row, m); len(bad) == 0 {
			t.Errorf("%s: not caught", tc.name)
		}
	}
	if bad := d.validate("bucket", &schema{Type: "string", Enum: []any{"1m"}}, "2m"); len(bad) == 0 {
		t.Error("enum: not caught")
	}
}
