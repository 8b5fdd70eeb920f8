package proxy

import (
	"bytes"
	"encoding/json"

	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/plugins/keyauth"
	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
)

// probe is a test plugin that takes part in every phase.
type probeConfig struct {
	Upper      bool  `json:"upper"`       // upper-case the response body
	ReadBody   bool  `json:"read_body"`   // read the request body in Access
	Max        int64 `json:"max"`         // ... at most this much
	RejectLong bool  `json:"reject_long"` // 413 when it is longer
}

type probe struct {
	cfg  probeConfig
	logs *atomic.Int64
}

func probeFactory(logs *atomic.Int64) *plugin.Factory {
	return &plugin.Factory{
		Name:      "probe",
		Priority:  1000,
		NewConfig: func() any { return &probeConfig{Max: 1 << 20} },
		New: func(c any, _ plugin.Env) (any, error) {
			return &probe{cfg: *c.(*probeConfig), logs: logs}, nil
		},
	}
}

func (p *probe) UsesResponseBody() bool { return p.cfg.Upper }
func (p *probe) UsesRequestBody() bool  { return p.cfg.ReadBody }

func (p *probe) Access(c *plugin.Context) {
	c.SetResponseHeader("X-Probe-Access", "1")
	if c.Request.Header("X-Block") != "" {
		c.ExitMessage(403, "blocked by probe")
		return
	}
	if p.cfg.ReadBody {
		b, ok, err := c.Request.Body(p.cfg.Max)
		switch {
		case err != nil:
			c.ExitMessage(400, err.Error())
		case !ok && p.cfg.RejectLong:
			c.ExitMessage(413, "Request size limit exceeded")
		case ok:
			c.Request.SetHeader("X-Body-Len", strconv.Itoa(len(b)))
		}
	}
}

func (p *probe) HeaderFilter(c *plugin.Context) { c.Response.SetHeader("X-Probe", "seen") }

func (p *probe) BodyFilter(c *plugin.Context) {
	if p.cfg.Upper {
		c.Response.SetBody(bytes.ToUpper(c.Response.Body()))
	}
}

func (p *probe) Log(c *plugin.Context) {
	if c.RequestID != "" && c.Record != nil {
		p.logs.Add(1)
	}
}

func TestPluginPhases(t *testing.T) {
	var logs atomic.Int64
	up := echoServer(t, "up")
	e := newEnv(t, envOptions{factories: []*plugin.Factory{probeFactory(&logs)}})
	svc := e.service("svc", up.URL)
	plain := e.route(svc, func(r *entity.Route) { r.Paths = []string{"/plain"} })
	upper := e.route(svc, func(r *entity.Route) { r.Paths = []string{"/upper"} })
	small := e.route(svc, func(r *entity.Route) { r.Paths = []string{"/small"} })
	keep := e.route(svc, func(r *entity.Route) { r.Paths = []string{"/keep"} })
	e.create(&entity.Plugin{Name: "probe", Route: &entity.Ref{ID: plain.ID}, Config: json.RawMessage(`{}`)})
	e.create(&entity.Plugin{Name: "probe", Route: &entity.Ref{ID: upper.ID}, Config: json.RawMessage(`{"upper":true}`)})
	e.create(&entity.Plugin{Name: "probe", Route: &entity.Ref{ID: small.ID}, Config: json.RawMessage(`{"read_body":true,"max":100,"reject_long":true}`)})
	e.create(&entity.Plugin{Name: "probe", Route: &entity.Ref{ID: keep.ID}, Config: json.RawMessage(`{"read_body":true,"max":100}`)})
	e.sync()

	tests := []struct {
		name       string
		path       string
		block      bool
		body       string
		wantStatus int
		check      func(t *testing.T, status int, body []byte)
	}{
		{name: "exit", path: "/plain", block: true, wantStatus: 403, check: func(t *testing.T, _ int, b []byte) {
			if string(b) != `{"message":"blocked by probe"}` {
				t.Errorf("body = %s", b)
			}
		}},
		{name: "proxied", path: "/plain", wantStatus: 200, check: func(t *testing.T, _ int, b []byte) {
			if decodeEcho(t, b).Name != "up" {
				t.Errorf("body = %s", b)
			}
		}},
		{name: "body filter", path: "/upper", wantStatus: 200, check: func(t *testing.T, _ int, b []byte) {
			if !bytes.Contains(b, []byte(`"NAME":"UP"`)) {
				t.Errorf("body not upper-cased: %s", b)
			}
		}},
		{name: "small body read", path: "/small", body: "hello", wantStatus: 200, check: func(t *testing.T, _ int, b []byte) {
			got := decodeEcho(t, b)
			if got.BodyLen != 5 || got.Header.Get("X-Body-Len") != "5" {
				t.Errorf("upstream got %d bytes, X-Body-Len %q", got.BodyLen, got.Header.Get("X-Body-Len"))
			}
		}},
		{name: "long body rejected", path: "/small", body: strings.Repeat("x", 1000), wantStatus: 413},
		{name: "long body kept", path: "/keep", body: strings.Repeat("x", 300000), wantStatus: 200, check: func(t *testing.T, _ int, b []byte) {
			if got := decodeEcho(t, b); got.BodyLen != 300000 {
				t.Errorf("upstream got %d bytes of 300000", got.BodyLen)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := logs.Load()
			req := mustRequest(t, "POST", e.http+tc.path, strings.NewReader(tc.body))
			if tc.block {
				req.Header.Set("X-Block", "1")
			}
			resp := e.do(req)
			b := readAll(t, resp)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tc.wantStatus, b)
			}
			if resp.Header.Get("X-Probe") != "seen" || resp.Header.Get("X-Probe-Access") != "1" {
				t.Errorf("response phases did not run: %v", resp.Header)
			}
			if resp.ContentLength >= 0 && resp.ContentLength != int64(len(b)) {
				t.Errorf("Content-Length %d for %d bytes", resp.ContentLength, len(b))
			}
			if tc.check != nil {
				tc.check(t, resp.StatusCode, b)
			}
			rec := e.sink.byRequestID(t, resp.Header.Get("X-Request-Id"))
			if logs.Load() != before+1 {
				t.Errorf("Log ran %d times", logs.Load()-before)
			}
			wantResponder := "upstream"
			if tc.wantStatus >= 400 {
				wantResponder = "gateway"
				if rec.ErrorClass != "plugin" {
					t.Errorf("error class = %q", rec.ErrorClass)
				}
			}
			if rec.Responder != wantResponder || rec.Status != tc.wantStatus {
				t.Errorf("record: responder %q, status %d", rec.Responder, rec.Status)
			}
		})
	}
}

func TestKeyAuth(t *testing.T) {
	up := echoServer(t, "up")
	e := newEnv(t, envOptions{factories: []*plugin.Factory{keyauth.Factory()}})
	rt := e.route(e.service("svc", up.URL), func(r *entity.Route) { r.Paths = []string{"/auth"} })
	e.create(&entity.Plugin{Name: "key-auth", Route: &entity.Ref{ID: rt.ID}, Config: json.RawMessage(`{"hide_credentials":true}`)})
	e.create(&entity.Consumer{Meta: entity.Meta{ID: "c-1"}, Username: "alice"})
	e.create(&entity.KeyAuthCredential{Meta: entity.Meta{ID: "k-1"}, KeyHash: validate.HashKey("secret-key"), Consumer: &entity.Ref{ID: "c-1"}})
	e.sync()

	tests := []struct {
		name       string
		key        string
		wantStatus int
		wantMsg    string
	}{
		{name: "no key", wantStatus: 401, wantMsg: "No API key found in request"},
		{name: "wrong key", key: "nope", wantStatus: 401, wantMsg: "Unauthorized"},
		{name: "good key", key: "secret-key", wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.key != "" {
				hdr = []string{"apikey", tc.key}
			}
			resp, b := e.get("/auth", hdr...)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tc.wantStatus, b)
			}
			rec := e.sink.byRequestID(t, resp.Header.Get("X-Request-Id"))
			if tc.wantMsg != "" {
				var k kongError
				_ = json.Unmarshal(b, &k)
				if k.Message != tc.wantMsg {
					t.Errorf("message = %q, want %q", k.Message, tc.wantMsg)
				}
				if rec.AuthOutcome != "rejected" || rec.ConsumerID != "" {
					t.Errorf("record: auth %q, consumer %q", rec.AuthOutcome, rec.ConsumerID)
				}
				return
			}
			got := decodeEcho(t, b)
			if got.Header.Get("Apikey") != "" {
				t.Error("the key reached the upstream despite hide_credentials")
			}
			if got.Header.Get("X-Consumer-Username") != "alice" {
				t.Errorf("X-Consumer-Username = %q", got.Header.Get("X-Consumer-Username"))
			}
			if rec.ConsumerID != "c-1" || rec.CredentialID != "k-1" || rec.AuthOutcome != "authenticated" {
				t.Errorf("record: consumer %q, credential %q, auth %q", rec.ConsumerID, rec.CredentialID, rec.AuthOutcome)
			}
		})
	}
}
