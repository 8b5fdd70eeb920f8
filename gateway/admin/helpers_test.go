package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/memstore"
	"github.com/tollgate/tollgate/internal/entity"
)

// Test plugins: configs shaped like Kong's rate-limiting and key-auth.
type rateLimitConfig struct {
	Second *float64 `json:"second"`
	Minute *float64 `json:"minute"`
	Policy string   `json:"policy"`
}

type keyAuthConfig struct {
	KeyNames        []string `json:"key_names"`
	HideCredentials bool     `json:"hide_credentials"`
}

func testRegistry() *plugin.Registry {
	return plugin.NewRegistry(
		&plugin.Factory{
			Name:      "rate-limiting",
			Priority:  910,
			NewConfig: func() any { return &rateLimitConfig{Policy: "local"} },
			New: func(cfg any, _ plugin.Env) (any, error) {
				c := cfg.(*rateLimitConfig)
				errs := entity.FieldErrors{}
				if c.Second == nil && c.Minute == nil {
					errs.Add("@entity", "at least one of these fields must be non-empty: 'config.second', 'config.minute'")
				}
				if c.Minute != nil && *c.Minute < 0 {
					errs.Add("minute", "value should be between 0 and 1e+308")
				}
				if c.Policy != "local" && c.Policy != "cluster" {
					errs.Add("policy", "expected one of: local, cluster")
				}
				if err := errs.Err(); err != nil {
					return nil, err
				}
				return struct{}{}, nil
			},
		},
		&plugin.Factory{
			Name:      "key-auth",
			Priority:  1250,
			NewConfig: func() any { return &keyAuthConfig{KeyNames: []string{"apikey"}} },
			New:       func(cfg any, _ plugin.Env) (any, error) { return struct{}{}, nil },
		},
	)
}

type fixture struct {
	t      *testing.T
	srv    *httptest.Server
	store  store.Store
	token  string
	health func(ws, upstream string) []TargetHealth
}

func newFixture(t *testing.T, mutate ...func(*Config)) *fixture {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	cfg := Config{
		Store:    st,
		Plugins:  testRegistry(),
		Version:  "0.1.0",
		NodeID:   "11111111-2222-4333-8444-555555555555",
		Hostname: "node-a",
		Now:      func() time.Time { return time.Unix(1700000000, 0) },
	}
	for _, m := range mutate {
		m(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, store: st, token: cfg.Token}
}

// response is a decoded reply.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) str(path string) string {
	v := r.get(path)
	s, _ := v.(string)
	return s
}

// get walks a dotted path through the JSON body ("fields.port").
func (r response) get(path string) any {
	var cur any = r.body
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func (r response) data() []map[string]any {
	arr, _ := r.body["data"].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, e := range arr {
		m, _ := e.(map[string]any)
		out = append(out, m)
	}
	return out
}

// form marks a body to send urlencoded.
type form = url.Values

// rawBody is sent as is with its content type.
type rawBody struct {
	contentType string
	data        string
}

func (f *fixture) do(method, path string, body any, headers ...string) response {
	f.t.Helper()
	var (
		rd io.Reader
		ct string
	)
	switch b := body.(type) {
	case nil:
	case form:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case rawBody:
		rd, ct = strings.NewReader(b.data), b.contentType
	case *multipartBody:
		rd, ct = bytes.NewReader(b.buf.Bytes()), b.contentType
	default:
		data, err := json.Marshal(b)
		if err != nil {
			f.t.Fatalf("marshal: %v", err)
		}
		rd, ct = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatalf("request: %v", err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatalf("read: %v", err)
	}
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			f.t.Fatalf("%s %s: response is not a JSON object: %v: %s", method, path, err, raw)
		}
	}
	return out
}

// must sends a request and fails the test unless the status is want.
func (f *fixture) must(want int, method, path string, body any) response {
	f.t.Helper()
	r := f.do(method, path, body)
	if r.status != want {
		f.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.raw)
	}
	return r
}

type multipartBody struct {
	buf         bytes.Buffer
	contentType string
}

func newMultipart(t *testing.T, fields map[string]string, files map[string]string) *multipartBody {
	t.Helper()
	mb := &multipartBody{}
	mw := multipart.NewWriter(&mb.buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range files {
		fw, err := mw.CreateFormFile(k, k+".pem")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write([]byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	mb.contentType = mw.FormDataContentType()
	return mb
}

// count returns how many entities of kind ws holds.
func (f *fixture) count(kind entity.Kind, ws string) int {
	f.t.Helper()
	n := 0
	opts := store.ListOptions{Size: 1000}
	for {
		page, err := f.store.List(f.t.Context(), kind, ws, opts)
		if err != nil {
			f.t.Fatalf("list %s: %v", kind, err)
		}
		n += len(page.Entities)
		if page.Next == "" {
			return n
		}
		opts.Offset = page.Next
	}
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
