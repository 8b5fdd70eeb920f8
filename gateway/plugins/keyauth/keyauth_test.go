package keyauth

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/plugin/plugintest"
	"github.com/tollgate/tollgate/internal/entity"
	"github.com/tollgate/tollgate/internal/logrecord"
)

func build(t *testing.T, config string) *KeyAuth {
	t.Helper()
	in := plugintest.Build(t, Factory(), config, plugin.Env{})
	return in.(*KeyAuth)
}

func TestConfigValidation(t *testing.T) {
	reg := plugin.NewRegistry(Factory())
	tests := []struct {
		name   string
		config string
		want   entity.FieldErrors
	}{
		{"defaults", ``, nil},
		{"unknown field", `{"key_name": ["a"]}`, entity.FieldErrors{"key_name": "unknown field"}},
		{"key_names not an array", `{"key_names": "apikey"}`, entity.FieldErrors{"key_names": "expected an array"}},
		{"key_names element not a string", `{"key_names": ["a", 1]}`, entity.FieldErrors{"key_names": entity.FieldErrors{"2": "expected a string"}}},
		{"bad header name", `{"key_names": ["ok", "no space"]}`, entity.FieldErrors{"key_names": entity.FieldErrors{"2": "bad header name 'no space', allowed characters are A-Z, a-z, 0-9, '_', and '-'"}}},
		{"empty header name", `{"key_names": [""]}`, entity.FieldErrors{"key_names": entity.FieldErrors{"1": "no header name provided"}}},
		{"booleans", `{"hide_credentials": "yes", "key_in_body": 1}`, entity.FieldErrors{"hide_credentials": "expected a boolean", "key_in_body": "expected a boolean"}},
		{"anonymous not a string", `{"anonymous": 5}`, entity.FieldErrors{"anonymous": "expected a string"}},
		{"null keeps default", `{"key_names": null, "anonymous": null}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := reg.Validate(Name, json.RawMessage(tt.config))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestDefaultsShown(t *testing.T) {
	out, fe := plugin.NewRegistry(Factory()).Validate(Name, nil)
	if fe != nil {
		t.Fatal(fe)
	}
	want := `{"key_names":["apikey"],"hide_credentials":false,"anonymous":null,"key_in_header":true,"key_in_query":true,"key_in_body":false,"run_on_preflight":true,"realm":null}`
	if string(out) != want {
		t.Errorf("defaults = %s\nwant %s", out, want)
	}
}

const (
	aliceID = "c1"
	credID  = "k1"
	secret  = "s3cret"
)

func creds() *plugintest.Credentials {
	cr := plugintest.NewCredentials()
	cr.AddConsumer("", aliceID, "alice", "")
	cr.AddConsumer("", "c2", "bob", "bob-custom")
	cr.AddConsumer("", "anon", "anonymous-user", "")
	cr.AddKey("", aliceID, credID, secret)
	cr.AddKey("", "c2", "k2", "bobkey")
	return cr
}

func newCtx(req *plugintest.Request) *plugin.Context {
	return &plugin.Context{Request: req, Workspace: "default", Credentials: creds(), Record: &logrecord.Record{}}
}

func formBodyOf(t *testing.T, fields map[string]string) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, _ := w.CreateFormFile("file", "a.txt")
	fw.Write([]byte("file content"))
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

func TestAccess(t *testing.T) {
	mp, mpType := formBodyOf(t, map[string]string{"apikey": secret, "other": "x"})
	tests := []struct {
		name       string
		config     string
		method     string
		url        string
		headers    map[string]string
		body       []byte
		credential bool // a credential is already authenticated

		wantStatus    int // 0: not exited
		wantBody      string
		wantChallenge string
		wantConsumer  string
		wantUpstream  map[string]string // "" means absent
		wantQuery     string
		wantBodyOut   string
		wantOutcome   string
	}{
		{
			name: "no key", url: "/",
			wantStatus: 401, wantBody: `{"message":"No API key found in request"}`, wantChallenge: "Key", wantOutcome: "rejected",
		},
		{
			name: "no key with realm", config: `{"realm":"kong"}`, url: "/",
			wantStatus: 401, wantBody: `{"message":"No API key found in request"}`, wantChallenge: `Key realm="kong"`,
		},
		{
			name: "invalid key", url: "/", headers: map[string]string{"apikey": "nope"},
			wantStatus: 401, wantBody: `{"message":"Unauthorized"}`, wantChallenge: "Key", wantOutcome: "rejected",
		},
		{
			name: "key in header", url: "/", headers: map[string]string{"ApiKey": secret, "X-Anonymous-Consumer": "true", "X-Consumer-Custom-ID": "spoofed"},
			wantConsumer: aliceID, wantOutcome: "authenticated",
			wantUpstream: map[string]string{
				"X-Consumer-ID": aliceID, "X-Consumer-Username": "alice", "X-Consumer-Custom-ID": "",
				"X-Credential-Identifier": credID, "X-Anonymous-Consumer": "", "apikey": secret,
			},
		},
		{
			name: "custom id sent", url: "/?apikey=bobkey",
			wantConsumer: "c2", wantUpstream: map[string]string{"X-Consumer-Custom-ID": "bob-custom", "X-Credential-Identifier": "k2"},
			wantQuery: "apikey=bobkey",
		},
		{
			name: "second key name", config: `{"key_names":["x-key","apikey"]}`, url: "/", headers: map[string]string{"apikey": secret},
			wantConsumer: aliceID,
		},
		{
			name: "header ignored when key_in_header is false", config: `{"key_in_header":false}`, url: "/", headers: map[string]string{"apikey": secret},
			wantStatus: 401, wantBody: `{"message":"No API key found in request"}`,
		},
		{
			name: "query ignored when key_in_query is false", config: `{"key_in_query":false}`, url: "/?apikey=" + secret,
			wantStatus: 401, wantBody: `{"message":"No API key found in request"}`,
		},
		{
			name: "duplicate query key", url: "/?apikey=a&apikey=b",
			wantStatus: 401, wantBody: `{"message":"Duplicate API key found"}`, wantChallenge: "Key",
		},
		{
			name: "empty query key", url: "/?apikey=",
			wantStatus: 401, wantBody: `{"message":"No API key found in request"}`,
		},
		{
			name: "hide credentials", config: `{"hide_credentials":true}`, url: "/p?a=1&apikey=" + secret, headers: map[string]string{"apikey": "x"},
			wantStatus: 401, wantBody: `{"message":"Unauthorized"}`,
		},
		{
			name: "hide credentials from query and header", config: `{"hide_credentials":true}`, url: "/p?a=1&apikey=" + secret,
			wantConsumer: aliceID, wantQuery: "a=1", wantUpstream: map[string]string{"apikey": ""},
		},
		{
			name: "key in form body", config: `{"key_in_body":true,"hide_credentials":true}`, method: "POST", url: "/",
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: []byte("a=1&apikey=" + secret),
			wantConsumer: aliceID, wantBodyOut: "a=1",
		},
		{
			name: "key in JSON body", config: `{"key_in_body":true,"hide_credentials":true}`, method: "POST", url: "/",
			headers: map[string]string{"Content-Type": "application/json"}, body: []byte(`{"apikey":"` + secret + `","n":1}`),
			wantConsumer: aliceID, wantBodyOut: `{"n":1}`,
		},
		{
			name: "JSON array key is a duplicate", config: `{"key_in_body":true}`, method: "POST", url: "/",
			headers: map[string]string{"Content-Type": "application/json"}, body: []byte(`{"apikey":["a","b"]}`),
			wantStatus: 401, wantBody: `{"message":"Duplicate API key found"}`,
		},
		{
			name: "key in multipart body", config: `{"key_in_body":true}`, method: "POST", url: "/",
			headers: map[string]string{"Content-Type": mpType}, body: mp,
			wantConsumer: aliceID,
		},
		{
			name: "body not read without key_in_body", method: "POST", url: "/",
			headers: map[string]string{"Content-Type": "application/json"}, body: []byte(`{"apikey":"` + secret + `"}`),
			wantStatus: 401, wantBody: `{"message":"No API key found in request"}`,
		},
		{
			name: "anonymous by username", config: `{"anonymous":"anonymous-user"}`, url: "/",
			wantConsumer: "anon", wantOutcome: "anonymous",
			wantUpstream: map[string]string{"X-Consumer-ID": "anon", "X-Anonymous-Consumer": "true", "X-Credential-Identifier": ""},
		},
		{
			name: "anonymous by id with invalid key", config: `{"anonymous":"anon"}`, url: "/?apikey=bad",
			wantConsumer: "anon",
		},
		{
			name: "anonymous missing", config: `{"anonymous":"ghost"}`, url: "/",
			wantStatus: 500, wantBody: `{"message":"anonymous consumer ghost is configured but doesn't exist"}`,
		},
		{
			name: "already authenticated with anonymous configured", config: `{"anonymous":"anon"}`, url: "/", credential: true,
			wantConsumer: "earlier",
		},
		{
			name: "already authenticated without anonymous still needs a key", url: "/", credential: true,
			wantConsumer: "earlier", wantStatus: 401, wantBody: `{"message":"No API key found in request"}`,
		},
		{
			name: "preflight authenticated by default", method: "OPTIONS", url: "/",
			wantStatus: 401, wantBody: `{"message":"No API key found in request"}`,
		},
		{
			name: "preflight skipped", config: `{"run_on_preflight":false}`, method: "OPTIONS", url: "/",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := build(t, tt.config)
			method := tt.method
			if method == "" {
				method = "GET"
			}
			req := plugintest.NewRequest(method, tt.url, tt.headers, tt.body)
			c := newCtx(req)
			if tt.credential {
				c.Authenticate(&entity.Consumer{Meta: entity.Meta{ID: "earlier"}}, "cred-earlier", false)
			}
			k.Access(c)
			exit, exited := c.Exited()
			if tt.wantStatus == 0 {
				if exited {
					t.Fatalf("exited %d %s", exit.Status, exit.Body)
				}
			} else {
				if !exited || exit.Status != tt.wantStatus || string(exit.Body) != tt.wantBody {
					t.Fatalf("exit = %v %d %s, want %d %s", exited, exit.Status, exit.Body, tt.wantStatus, tt.wantBody)
				}
				if exit.Headers["Content-Type"] != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q", exit.Headers["Content-Type"])
				}
				if tt.wantChallenge != "" && exit.Headers["WWW-Authenticate"] != tt.wantChallenge {
					t.Errorf("WWW-Authenticate = %q, want %q", exit.Headers["WWW-Authenticate"], tt.wantChallenge)
				}
			}
			gotConsumer := ""
			if c.Consumer != nil {
				gotConsumer = c.Consumer.ID
			}
			if gotConsumer != tt.wantConsumer {
				t.Errorf("consumer = %q, want %q", gotConsumer, tt.wantConsumer)
			}
			for h, want := range tt.wantUpstream {
				if got := req.Header(h); got != want {
					t.Errorf("upstream %s = %q, want %q", h, got, want)
				}
			}
			if tt.wantQuery != "" {
				if got := req.RawQuery(); got != tt.wantQuery {
					t.Errorf("query = %q, want %q", got, tt.wantQuery)
				}
			}
			if tt.wantBodyOut != "" {
				if got := string(req.RawBody()); got != tt.wantBodyOut {
					t.Errorf("body = %q, want %q", got, tt.wantBodyOut)
				}
			}
			if !k.cfg.KeyInBody && req.BodyReads != 0 {
				t.Errorf("body read %d times without key_in_body", req.BodyReads)
			}
			if tt.wantOutcome != "" && c.Record.AuthOutcome != tt.wantOutcome {
				t.Errorf("AuthOutcome = %q, want %q", c.Record.AuthOutcome, tt.wantOutcome)
			}
		})
	}
}

func TestHideCredentialsMultipart(t *testing.T) {
	body, ct := formBodyOf(t, map[string]string{"apikey": secret, "other": "x"})
	req := plugintest.NewRequest("POST", "/", map[string]string{"Content-Type": ct}, body)
	c := newCtx(req)
	build(t, `{"key_in_body":true,"hide_credentials":true}`).Access(c)
	if c.Consumer == nil || c.Consumer.ID != aliceID {
		t.Fatalf("consumer = %v", c.Consumer)
	}
	out := string(req.RawBody())
	if strings.Contains(out, secret) {
		t.Errorf("key still in body: %q", out)
	}
	if !strings.Contains(out, "file content") || !strings.Contains(out, `name="other"`) {
		t.Errorf("other parts lost: %q", out)
	}
}

func TestDuplicateHeader(t *testing.T) {
	req := plugintest.NewRequest("GET", "/", nil, nil)
	req.AddHeader("apikey", secret)
	req.AddHeader("apikey", secret)
	c := newCtx(req)
	build(t, ``).Access(c)
	if e, ok := c.Exited(); !ok || string(e.Body) != `{"message":"Duplicate API key found"}` {
		t.Errorf("exit = %v %s", ok, e.Body)
	}
}
