package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/tollgate/tollgate/gateway/declarative"
	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
)

// exportConfig is GET /config: the workspace as a declarative file, YAML
// unless JSON is asked for (?format=json or Accept: application/json).
//
// Analytics tokens are not declarative configuration and are left out.
// Secrets are exported the way they are stored: key-auth keys and
// basic-auth passwords as their one-way hashes (so that importing the file
// back keeps every credential working), never in plaintext; certificate
// private keys are masked.
func (s *server) exportConfig(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	ctx := r.Context()
	ws := info(r).ws
	snap, err := s.store.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	var ents []entity.Entity
	for _, e := range snap.Entities {
		if !declarative.Declared(e.Kind()) || e.GetMeta().Workspace != ws {
			continue
		}
		redactForExport(e)
		ents = append(ents, e)
	}
	f := declarative.Export(ents, ws)
	asJSON := r.URL.Query().Get("format") == "json" ||
		(r.URL.Query().Get("format") == "" && strings.Contains(r.Header.Get("Accept"), "application/json"))
	var (
		body []byte
		ct   string
	)
	if asJSON {
		body, err = f.JSON()
		ct = "application/json; charset=utf-8"
	} else {
		body, err = f.YAML()
		ct = "application/yaml; charset=utf-8"
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// redactForExport strips what must never leave the store in clear while
// keeping the hashes an import needs.
func redactForExport(e entity.Entity) {
	switch e := e.(type) {
	case *entity.KeyAuthCredential:
		e.Key = ""
	case *entity.BasicAuthCredential:
		e.Password = ""
	default:
		validate.Redact(e)
	}
}

// importConfig is POST /config: replace the workspace's whole
// configuration with a declarative file, given as the body (YAML or JSON)
// or, as Kong takes it, in a "config" form field or JSON member. The
// workspace's analytics tokens stay (declarative.Replace); the response
// lists the file's entities only.
func (s *server) importConfig(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	ctx := r.Context()
	ws := info(r).ws
	data, mt, err := readBody(w, r, maxConfigBody)
	if err != nil {
		return err
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(data))
		if err != nil {
			return errMessage(http.StatusBadRequest, "Cannot parse form body")
		}
		data = []byte(vals.Get("config"))
	case "multipart/form-data":
		vals, err := parseMultipart(r, data)
		if err != nil {
			return err
		}
		data = []byte(vals.Get("config"))
	case "application/json":
		m, err := decodeJSONObject(data)
		if err != nil {
			return err
		}
		if c, ok := m["config"].(string); ok {
			data = []byte(c)
		}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return declarativeErr(errors.New("expected an object"), map[string]any{"error": "expected an object"})
	}
	f, err := declarative.Parse(data)
	if err != nil {
		return declarativeErrOf(err)
	}
	ents, err := f.Entities(ws, s.plugins, s.now())
	if err != nil {
		return declarativeErrOf(err)
	}
	if err := declarative.Replace(ctx, s.store, ws, ents); err != nil {
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			return declarativeErr(err, map[string]any{string(ce.Kind): map[string]any{
				ce.Field: fmt.Sprintf("uniqueness violation: '%s' with value '%s'", ce.Field, ce.Value),
			}})
		}
		return err
	}
	out := map[string]any{}
	for _, e := range ents {
		validate.Redact(e)
		k := string(e.Kind())
		byID, _ := out[k].(map[string]any)
		if byID == nil {
			byID = map[string]any{}
			out[k] = byID
		}
		byID[e.GetMeta().ID] = e
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// declarativeErrOf maps the errors of package declarative to Kong's
// "invalid declarative configuration" error.
func declarativeErrOf(err error) error {
	var de *declarative.Error
	if errors.As(err, &de) {
		return declarativeErr(de, de.Fields())
	}
	var se *entity.SchemaError
	if errors.As(err, &se) {
		return declarativeErr(se, plainFields(se.Fields))
	}
	return declarativeErr(err, map[string]any{"error": err.Error()})
}

func declarativeErr(err error, fields map[string]any) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, "declarative config is invalid") {
		msg = "declarative config is invalid: " + msg
	}
	return errCoded(http.StatusBadRequest, codeDeclarativeConfig, msg, fields)
}
