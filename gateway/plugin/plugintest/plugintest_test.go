package plugintest

import (
	"slices"
	"testing"
)

func TestNewRequest(t *testing.T) {
	tests := []struct {
		name                         string
		url                          string
		headers                      map[string]string
		body                         []byte
		scheme, host, path, rawQuery string
		contentLength                int64
		clHeader                     string
	}{
		{name: "path only", url: "/a/b?x=1&y=two%20words&x=2", scheme: "http", path: "/a/b", rawQuery: "x=1&y=two+words&x=2"},
		{name: "absolute", url: "https://api.test:8443/p", scheme: "https", host: "api.test:8443", path: "/p"},
		{name: "host header wins", url: "http://a.test/", headers: map[string]string{"host": "b.test"}, scheme: "http", host: "b.test", path: "/"},
		{name: "body gets a length", url: "/", body: []byte("abc"), scheme: "http", path: "/", contentLength: 3, clHeader: "3"},
		{name: "chunked body", url: "/", headers: map[string]string{"Transfer-Encoding": "chunked"}, body: []byte("abc"), scheme: "http", path: "/", contentLength: -1},
		{name: "declared length", url: "/", headers: map[string]string{"Content-Length": "10"}, body: []byte("abc"), scheme: "http", path: "/", contentLength: 10, clHeader: "10"},
		{name: "empty path", url: "http://h", scheme: "http", host: "h", path: "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRequest("GET", tt.url, tt.headers, tt.body)
			if r.Scheme() != tt.scheme || r.Host() != tt.host || r.Path() != tt.path || r.RawQuery() != tt.rawQuery {
				t.Errorf("got %s %s %s %q", r.Scheme(), r.Host(), r.Path(), r.RawQuery())
			}
			if r.ContentLength() != tt.contentLength || r.Header("content-length") != tt.clHeader {
				t.Errorf("length %d header %q", r.ContentLength(), r.Header("content-length"))
			}
		})
	}
}

func TestRequestHeadersAndQuery(t *testing.T) {
	r := NewRequest("GET", "/?a=1&b=2&a=3", nil, nil)
	r.AddHeader("X-A", "1")
	r.AddHeader("x-a", "2")
	r.AddHeader("X-B", "b")
	if got := r.HeaderValues("X-a"); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("values = %v", got)
	}
	r.SetHeader("X-A", "3")
	if got := r.HeaderValues("x-A"); !slices.Equal(got, []string{"3"}) {
		t.Errorf("after set = %v", got)
	}
	r.DelHeader("x-b")
	var names []string
	r.VisitHeaders(func(n, v string) { names = append(names, n+"="+v) })
	if !slices.Equal(names, []string{"X-A=3"}) {
		t.Errorf("headers = %v", names)
	}
	if r.Query("a") != "1" || !r.HasQuery("b") || r.HasQuery("A") {
		t.Error("query lookups are exact and first-valued")
	}
	r.SetQuery("a", "9")
	r.AddQuery("c", "x y")
	r.DelQuery("b")
	if got := r.URI(); got != "/?a=9&c=x+y" {
		t.Errorf("URI = %s", got)
	}
	r.SetMethod("PUT")
	r.SetPath("/new")
	if r.Method() != "PUT" || r.Path() != "/new" {
		t.Error("method or path not changed")
	}
}

func TestRequestBody(t *testing.T) {
	r := NewRequest("POST", "/", nil, []byte("12345"))
	if b, ok, err := r.Body(5); !ok || err != nil || string(b) != "12345" {
		t.Errorf("Body(5) = %q %v %v", b, ok, err)
	}
	if _, ok, _ := r.Body(4); ok {
		t.Error("Body(4) of 5 bytes is ok")
	}
	if r.BodyReads != 2 {
		t.Errorf("BodyReads = %d", r.BodyReads)
	}
	r.SetBody([]byte("x"))
	if string(r.RawBody()) != "x" || r.ContentLength() != 1 {
		t.Error("SetBody")
	}
}

func TestResponse(t *testing.T) {
	r := NewResponse(201, map[string]string{"Vary": "a"}, []byte("b"))
	r.AddHeader("vary", "c")
	if got := r.HeaderValues("VARY"); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("vary = %v", got)
	}
	r.SetStatus(202)
	r.SetBody([]byte("z"))
	r.DelHeader("Vary")
	if r.Status() != 202 || string(r.Body()) != "z" || r.Header("vary") != "" {
		t.Error("response setters")
	}
}

func TestCredentials(t *testing.T) {
	c := NewCredentials()
	alice := c.AddConsumer("", "id-a", "alice", "ca")
	c.AddConsumer("team", "id-b", "bob", "")
	cred := c.AddKey("", "id-a", "k1", "key-a")
	c.AddBasicAuth("", "id-a", "b1", "alice", "pw")
	c.AddGroups("", "id-a", "gold", "silver")

	if cred.KeyHash != HashKey("key-a") || cred.Key != "" {
		t.Errorf("KeyHash = %q", cred.KeyHash)
	}
	if con, k, ok := c.KeyAuth("default", "key-a"); !ok || con != alice || k.ID != "k1" {
		t.Errorf("KeyAuth = %v %v %v", con, k, ok)
	}
	if _, _, ok := c.KeyAuth("team", "key-a"); ok {
		t.Error("key found in another workspace")
	}
	if _, _, ok := c.KeyAuth("", "key-b"); ok {
		t.Error("unknown key found")
	}
	if con, b, ok := c.BasicAuth("", "alice", "pw"); !ok || con != alice || b.ID != "b1" {
		t.Errorf("BasicAuth = %v %v %v", con, b, ok)
	}
	if _, _, ok := c.BasicAuth("", "alice", "nope"); ok {
		t.Error("wrong password accepted")
	}
	if con, ok := c.Consumer("", "alice"); !ok || con != alice {
		t.Error("consumer by username")
	}
	if con, ok := c.Consumer("default", "id-a"); !ok || con != alice {
		t.Error("consumer by id")
	}
	if _, ok := c.Consumer("", "bob"); ok {
		t.Error("consumer found in another workspace")
	}
	if got := c.Groups("", "id-a"); !slices.Equal(got, []string{"gold", "silver"}) {
		t.Errorf("groups = %v", got)
	}
	if HashKey("abc") != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Error("HashKey is not hex SHA-256")
	}
}
