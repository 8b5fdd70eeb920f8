// Package keyauth is the key-auth plugin: it identifies the consumer of a
// request by an API key sent in a header, the query string or the body, as
// Kong 3's key-auth does (same config, priority 1250, responses and upstream
// headers).
//
// It owns finding the key in the request and the responses to requests
// without a valid one; keys are looked up through plugin.Credentials. It
// must never log or forward a key it was told to hide.
package keyauth

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// Name and Priority are Kong's.
const (
	Name     = "key-auth"
	Priority = 1250
)

// Config is key-auth's configuration, with Kong's fields and defaults.
type Config struct {
	// KeyNames are the header, query parameter and body field names the key
	// may be sent in, tried in order.
	KeyNames []string `json:"key_names"`
	// HideCredentials removes the key from the request before it is proxied.
	HideCredentials bool `json:"hide_credentials"`
	// Anonymous is the id or username of the consumer to use when
	// authentication fails; unset, the request is rejected with 401.
	Anonymous *string `json:"anonymous"`
	// KeyInHeader, KeyInQuery and KeyInBody say where to look for the key.
	// The body is read only with KeyInBody (form, JSON or multipart bodies).
	KeyInHeader bool `json:"key_in_header"`
	KeyInQuery  bool `json:"key_in_query"`
	KeyInBody   bool `json:"key_in_body"`
	// RunOnPreflight authenticates OPTIONS requests too; false lets CORS
	// preflights through unauthenticated.
	RunOnPreflight bool `json:"run_on_preflight"`
	// Realm is sent in the WWW-Authenticate header of 401 responses
	// (`Key realm="<realm>"`); unset, the header is just `Key`.
	Realm *string `json:"realm"`
}

// DefaultConfig returns Kong's defaults.
func DefaultConfig() *Config {
	return &Config{
		KeyNames:       []string{"apikey"},
		KeyInHeader:    true,
		KeyInQuery:     true,
		RunOnPreflight: true,
	}
}

// Validate checks the config, naming every bad field.
func (c *Config) Validate() error {
	fe := entity.FieldErrors{}
	if c.KeyNames == nil {
		fe["key_names"] = "required field missing"
	}
	elems := entity.FieldErrors{}
	for i, n := range c.KeyNames {
		if msg := plugin.HeaderNameError(n); msg != "" {
			elems[strconv.Itoa(i+1)] = msg
		}
	}
	fe.Nest("key_names", elems)
	return fe.Err()
}

// Factory returns the key-auth plugin factory.
func Factory() *plugin.Factory {
	return &plugin.Factory{
		Name:       Name,
		Priority:   Priority,
		NoConsumer: true,
		NewConfig:  func() any { return DefaultConfig() },
		New: func(cfg any, env plugin.Env) (any, error) {
			return New(cfg.(*Config))
		},
	}
}

// Kong 3's messages (kong/plugins/key-auth/handler.lua).
const (
	msgDuplicate = "Duplicate API key found"
	msgNoKey     = "No API key found in request"
	msgInvalid   = "Unauthorized"
	msgUnexpect  = "An unexpected error occurred"
)

// maxBody bounds the body read when looking for a key in it; a longer body
// is treated as having no key, as Kong treats a body it cannot process.
const maxBody = 8 << 20

// KeyAuth is a key-auth instance.
type KeyAuth struct {
	cfg       Config
	anonymous string

	headers401                       map[string]string
	noKey, invalid, duplicate        []byte
	anonymousMissing, unexpectedBody []byte
	jsonHeaders                      map[string]string
}

// New validates cfg and returns an instance.
func New(cfg *Config) (*KeyAuth, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	k := &KeyAuth{cfg: *cfg}
	if cfg.Anonymous != nil {
		k.anonymous = *cfg.Anonymous
	}
	// Since Kong 3.7 every 401 carries the challenge, with the realm only
	// when one is configured.
	challenge := "Key"
	if cfg.Realm != nil {
		challenge = `Key realm="` + *cfg.Realm + `"`
	}
	k.headers401 = map[string]string{"Content-Type": plugin.ContentTypeJSON, "WWW-Authenticate": challenge}
	k.jsonHeaders = map[string]string{"Content-Type": plugin.ContentTypeJSON}
	k.noKey = plugin.MessageBody(msgNoKey)
	k.invalid = plugin.MessageBody(msgInvalid)
	k.duplicate = plugin.MessageBody(msgDuplicate)
	k.anonymousMissing = plugin.MessageBody("anonymous consumer " + k.anonymous + " is configured but doesn't exist")
	k.unexpectedBody = plugin.MessageBody(msgUnexpect)
	return k, nil
}

var (
	_ plugin.Accessor        = (*KeyAuth)(nil)
	_ plugin.RequestBodyUser = (*KeyAuth)(nil)
)

// UsesRequestBody reports key_in_body.
func (k *KeyAuth) UsesRequestBody() bool { return k.cfg.KeyInBody }

// Access authenticates the request or ends it with 401.
func (k *KeyAuth) Access(c *plugin.Context) {
	if !k.cfg.RunOnPreflight && c.Request.Method() == "OPTIONS" {
		return
	}
	// With anonymous configured, auth plugins are a logical OR: a consumer
	// authenticated by an earlier plugin with a real credential is enough.
	if k.anonymous != "" && c.Credential != nil {
		return
	}
	if c.Credentials == nil {
		c.Exit(500, k.unexpectedBody, k.jsonHeaders)
		return
	}
	body, failed := k.authenticate(c)
	if !failed {
		return
	}
	if k.anonymous != "" {
		consumer, ok := c.Credentials.Consumer(c.Workspace, k.anonymous)
		if !ok {
			c.Exit(500, k.anonymousMissing, k.jsonHeaders)
			return
		}
		plugin.SetConsumer(c, consumer, "", "")
		return
	}
	if c.Record != nil {
		c.Record.AuthOutcome = plugin.AuthRejected
	}
	c.Exit(401, body, k.headers401)
}

// authenticate looks for the key; on failure it returns the 401 body.
func (k *KeyAuth) authenticate(c *plugin.Context) ([]byte, bool) {
	req := c.Request
	var bd *formBody
	key, found := "", false
	for _, name := range k.cfg.KeyNames {
		dup := false
		if k.cfg.KeyInHeader {
			if v := req.Header(name); v != "" {
				key, found = v, true
				dup = len(req.HeaderValues(name)) > 1
			}
		}
		if !found && k.cfg.KeyInQuery && req.HasQuery(name) {
			key, found = req.Query(name), true
			dup = countQuery(req, name) > 1
		}
		if !found && k.cfg.KeyInBody {
			if bd == nil {
				bd = readBody(req)
			}
			key, found, dup = bd.get(name)
		}
		if dup {
			return k.duplicate, true
		}
		if found {
			if k.cfg.HideCredentials {
				if req.HasQuery(name) {
					req.DelQuery(name)
				}
				req.DelHeader(name)
				if k.cfg.KeyInBody {
					if bd == nil {
						bd = readBody(req)
					}
					bd.remove(req, name)
				}
			}
			break
		}
	}
	if key == "" {
		return k.noKey, true
	}
	consumer, cred, ok := c.Credentials.KeyAuth(c.Workspace, key)
	if !ok || consumer == nil || cred == nil {
		return k.invalid, true
	}
	plugin.SetConsumer(c, consumer, cred.ID, cred.ID)
	return nil, false
}

func countQuery(req plugin.Request, name string) int {
	n := 0
	req.VisitQuery(func(k, _ string) {
		if k == name {
			n++
		}
	})
	return n
}

// formBody is the request body parsed as Kong's kong.request.get_body does:
// urlencoded forms, JSON objects and multipart forms.
type formBody struct {
	kind     string // "form", "json", "multipart" or "" (none or unreadable)
	raw      []byte
	boundary string
	form     url.Values
	json     map[string]json.RawMessage
}

func readBody(req plugin.Request) *formBody {
	fb := &formBody{}
	mt, params, err := mime.ParseMediaType(req.Header("Content-Type"))
	if err != nil {
		return fb
	}
	raw, ok, err := req.Body(maxBody)
	if err != nil || !ok {
		return fb
	}
	fb.raw = raw
	switch mt {
	case "application/x-www-form-urlencoded":
		if fb.form, err = url.ParseQuery(string(raw)); err == nil {
			fb.kind = "form"
		}
	case "application/json":
		if json.Unmarshal(raw, &fb.json) == nil && fb.json != nil {
			fb.kind = "json"
		}
	case "multipart/form-data":
		fb.boundary = params["boundary"]
		form, err := multipart.NewReader(bytes.NewReader(raw), fb.boundary).ReadForm(maxBody)
		if err == nil {
			fb.form = form.Value
			fb.kind = "multipart"
			_ = form.RemoveAll()
		}
	}
	return fb
}

// get returns the field's value if it is a string; dup is true when it
// holds several values (Kong sees a table there).
func (fb *formBody) get(name string) (v string, found, dup bool) {
	switch fb.kind {
	case "form", "multipart":
		vs := fb.form[name]
		if len(vs) > 1 {
			return "", false, true
		}
		if len(vs) == 1 {
			return vs[0], true, false
		}
	case "json":
		raw, ok := fb.json[name]
		if !ok {
			return "", false, false
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && (raw[0] == '[' || raw[0] == '{') {
			return "", false, true
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, true, false
		}
	}
	return "", false, false
}

// remove deletes the field from the body sent upstream.
func (fb *formBody) remove(req plugin.Request, name string) {
	var out []byte
	switch fb.kind {
	case "form":
		if _, ok := fb.form[name]; !ok {
			return
		}
		fb.form.Del(name)
		out = []byte(fb.form.Encode())
	case "json":
		if _, ok := fb.json[name]; !ok {
			return
		}
		delete(fb.json, name)
		out, _ = json.Marshal(fb.json)
	case "multipart":
		if _, ok := fb.form[name]; !ok {
			return
		}
		delete(fb.form, name)
		out = dropPart(fb.raw, fb.boundary, name)
		if out == nil {
			return
		}
	default:
		return
	}
	req.SetBody(out)
	req.SetHeader("Content-Length", strconv.Itoa(len(out)))
}

// dropPart re-encodes a multipart body without the form field name, keeping
// every other part (files included) and the boundary.
func dropPart(raw []byte, boundary, name string) []byte {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.SetBoundary(boundary); err != nil {
		return nil
	}
	r := multipart.NewReader(bytes.NewReader(raw), boundary)
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil
		}
		if p.FormName() == name && p.FileName() == "" {
			continue
		}
		pw, err := w.CreatePart(p.Header)
		if err != nil {
			return nil
		}
		if _, err := io.Copy(pw, p); err != nil {
			return nil
		}
	}
	if err := w.Close(); err != nil {
		return nil
	}
	return buf.Bytes()
}
