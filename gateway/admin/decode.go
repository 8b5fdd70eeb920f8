package admin

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"

	"github.com/tollgate/tollgate/internal/entity"
)

// Kong's type messages (kong/db/schema/init.lua, validation_errors).
const (
	msgUnknownField = "unknown field"
	msgString       = "expected a string"
	msgInteger      = "expected an integer"
	msgNumber       = "expected a number"
	msgBoolean      = "expected a boolean"
	msgArray        = "expected an array"
	msgMap          = "expected a map"
	msgRecord       = "expected a record"
	msgUUID         = "expected a valid UUID"
)

// readOnlyFields are computed by the gateway (hashes of secrets) and never
// taken from input; a client that echoes a GET response back in a PUT
// sends them, so they are ignored rather than refused.
var readOnlyFields = map[string]bool{"key_hash": true, "key_prefix": true, "password_hash": true}

// jsonFields maps the JSON names of t's fields (with embedded structs'
// fields promoted, as encoding/json does) to the fields.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	collectFields(t, nil, out)
	return out
}

func collectFields(t reflect.Type, index []int, out map[string]reflect.StructField) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		idx := append(append([]int(nil), index...), i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			collectFields(f.Type, idx, out)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, taken := out[name]; taken {
			continue // the shallower field wins, as in encoding/json
		}
		f.Index = idx
		out[name] = f
	}
}

// decodeInto sets the fields of the struct v from in, over the values v
// already holds: records merge (Kong's PATCH semantics for record fields),
// everything else is replaced. Every field that does not fit its type is
// recorded in errs under its dotted path; nothing stops at the first error.
func decodeInto(v reflect.Value, in map[string]any, path string, errs entity.FieldErrors) {
	fields := jsonFields(v.Type())
	for k, val := range in {
		p := joinPath(path, k)
		f, ok := fields[k]
		if !ok {
			errs.Add(p, msgUnknownField)
			continue
		}
		if path == "" && readOnlyFields[k] {
			continue
		}
		decodeValue(v.FieldByIndex(f.Index), val, p, errs)
	}
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func decodeValue(v reflect.Value, val any, path string, errs entity.FieldErrors) {
	t := v.Type()
	if val == nil {
		// null unsets a field; validation then applies its default.
		v.Set(reflect.Zero(t))
		return
	}
	switch {
	case t == rawMessageType:
		m, ok := val.(map[string]any)
		if !ok {
			errs.Add(path, msgRecord)
			return
		}
		merged := mergeRaw(v.Bytes(), m)
		b, err := json.Marshal(merged)
		if err != nil {
			errs.Add(path, msgRecord)
			return
		}
		v.SetBytes(b)
		return
	case t.Kind() == reflect.Pointer:
		// A reference or optional scalar is replaced whole.
		nv := reflect.New(t.Elem())
		local := entity.FieldErrors{}
		decodeValue(nv.Elem(), val, path, local)
		if ref, ok := nv.Interface().(*entity.Ref); ok && len(local) == 0 && ref.ID != "" && !isUUID(ref.ID) {
			local.Add(path+".id", msgUUID)
		}
		if len(local) > 0 {
			mergeErrs(errs, local)
			return
		}
		v.Set(nv)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := val.(map[string]any)
		if !ok {
			errs.Add(path, msgRecord)
			return
		}
		decodeInto(v, m, path, errs)
	case reflect.String:
		s, ok := val.(string)
		if !ok {
			errs.Add(path, msgString)
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := val.(bool)
		if !ok {
			errs.Add(path, msgBoolean)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f, ok := number(val)
		if !ok || f != math.Trunc(f) || v.OverflowInt(int64(f)) || math.Abs(f) > 1<<53 {
			errs.Add(path, msgInteger)
			return
		}
		v.SetInt(int64(f))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f, ok := number(val)
		if !ok || f != math.Trunc(f) || f < 0 || v.OverflowUint(uint64(f)) || f > 1<<53 {
			errs.Add(path, msgInteger)
			return
		}
		v.SetUint(uint64(f))
	case reflect.Float32, reflect.Float64:
		f, ok := number(val)
		if !ok {
			errs.Add(path, msgNumber)
			return
		}
		v.SetFloat(f)
	case reflect.Slice:
		arr, ok := val.([]any)
		if !ok {
			errs.Add(path, msgArray)
			return
		}
		out := reflect.MakeSlice(t, len(arr), len(arr))
		elemErrs := entity.FieldErrors{}
		for i, e := range arr {
			decodeValue(out.Index(i), e, "e", elemErrs)
		}
		if len(elemErrs) > 0 {
			// Element errors are reported on the field itself.
			if msg, ok := elemErrs["e"].(string); ok {
				errs.Add(path, msg)
			} else {
				errs.Add(path, msgArray)
			}
			return
		}
		v.Set(out)
	case reflect.Map:
		m, ok := val.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			errs.Add(path, msgMap)
			return
		}
		out := reflect.MakeMapWithSize(t, len(m))
		local := entity.FieldErrors{}
		for k, e := range m {
			ev := reflect.New(t.Elem()).Elem()
			decodeValue(ev, e, joinPath(path, k), local)
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		if len(local) > 0 {
			mergeErrs(errs, local)
			return
		}
		v.Set(out)
	case reflect.Interface:
		v.Set(reflect.ValueOf(val))
	default:
		errs.Add(path, "unsupported field")
	}
}

// mergeErrs adds every error of src to dst, merging nested fields.
func mergeErrs(dst, src entity.FieldErrors) {
	for k, v := range src {
		if sub, ok := v.(entity.FieldErrors); ok {
			if prev, ok := dst[k].(entity.FieldErrors); ok {
				mergeErrs(prev, sub)
				continue
			}
		}
		dst[k] = v
	}
}

// number reads a JSON number (json.Number from the decoder, float64 from
// other sources).
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, false
		}
		return f, true
	case float64:
		return n, !math.IsInf(n, 0) && !math.IsNaN(n)
	}
	return 0, false
}

// mergeRaw merges the object in over the JSON object base (a plugin's
// stored config): nested objects merge, everything else is replaced, as
// Kong merges record values on PATCH.
func mergeRaw(base json.RawMessage, in map[string]any) map[string]any {
	var cur map[string]any
	if len(base) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(base)))
		dec.UseNumber()
		if dec.Decode(&cur) != nil {
			cur = nil
		}
	}
	return mergeMaps(cur, in)
}

func mergeMaps(base, in map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(in))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range in {
		if sub, ok := v.(map[string]any); ok {
			if prev, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(prev, sub)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// isUUID reports whether s is a UUID in its canonical textual form, the
// only form Kong accepts (kong/tools/utils.lua is_valid_uuid).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
