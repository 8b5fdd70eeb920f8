// Package jsonresponse writes the JSON answers of Tollgate's HTTP APIs (the
// Admin API and the analytics API) the same way: encoded before the status
// is sent, so that a value that cannot be encoded becomes a 500 with a
// generic message rather than half a body, with a Content-Length, and
// without HTML escaping (Kong does not escape either).
package jsonresponse

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// Write writes v as JSON with status. Headers already set on w are kept.
func Write(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"message":"An unexpected error occurred"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
