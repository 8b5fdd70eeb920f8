package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/internal/entity"
)

// The messages of Kong's schema validator for values of the wrong type, so
// that Admin API clients see the errors they see from Kong.
const (
	msgUnknownField = "unknown field"
	msgString       = "expected a string"
	msgBoolean      = "expected a boolean"
	msgNumber       = "expected a number"
	msgInteger      = "expected an integer"
	msgArray        = "expected an array"
	msgRecord       = "expected a record"
	msgMap          = "expected a map"
)

// DecodeConfig decodes raw (a JSON object, or empty for all defaults) into a
// fresh f.NewConfig() strictly: unknown fields and wrong types are errors
// naming the field. Every bad field is reported, not only the first, and the
// errors of nested records nest in the result as Kong nests them. A JSON
// null leaves the field at its default, as Kong does for fields with defaults.
//
// The config struct's fields are matched by their json tags; the kinds
// understood are strings, booleans, integers, floats, pointers to those
// (nil meaning unset), slices, structs (records) and maps with string keys.
func DecodeConfig(f *Factory, raw []byte) (any, entity.FieldErrors) {
	cfg, ferr := decodeConfig(f, raw)
	if ferr != nil {
		return nil, ferr
	}
	return cfg, nil
}

// decodeConfig is DecodeConfig, but returns the config decoded so far (bad
// fields left at their defaults) with the errors when raw was an object, so
// that validation can report the constructor's complaints too.
func decodeConfig(f *Factory, raw []byte) (any, entity.FieldErrors) {
	cfg := f.NewConfig()
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return cfg, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, entity.FieldErrors{"@entity": "invalid JSON: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, entity.FieldErrors{"@entity": "invalid JSON: data after the config object"}
	}
	rv := reflect.ValueOf(cfg)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, entity.FieldErrors{"@entity": "plugin " + f.Name + " has no config record"}
	}
	switch res := assign(rv.Elem(), v).(type) {
	case entity.FieldErrors:
		return cfg, res
	case string:
		return nil, entity.FieldErrors{"@entity": res}
	}
	return cfg, nil
}

// assign stores the decoded JSON value v into dst. It returns nil on
// success, a message (string) when v itself is wrong, or entity.FieldErrors
// when parts of a record, array or map are wrong.
func assign(dst reflect.Value, v any) any {
	if v == nil {
		return nil // null: keep the default
	}
	switch dst.Kind() {
	case reflect.Pointer:
		elem := reflect.New(dst.Type().Elem())
		if res := assign(elem.Elem(), v); res != nil {
			return res
		}
		dst.Set(elem)
		return nil
	case reflect.Interface:
		dst.Set(reflect.ValueOf(v))
		return nil
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return msgString
		}
		dst.SetString(s)
		return nil
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return msgBoolean
		}
		dst.SetBool(b)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			return msgInteger
		}
		i, ok := integer(n)
		if !ok || dst.OverflowInt(i) {
			return msgInteger
		}
		dst.SetInt(i)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			return msgInteger
		}
		i, ok := integer(n)
		if !ok || i < 0 || dst.OverflowUint(uint64(i)) {
			return msgInteger
		}
		dst.SetUint(uint64(i))
		return nil
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			return msgNumber
		}
		x, err := n.Float64()
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) || dst.OverflowFloat(x) {
			return msgNumber
		}
		dst.SetFloat(x)
		return nil
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return msgArray
		}
		out := reflect.MakeSlice(dst.Type(), len(arr), len(arr))
		var errs entity.FieldErrors
		for i, e := range arr {
			if e == nil {
				// Kong rejects holes in arrays; a null element is no value.
				errs = addErr(errs, strconv.Itoa(i+1), "required field missing")
				continue
			}
			if res := assign(out.Index(i), e); res != nil {
				errs = addErr(errs, strconv.Itoa(i+1), res)
			}
		}
		if errs != nil {
			return errs
		}
		dst.Set(out)
		return nil
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok || dst.Type().Key().Kind() != reflect.String {
			return msgMap
		}
		out := reflect.MakeMapWithSize(dst.Type(), len(obj))
		var errs entity.FieldErrors
		for k, e := range obj {
			ev := reflect.New(dst.Type().Elem()).Elem()
			if res := assign(ev, e); res != nil {
				errs = addErr(errs, k, res)
				continue
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(dst.Type().Key()), ev)
		}
		if errs != nil {
			return errs
		}
		dst.Set(out)
		return nil
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return msgRecord
		}
		fields := structFields(dst.Type())
		var errs entity.FieldErrors
		for k, e := range obj {
			idx, ok := fields[k]
			if !ok {
				errs = addErr(errs, k, msgUnknownField)
				continue
			}
			if res := assign(dst.Field(idx), e); res != nil {
				errs = addErr(errs, k, res)
			}
		}
		if errs != nil {
			return errs
		}
		return nil
	}
	return "unsupported config field type " + dst.Type().String()
}

func addErr(errs entity.FieldErrors, key string, res any) entity.FieldErrors {
	if errs == nil {
		errs = entity.FieldErrors{}
	}
	errs[key] = res
	return errs
}

// integer parses a JSON number that must be integral (1 and 1.0 both are).
func integer(n json.Number) (int64, bool) {
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	x, err := n.Float64()
	if err != nil || x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
		return 0, false
	}
	return int64(x), true
}

// structFields maps the JSON names of t's exported fields to their index.
func structFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			tag, _, _ = strings.Cut(tag, ",")
			if tag == "-" {
				continue
			}
			if tag != "" {
				name = tag
			}
		}
		m[name] = i
	}
	return m
}

// AsFieldErrors turns a constructor's error into field errors: the fields
// of an *entity.SchemaError pass through, and a plain error becomes
// {"@entity": msg}. A nil error gives nil.
func AsFieldErrors(err error) entity.FieldErrors {
	if err == nil {
		return nil
	}
	var se *entity.SchemaError
	if errors.As(err, &se) && len(se.Fields) > 0 {
		return se.Fields
	}
	return entity.FieldErrors{"@entity": err.Error()}
}
