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
	buf := getBuffer()
	defer putBuffer(buf)
	b, err := json.Append((*buf)[:0], v, json.SortMapKeys)
	if err != nil {
		status = http.StatusInternalServerError
		b = append(b[:0], failed...)
	} else {
		b = append(b, '\n')
	}
	*buf = b
	_, _ = (&writeOnce{w: w, status: status}).Write(b)
}

// Kept buffers: at most keptBuffers at a time (answers being written at
// once beyond that allocate their own), none larger than maxKeptBuffer.
const (
	keptBuffers   = 4
	maxKeptBuffer = 32 << 20
)

// buffers holds the kept buffers. A channel rather than a sync.Pool: a
// pool is emptied by every other garbage collection, and encoding a large
// answer runs several.
var buffers = make(chan *[]byte, keptBuffers)

func getBuffer() *[]byte {
	select {
	case b := <-buffers:
		return b
	default:
		b := make([]byte, 0, 4096)
		return &b
	}
}

func putBuffer(b *[]byte) {
	if cap(*b) > maxKeptBuffer {
		return
	}
	select {
	case buffers <- b:
	default:
	}
}
