package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestErrorShapes(t *testing.T) {
	f := newFixture(t)
	f.must(http.StatusCreated, "POST", "/services", map[string]any{"name": "taken", "host": "t.internal"})

	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		want   map[string]any // exact body
	}{
		{
			name: "one bad field", method: "POST", path: "/services",
			body:   map[string]any{"host": "h.internal", "port": "eighty"},
			status: http.StatusBadRequest,
			want: map[string]any{
				"code": 2.0, "name": "schema violation",
				"message": "schema violation (port: expected an integer)",
				"fields":  map[string]any{"port": "expected an integer"},
			},
		},
		{
			name: "every bad field at once", method: "POST", path: "/services",
			body:   map[string]any{"port": 1.5, "protocol": "ftp", "retries": -1, "bogus": true, "tags": "x"},
			status: http.StatusBadRequest,
			want: map[string]any{
				"code": 2.0, "name": "schema violation",
				"message": "6 schema violations (bogus: unknown field; host: required field missing; port: expected an integer; " +
					"protocol: expected one of: http, https; retries: value should be between 0 and 32767; tags: expected an array)",
				"fields": map[string]any{
					"bogus": "unknown field", "host": "required field missing", "port": "expected an integer",
					"protocol": "expected one of: http, https", "retries": "value should be between 0 and 32767",
					"tags": "expected an array",
				},
			},
		},
		{
			name: "nested field errors", method: "POST", path: "/upstreams",
			body:   map[string]any{"name": "u", "healthchecks": map[string]any{"active": map[string]any{"timeout": "soon"}}},
			status: http.StatusBadRequest,
			want: map[string]any{
				"code": 2.0, "name": "schema violation",
				"message": "schema violation (healthchecks.active.timeout: expected a number)",
				"fields":  map[string]any{"healthchecks": map[string]any{"active": map[string]any{"timeout": "expected a number"}}},
			},
		},
		{
			name: "bad id", method: "POST", path: "/consumers",
			body:   map[string]any{"id": "not-a-uuid", "username": "x"},
			status: http.StatusBadRequest,
			want: map[string]any{
				"code": 2.0, "name": "schema violation",
				"message": "schema violation (id: expected a valid UUID)",
				"fields":  map[string]any{"id": "expected a valid UUID"},
			},
		},
		{
			name: "unique violation", method: "POST", path: "/services",
			body:   map[string]any{"name": "taken", "host": "x.internal"},
			status: http.StatusConflict,
			want: map[string]any{
				"code": 5.0, "name": "unique constraint violation",
				"message": `UNIQUE violation detected on '{name="taken"}'`,
				"fields":  map[string]any{"name": "taken"},
			},
		},
		{
			name: "bad json", method: "POST", path: "/services",
			body:   rawBody{"application/json", `{"name": `},
			status: http.StatusBadRequest,
			want:   map[string]any{"message": "Cannot parse JSON body"},
		},
		{
			name: "json that is not an object", method: "POST", path: "/services",
			body:   rawBody{"application/json", `[1,2]`},
			status: http.StatusBadRequest,
			want:   map[string]any{"message": "Cannot parse JSON body"},
		},
		{
			name: "empty json body", method: "POST", path: "/consumers",
			body:   rawBody{"application/json", ``},
			status: http.StatusBadRequest,
			want:   map[string]any{"message": "Cannot parse JSON body"},
		},
		{
			name: "unsupported media type", method: "POST", path: "/consumers",
			body:   rawBody{"text/plain", `username=x`},
			status: http.StatusUnsupportedMediaType,
			want:   map[string]any{"message": "Unsupported Media Type"},
		},
		{
			name: "not found", method: "GET", path: "/services/nothing", status: http.StatusNotFound,
			want: map[string]any{"message": "Not found"},
		},
		{
			name: "no such path", method: "GET", path: "/services/a/b/c/d", status: http.StatusNotFound,
			want: map[string]any{"message": "Not found"},
		},
		{
			name: "method not allowed on a collection", method: "DELETE", path: "/services", status: http.StatusMethodNotAllowed,
			want: map[string]any{"message": "Method not allowed"},
		},
		{
			name: "method not allowed on an entity", method: "POST", path: "/services/taken", status: http.StatusMethodNotAllowed,
			want: map[string]any{"message": "Method not allowed"},
		},
		{
			name: "bad page size", method: "GET", path: "/services?size=abc", status: http.StatusBadRequest,
			want: map[string]any{"code": 9.0, "name": "invalid size", "message": "size must be a number"},
		},
		{
			name: "page size too large", method: "GET", path: "/services?size=1001", status: http.StatusBadRequest,
			want: map[string]any{"code": 9.0, "name": "invalid size", "message": "size must be an integer between 1 and 1000"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(tc.method, tc.path, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if !reflect.DeepEqual(r.body, tc.want) {
				got, _ := json.Marshal(r.body)
				want, _ := json.Marshal(tc.want)
				t.Errorf("body\n got %s\nwant %s", got, want)
			}
		})
	}

	t.Run("bad offset", func(t *testing.T) {
		r := f.must(http.StatusBadRequest, "GET", "/services?offset=garbage", nil)
		if r.get("code") != 7.0 || r.str("name") != "invalid offset" {
			t.Errorf("body %s", r.raw)
		}
	})
	t.Run("bad tag filter", func(t *testing.T) {
		r := f.must(http.StatusBadRequest, "GET", "/services?tags="+url.QueryEscape("a,b/c"), nil)
		if r.get("code") != 11.0 || r.str("options.tags") != "invalid filter syntax" {
			t.Errorf("body %s", r.raw)
		}
	})
	t.Run("id taken", func(t *testing.T) {
		taken := f.must(http.StatusOK, "GET", "/services/taken", nil).str("id")
		r := f.must(http.StatusBadRequest, "POST", "/services", map[string]any{"id": taken, "host": "y.internal"})
		if r.get("code") != 3.0 || r.str("message") != `primary key violation on key '{id="`+taken+`"}'` {
			t.Errorf("body %s", r.raw)
		}
	})
}

func TestAuth(t *testing.T) {
	const token = "s3cr3t-admin-token"
	f := newFixture(t, func(c *Config) { c.Token = token })

	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{"no token", []string{"Authorization", ""}, http.StatusUnauthorized},
		{"wrong bearer", []string{"Authorization", "Bearer nope"}, http.StatusUnauthorized},
		{"prefix of the token", []string{"Authorization", "Bearer " + token[:5]}, http.StatusUnauthorized},
		{"basic scheme", []string{"Authorization", "Basic " + token}, http.StatusUnauthorized},
		{"bearer", []string{"Authorization", "Bearer " + token}, http.StatusOK},
		{"bearer lower case", []string{"Authorization", "bearer " + token}, http.StatusOK},
		{"kong admin token", []string{"Authorization", "", "Kong-Admin-Token", token}, http.StatusOK},
		{"wrong kong admin token", []string{"Authorization", "", "Kong-Admin-Token", "x"}, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/", "/services", "/status", "/team/services", "/nowhere"} {
				r := f.do("GET", path, nil, tc.headers...)
				want := tc.status
				if want == http.StatusOK && (path == "/team/services" || path == "/nowhere") {
					want = http.StatusNotFound // authenticated, then the workspace is unknown
				}
				if r.status != want {
					t.Errorf("GET %s: status %d, want %d", path, r.status, want)
				}
				if want == http.StatusUnauthorized && r.str("message") != "Unauthorized" {
					t.Errorf("GET %s: body %s", path, r.raw)
				}
			}
		})
	}
	t.Run("writes need the token too", func(t *testing.T) {
		r := f.do("POST", "/consumers", map[string]any{"username": "x"}, "Authorization", "")
		if r.status != http.StatusUnauthorized {
			t.Errorf("status %d", r.status)
		}
		if n := len(f.must(http.StatusOK, "GET", "/consumers", nil).data()); n != 0 {
			t.Errorf("unauthenticated write went through")
		}
	})

	t.Run("no token configured", func(t *testing.T) {
		open := newFixture(t)
		if r := open.do("GET", "/services", nil); r.status != http.StatusOK {
			t.Errorf("status %d", r.status)
		}
	})
}

func TestPaginationWalk(t *testing.T) {
	f := newFixture(t)
	const n = 25
	for i := 0; i < n; i++ {
		f.must(http.StatusCreated, "POST", "/consumers", map[string]any{"username": fmt.Sprintf("user-%02d", i)})
	}
	seen := map[string]bool{}
	path := "/consumers?size=10"
	pages := 0
	for path != "" {
		r := f.must(http.StatusOK, "GET", path, nil)
		pages++
		for _, d := range r.data() {
			id := d["id"].(string)
			if seen[id] {
				t.Fatalf("%s seen twice", id)
			}
			seen[id] = true
		}
		next, _ := r.get("next").(string)
		if next != "" {
			if r.str("offset") == "" {
				t.Errorf("page with next but no offset: %s", r.raw)
			}
			if !strings.HasPrefix(next, "/consumers?offset=") || !strings.Contains(next, "size=10") {
				t.Errorf("next %q", next)
			}
		} else if _, has := r.body["offset"]; has {
			t.Errorf("last page has an offset: %s", r.raw)
		}
		path = next
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != n || pages != 3 {
		t.Errorf("walked %d consumers in %d pages, want %d in 3", len(seen), pages, n)
	}
	if d := f.must(http.StatusOK, "GET", "/consumers", nil).data(); len(d) != n {
		t.Errorf("default page size returned %d", len(d))
	}

	t.Run("nested and prefixed next links", func(t *testing.T) {
		f.must(http.StatusCreated, "POST", "/workspaces", map[string]any{"name": "w"})
		f.must(http.StatusCreated, "POST", "/w/consumers", map[string]any{"username": "c"})
		for i := 0; i < 3; i++ {
			f.must(http.StatusCreated, "POST", "/w/consumers/c/acls", map[string]any{"group": fmt.Sprint("g", i)})
		}
		r := f.must(http.StatusOK, "GET", "/w/consumers/c/acls?size=2", nil)
		next := r.str("next")
		if !strings.HasPrefix(next, "/w/consumers/c/acls?offset=") {
			t.Fatalf("next %q", next)
		}
		r2 := f.must(http.StatusOK, "GET", next, nil)
		if len(r2.data()) != 1 || r2.get("next") != nil {
			t.Errorf("second page: %s", r2.raw)
		}
	})
}

func TestTagFilters(t *testing.T) {
	f := newFixture(t)
	for name, tags := range map[string][]string{
		"ab": {"a", "b"}, "a": {"a"}, "b": {"b"}, "c": {"c"}, "none": nil,
	} {
		f.must(http.StatusCreated, "POST", "/services", map[string]any{"name": name, "host": "h.internal", "tags": tags})
	}
	tests := []struct {
		filter string
		want   []string
	}{
		{"a", []string{"a", "ab"}},
		{"a,b", []string{"ab"}},
		{"a/b", []string{"a", "ab", "b"}},
		{"a/c", []string{"a", "ab", "c"}},
		{"zzz", nil},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			r := f.must(http.StatusOK, "GET", "/services?tags="+url.QueryEscape(tc.filter), nil)
			var got []string
			for _, d := range r.data() {
				got = append(got, d["name"].(string))
			}
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("tags=%s: %v, want %v", tc.filter, got, tc.want)
			}
		})
	}
	t.Run("next link keeps the filter", func(t *testing.T) {
		r := f.must(http.StatusOK, "GET", "/services?tags=a&size=1", nil)
		if next := r.str("next"); !strings.Contains(next, "tags=a") {
			t.Errorf("next %q", next)
		}
	})
}

func TestFormInput(t *testing.T) {
	f := newFixture(t)

	svc := f.must(http.StatusCreated, "POST", "/services", form{"name": {"web"}, "url": {"http://web.internal:8080"}, "retries": {"3"}, "tags[]": {"x", "y"}})
	if svc.get("port") != 8080.0 || svc.get("retries") != 3.0 || fmt.Sprint(svc.get("tags")) != "[x y]" {
		t.Errorf("service: %s", svc.raw)
	}

	rt := f.must(http.StatusCreated, "POST", "/services/web/routes", form{
		"name":           {"r"},
		"paths[]":        {"/a", "/b"},
		"methods":        {"GET", "POST"},
		"hosts":          {"one.example.com"},
		"strip_path":     {"false"},
		"regex_priority": {"7"},
		"headers.x-ver":  {"1", "2"},
	})
	if fmt.Sprint(rt.get("paths")) != "[/a /b]" || fmt.Sprint(rt.get("methods")) != "[GET POST]" ||
		fmt.Sprint(rt.get("hosts")) != "[one.example.com]" || rt.get("strip_path") != false ||
		rt.get("regex_priority") != 7.0 || fmt.Sprint(rt.get("headers.x-ver")) != "[1 2]" {
		t.Errorf("route: %s", rt.raw)
	}

	p := f.must(http.StatusCreated, "POST", "/services/web/plugins", form{"name": {"rate-limiting"}, "config.minute": {"5"}, "config.policy": {"cluster"}})
	if p.get("config.minute") != 5.0 || p.str("config.policy") != "cluster" {
		t.Errorf("plugin: %s", p.raw)
	}
	p = f.must(http.StatusOK, "PATCH", "/plugins/"+p.str("id"), form{"config.second": {"2"}, "enabled": {"false"}})
	if p.get("config.second") != 2.0 || p.get("config.minute") != 5.0 || p.get("enabled") != false {
		t.Errorf("plugin patch: %s", p.raw)
	}

	t.Run("indexed arrays", func(t *testing.T) {
		r := f.must(http.StatusCreated, "POST", "/routes", form{"paths[2]": {"/second"}, "paths[1]": {"/first"}, "service.name": {"web"}})
		if fmt.Sprint(r.get("paths")) != "[/first /second]" || r.str("service.id") != svc.str("id") {
			t.Errorf("route: %s", r.raw)
		}
	})

	t.Run("bad numbers are type errors", func(t *testing.T) {
		r := f.must(http.StatusBadRequest, "POST", "/services", form{"host": {"h.internal"}, "port": {"eighty"}, "retries": {"1.5"}})
		if r.str("fields.port") != "expected an integer" || r.str("fields.retries") != "expected an integer" {
			t.Errorf("body %s", r.raw)
		}
	})

	t.Run("empty value is null", func(t *testing.T) {
		r := f.must(http.StatusOK, "PATCH", "/services/web", form{"path": {""}, "tags": {""}})
		if r.get("path") != nil || r.get("tags") != nil {
			t.Errorf("body %s", r.raw)
		}
	})

	t.Run("multipart form", func(t *testing.T) {
		mb := newMultipart(t, map[string]string{"username": "formuser", "custom_id": "f-1"}, nil)
		r := f.must(http.StatusCreated, "POST", "/consumers", mb)
		if r.str("username") != "formuser" {
			t.Errorf("body %s", r.raw)
		}
	})

	t.Run("key-auth via form shows the key once", func(t *testing.T) {
		r := f.must(http.StatusCreated, "POST", "/consumers/formuser/key-auth", form{"key": {"form-key-123456"}})
		if r.str("key") != "form-key-123456" {
			t.Errorf("body %s", r.raw)
		}
	})
}

func TestTrailingSlashAndOptions(t *testing.T) {
	f := newFixture(t)
	f.must(http.StatusOK, "GET", "/services/", nil)
	f.must(http.StatusCreated, "POST", "/consumers/", map[string]any{"username": "slash"})
	f.must(http.StatusOK, "GET", "/consumers/slash/", nil)
	r := f.do("OPTIONS", "/services", nil)
	if r.status != http.StatusOK || !strings.Contains(r.header.Get("Allow"), "POST") {
		t.Errorf("OPTIONS: %d %v", r.status, r.header)
	}
}

func TestRootAndStatus(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Status = func() map[string]any {
			return map[string]any{"server": map[string]any{"total_requests": 42}, "cluster": map[string]any{"nodes": 3}}
		}
	})
	f.must(http.StatusCreated, "POST", "/plugins", map[string]any{"name": "key-auth"})

	root := f.must(http.StatusOK, "GET", "/", nil)
	for field, want := range map[string]any{
		"version": "0.1.0", "hostname": "node-a", "node_id": "11111111-2222-4333-8444-555555555555",
		"tagline": "Welcome to tollgate",
	} {
		if root.get(field) != want {
			t.Errorf("%s = %v, want %v", field, root.get(field), want)
		}
	}
	if root.get("plugins.available_on_server.rate-limiting") != true || root.get("plugins.available_on_server.key-auth") != true {
		t.Errorf("available_on_server: %s", root.raw)
	}
	if fmt.Sprint(root.get("plugins.enabled_in_cluster")) != "[key-auth]" {
		t.Errorf("enabled_in_cluster: %s", root.raw)
	}
	if _, ok := root.get("configuration").(map[string]any); !ok {
		t.Errorf("configuration: %s", root.raw)
	}

	st := f.must(http.StatusOK, "GET", "/status", nil)
	if st.get("database.reachable") != true {
		t.Errorf("database: %s", st.raw)
	}
	if st.get("server.total_requests") != 42.0 || st.get("cluster.nodes") != 3.0 {
		t.Errorf("merged status: %s", st.raw)
	}
	if h := st.str("configuration_hash"); len(h) != 32 {
		t.Errorf("configuration_hash %q", h)
	}
	if _, ok := st.get("memory").(map[string]any); !ok {
		t.Errorf("memory: %s", st.raw)
	}

	ep := f.must(http.StatusOK, "GET", "/endpoints", nil)
	if !strings.Contains(string(ep.raw), `"/services/:id/routes"`) {
		t.Errorf("endpoints: %s", ep.raw)
	}

	t.Run("store down", func(t *testing.T) {
		if err := f.store.Close(); err != nil {
			t.Fatal(err)
		}
		st := f.must(http.StatusOK, "GET", "/status", nil)
		if st.get("database.reachable") != false {
			t.Errorf("database: %s", st.raw)
		}
		r := f.must(http.StatusInternalServerError, "GET", "/services", nil)
		if r.str("message") != "An unexpected error occurred" {
			t.Errorf("body %s", r.raw)
		}
	})
}
