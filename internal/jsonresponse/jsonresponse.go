// Package jsonresponse writes the JSON answers of Tollgate's HTTP APIs (the
// Admin API and the analytics API) the same way: encoded before the status
// is sent, so that a value that cannot be encoded becomes a 500 with a
// generic message rather than half a body, with a Content-Length, and
// without HTML escaping (Kong does not escape either).
package jsonresponse

import (
	stdjson "encoding/json"
	"net/http"
	"strconv"

	"github.com/segmentio/encoding/json"
	"github.com/tollgate/tollgate/internal/keep"
)

// Write writes v as JSON with status, encoded by encoding/json. Headers
// already set on w are kept.
func Write(w http.ResponseWriter, status int, v any) {
	once := &writeOnce{w: w, status: status}
	enc := stdjson.NewEncoder(once)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil && !once.wrote {
		once.status = http.StatusInternalServerError
		_, _ = once.Write([]byte(failed))
	}
}

const failed = `{"message":"An unexpected error occurred"}` + "\n"

// writeOnce sends the status and the headers, with the body's length, on
// its first Write: json.Encoder encodes a whole value into a buffer of its
// own and writes it in one call, so the body is not copied again.
type writeOnce struct {
	w      http.ResponseWriter
	status int
	wrote  bool
}

func (o *writeOnce) Write(b []byte) (int, error) {
	if o.wrote {
		return o.w.Write(b)
	}
	o.wrote = true
	h := o.w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	o.w.WriteHeader(o.status)
	return o.w.Write(b)
}

// WriteBulk writes v as Write does, for answers that can be megabytes (a
// month of daily usage, thousands of breakdown rows). It encodes with
// github.com/segmentio/encoding/json into buffers kept from one answer to
// the next: encoding/json grows a new buffer for every answer, and
// growing (and faulting in) megabytes cost more than the encoding. The
// bytes are encoding/json's for values made of structs, slices, maps,
// strings, numbers, booleans and time.Time; RawMessages and other
// Marshalers are checked but not compacted, and map keys of string kind
// are encoded by their MarshalText, so values that hold those go to
// Write.
func WriteBulk(w http.ResponseWriter, status int, v any) {
	b, err := json.Append(buffers.Get(), v, json.SortMapKeys)
	if err != nil {
		status = http.StatusInternalServerError
		b = append(b[:0], failed...)
	} else {
		b = append(b, '\n')
	}
	_, _ = (&writeOnce{w: w, status: status}).Write(b)
	buffers.Put(b)
}

// buffers are the kept buffers: at most 4 at a time (answers being
// written at once beyond that allocate their own), none larger than
// 32 MiB.
var buffers = keep.NewSlices[byte](4, 32<<20)
