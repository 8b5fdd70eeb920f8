package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Body size limits. Entities are small; a declarative file for a large
// installation is not.
const (
	maxEntityBody = 8 << 20
	maxConfigBody = 64 << 20
	// maxFormIndex bounds the position in "paths[N]" so that a request cannot
	// make the decoder allocate an arbitrarily long array.
	maxFormIndex = 1000
)

// bodyKind is how a request body was encoded.
type bodyKind int

const (
	bodyNone bodyKind = iota
	bodyJSON
	bodyForm
	bodyRaw // any other media type, for endpoints that take raw files
)

// readBody reads the request body within limit and says how it is encoded.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, string, error) {
	if r.Body == nil {
		return nil, "", nil
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, "", errTooLarge
		}
		return nil, "", errMessage(http.StatusBadRequest, "Cannot read request body")
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return data, strings.ToLower(mt), nil
}

// readInput decodes an entity request body into a JSON-shaped map (values
// are nil, bool, string, json.Number, []any or map[string]any). Kong's
// Admin API accepts JSON and both kinds of HTML form; form values are all
// strings, and the caller converts them per field type with inferForm.
func readInput(w http.ResponseWriter, r *http.Request) (map[string]any, bool, error) {
	data, mt, err := readBody(w, r, maxEntityBody)
	if err != nil {
		return nil, false, err
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		m, err := decodeJSONObject(data)
		return m, false, err
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, false, errMessage(http.StatusBadRequest, "Cannot parse form body")
		}
		return decodeForm(vals), true, nil
	case mt == "multipart/form-data":
		vals, err := parseMultipart(r, data)
		if err != nil {
			return nil, false, err
		}
		return decodeForm(vals), true, nil
	case len(bytes.TrimSpace(data)) == 0:
		return map[string]any{}, false, nil
	}
	// Kong answers 415 to a body it cannot read (kong/api/api_helpers.lua).
	return nil, false, errUnsupportedMedia
}

// decodeJSONObject decodes one JSON object, keeping numbers exact.
func decodeJSONObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errBadJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errBadJSON
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errBadJSON
	}
	return m, nil
}

// parseMultipart reads a multipart/form-data body. File parts count as
// values, so that `curl -F cert=@cert.pem` works as it does with Kong.
func parseMultipart(r *http.Request, data []byte) (url.Values, error) {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return nil, errMessage(http.StatusBadRequest, "Cannot parse multipart body")
	}
	req := &http.Request{
		Method: http.MethodPost,
		Header: http.Header{"Content-Type": {r.Header.Get("Content-Type")}},
		Body:   io.NopCloser(bytes.NewReader(data)),
	}
	// The body is already bounded, so keeping every part in memory is safe
	// and leaves no temporary files behind.
	if err := req.ParseMultipartForm(int64(len(data)) + 1); err != nil {
		return nil, errMessage(http.StatusBadRequest, "Cannot parse multipart body")
	}
	defer func() { _ = req.MultipartForm.RemoveAll() }()
	vals := url.Values{}
	for k, vs := range req.MultipartForm.Value {
		vals[k] = append(vals[k], vs...)
	}
	for k, fhs := range req.MultipartForm.File {
		for _, fh := range fhs {
			f, err := fh.Open()
			if err != nil {
				return nil, errMessage(http.StatusBadRequest, "Cannot parse multipart body")
			}
			b, err := io.ReadAll(f)
			_ = f.Close()
			if err != nil {
				return nil, errMessage(http.StatusBadRequest, "Cannot parse multipart body")
			}
			vals[k] = append(vals[k], string(b))
		}
	}
	return vals, nil
}

// decodeForm turns form fields into a nested map with Kong's conventions
// (kong/api/arguments.lua): "config.minute=5" nests, "paths[]=/a" and
// repeated "paths=/a" make arrays, "paths[2]=/b" places by 1-based index.
func decodeForm(vals url.Values) map[string]any {
	root := map[string]any{}
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	// A stable order makes "a[]" and "a" combine the same way every time.
	sort.Strings(names)
	for _, name := range names {
		setFormValue(root, name, vals[name])
	}
	return root
}

func setFormValue(root map[string]any, name string, vals []string) {
	segs := strings.Split(name, ".")
	for _, s := range segs {
		if s == "" {
			segs = []string{name}
			break
		}
	}
	m := root
	for i, seg := range segs {
		base, idx, isArr := splitIndex(seg)
		if i == len(segs)-1 {
			if isArr {
				arr, _ := m[base].([]any)
				if idx > 0 {
					for _, v := range vals {
						arr = placeAt(arr, idx, v)
						idx++
					}
				} else {
					for _, v := range vals {
						arr = append(arr, v)
					}
				}
				m[base] = arr
				return
			}
			switch prev := m[base].(type) {
			case nil:
				if len(vals) == 1 {
					m[base] = vals[0]
				} else {
					arr := make([]any, len(vals))
					for j, v := range vals {
						arr[j] = v
					}
					m[base] = arr
				}
			case []any:
				for _, v := range vals {
					prev = append(prev, v)
				}
				m[base] = prev
			default:
				arr := []any{prev}
				for _, v := range vals {
					arr = append(arr, v)
				}
				m[base] = arr
			}
			return
		}
		if isArr {
			// "a[1].b=x": an array of records.
			arr, _ := m[base].([]any)
			if idx <= 0 {
				idx = len(arr) + 1
			}
			var sub map[string]any
			if idx <= len(arr) {
				sub, _ = arr[idx-1].(map[string]any)
			}
			if sub == nil {
				sub = map[string]any{}
				arr = placeAt(arr, idx, sub)
			}
			m[base] = arr
			m = sub
			continue
		}
		sub, ok := m[base].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[base] = sub
		}
		m = sub
	}
}

// splitIndex splits "paths[2]" into ("paths", 2, true) and "paths[]" into
// ("paths", 0, true).
func splitIndex(seg string) (string, int, bool) {
	if !strings.HasSuffix(seg, "]") {
		return seg, 0, false
	}
	open := strings.LastIndexByte(seg, '[')
	if open <= 0 {
		return seg, 0, false
	}
	inner := seg[open+1 : len(seg)-1]
	if inner == "" {
		return seg[:open], 0, true
	}
	n, err := strconv.Atoi(inner)
	if err != nil || n < 0 {
		return seg, 0, false
	}
	if n > maxFormIndex {
		n = 0 // appended instead
	}
	return seg[:open], n, true
}

// placeAt sets arr[idx-1] = v, growing arr; a taken slot shifts the rest,
// as Lua's table.insert does.
func placeAt(arr []any, idx int, v any) []any {
	if idx <= 0 || idx > maxFormIndex {
		return append(arr, v)
	}
	for len(arr) < idx-1 {
		arr = append(arr, nil)
	}
	if idx-1 == len(arr) {
		return append(arr, v)
	}
	if arr[idx-1] == nil {
		arr[idx-1] = v
		return arr
	}
	arr = append(arr, nil)
	copy(arr[idx:], arr[idx-1:])
	arr[idx-1] = v
	return arr
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

// inferForm converts form strings to the JSON types of the fields they are
// for, as Kong's arguments.infer does: numbers for numeric fields, booleans
// from "true"/"false", a single value into a one-element array for array
// fields, and "" into null. Values that do not convert stay strings, and
// decoding then reports the field's type error. config, when t is a plugin,
// is the plugin's config type (nil when unknown).
func inferForm(v any, t reflect.Type, config reflect.Type) any {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return v
	}
	switch val := v.(type) {
	case string:
		if val == "" {
			return nil
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
			if isJSONNumber(val) {
				return json.Number(val)
			}
		case reflect.Bool:
			switch val {
			case "true":
				return true
			case "false":
				return false
			}
		case reflect.Slice:
			if t != rawMessageType {
				return []any{inferForm(val, t.Elem(), nil)}
			}
		}
		return val
	case []any:
		if t.Kind() == reflect.Slice && t != rawMessageType {
			for i, e := range val {
				val[i] = inferForm(e, t.Elem(), nil)
			}
		}
		return val
	case map[string]any:
		switch {
		case t == rawMessageType:
			if config != nil {
				return inferForm(val, config, nil)
			}
		case t.Kind() == reflect.Struct:
			fields := jsonFields(t)
			for k, e := range val {
				if f, ok := fields[k]; ok {
					val[k] = inferForm(e, f.Type, config)
				}
			}
		case t.Kind() == reflect.Map:
			for k, e := range val {
				val[k] = inferForm(e, t.Elem(), nil)
			}
		}
		return val
	}
	return v
}

// isJSONNumber reports whether s is a JSON number literal.
func isJSONNumber(s string) bool {
	if s == "" || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return false
	}
	return json.Valid([]byte(s))
}
