package admin

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/internal/entity"
	"github.com/tollgate/tollgate/internal/jsonresponse"
)

// Kong's error codes (kong/db/errors.lua); the Admin API returns them in the
// "code" member of error bodies and tools match on them.
const (
	codePrimaryKeyViolation   = 3
	codeSchemaViolation       = 2
	codeForeignKeyViolation   = 4
	codeUniqueViolation       = 5
	codeInvalidOffset         = 7
	codeInvalidSize           = 9
	codeInvalidOptions        = 11
	codeForeignKeysUnresolved = 13
	codeDeclarativeConfig     = 14
)

var codeNames = map[int]string{
	codeSchemaViolation:       "schema violation",
	codePrimaryKeyViolation:   "primary key violation",
	codeForeignKeyViolation:   "foreign key violation",
	codeUniqueViolation:       "unique constraint violation",
	codeInvalidOffset:         "invalid offset",
	codeInvalidSize:           "invalid size",
	codeInvalidOptions:        "invalid options",
	codeForeignKeysUnresolved: "foreign keys unresolved",
	codeDeclarativeConfig:     "invalid declarative configuration",
}

// apiError is an error that carries its HTTP response. Handlers return it
// and one place (writeError) turns any error into a response, as Kong's
// endpoints.handle_error does.
type apiError struct {
	status int
	body   map[string]any
}

func (e *apiError) Error() string {
	if m, ok := e.body["message"].(string); ok {
		return m
	}
	return http.StatusText(e.status)
}

// errMessage is Kong's plain {"message": ...} error.
func errMessage(status int, msg string) *apiError {
	return &apiError{status: status, body: map[string]any{"message": msg}}
}

// errCoded is a Kong DAO error: {"code", "name", "message", "fields"}.
func errCoded(status, code int, msg string, fields map[string]any) *apiError {
	body := map[string]any{"code": code, "name": codeNames[code], "message": msg}
	if fields != nil {
		body["fields"] = fields
	}
	return &apiError{status: status, body: body}
}

var (
	errNotFound         = errMessage(http.StatusNotFound, "Not found")
	errMethodNotAllowed = errMessage(http.StatusMethodNotAllowed, "Method not allowed")
	errUnauthorized     = errMessage(http.StatusUnauthorized, "Unauthorized")
	errBadJSON          = errMessage(http.StatusBadRequest, "Cannot parse JSON body")
	errUnsupportedMedia = errMessage(http.StatusUnsupportedMediaType, "Unsupported Media Type")
	errTooLarge         = errMessage(http.StatusRequestEntityTooLarge, "Request body too large")
)

// errSchema is Kong's schema violation, naming every bad field.
func errSchema(fields entity.FieldErrors) *apiError {
	se := &entity.SchemaError{Fields: fields}
	return errCoded(http.StatusBadRequest, codeSchemaViolation, se.Error(), plainFields(fields))
}

// plainFields converts nested FieldErrors to plain maps for encoding.
func plainFields(f entity.FieldErrors) map[string]any {
	out := make(map[string]any, len(f))
	for k, v := range f {
		switch v := v.(type) {
		case entity.FieldErrors:
			out[k] = plainFields(v)
		default:
			out[k] = v
		}
	}
	return out
}

// errForeignKey is Kong's foreign_key_violation_invalid_reference.
func errForeignKey(field string, kind entity.Kind, id string) *apiError {
	key := map[string]any{"id": id}
	msg := fmt.Sprintf("the foreign key '%s' does not reference an existing '%s' entity.", luaPretty(key), kind)
	return errCoded(http.StatusBadRequest, codeForeignKeyViolation, msg, map[string]any{field: key})
}

// errReferenced is Kong's foreign_key_violation_restricted: a delete refused
// because other entities still reference the entity.
func errReferenced(parent, child entity.Kind) *apiError {
	msg := fmt.Sprintf("an existing '%s' entity references this '%s' entity", child, parent)
	return errCoded(http.StatusBadRequest, codeForeignKeyViolation, msg, map[string]any{"@referenced_by": string(child)})
}

// errUnique is Kong's unique_violation for the given key.
func errUnique(key map[string]any) *apiError {
	msg := "UNIQUE violation detected on '" + luaPretty(key) + "'"
	return errCoded(http.StatusConflict, codeUniqueViolation, msg, key)
}

// errPrimaryKey is Kong's primary_key_violation (a taken id).
func errPrimaryKey(id string) *apiError {
	key := map[string]any{"id": id}
	msg := "primary key violation on key '" + luaPretty(key) + "'"
	return errCoded(http.StatusBadRequest, codePrimaryKeyViolation, msg, key)
}

// errUnresolved is Kong's foreign_keys_unresolved: a reference given by an
// endpoint key (a name) that names no entity.
func errUnresolved(field, keyField, value string, kind entity.Kind) *apiError {
	detail := fmt.Sprintf("the foreign key cannot be resolved with '%s' for an existing '%s' entity",
		luaPretty(map[string]any{keyField: value}), kind)
	msg := fmt.Sprintf("foreign key unresolved (%s.%s: %s)", field, keyField, detail)
	return errCoded(http.StatusBadRequest, codeForeignKeysUnresolved, msg,
		map[string]any{field: map[string]any{keyField: detail}})
}

// luaPretty formats a key the way Kong's messages do (Penlight's
// pretty.write(t, "")): {name="x",service={id="..."}} with sorted keys.
func luaPretty(v any) string {
	var b strings.Builder
	writeLua(&b, v)
	return b.String()
}

func writeLua(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		b.WriteString(strconv.Quote(v))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k)
			b.WriteByte('=')
			writeLua(b, v[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, v)
	}
}

// writeJSON writes v with Kong's content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	jsonresponse.Write(w, status, v)
}

// writeError maps any error to a response. Errors that are not apiErrors
// are unexpected: they are logged and answered as Kong does, 500 with a
// generic message, so that no internal detail leaks.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeJSON(w, ae.status, ae.body)
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, errNotFound.body)
		return
	}
	if errors.Is(err, store.ErrUnavailable) {
		s.log.Warn("admin write refused: config store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"message": "the config store is unreachable, so changes cannot be saved now; this node keeps serving its current config. Retry when the database is back (GET /status shows the node's sync state).",
		})
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeJSON(w, errTooLarge.status, errTooLarge.body)
		return
	}
	s.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, map[string]any{"message": "An unexpected error occurred"})
}
