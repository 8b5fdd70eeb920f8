package entity

import (
	"sort"
	"strconv"
	"strings"
)

// FieldErrors names what is wrong with each field of an input, nested the way
// Kong's "schema violation" errors nest them: a value is a string or another
// FieldErrors (e.g. {"config": {"minute": "expected a number"}}).
type FieldErrors map[string]any

// Add records msg for the dotted field path ("config.minute").
func (f FieldErrors) Add(path, msg string) {
	parts := strings.Split(path, ".")
	m := f
	for _, p := range parts[:len(parts)-1] {
		sub, ok := m[p].(FieldErrors)
		if !ok {
			sub = FieldErrors{}
			m[p] = sub
		}
		m = sub
	}
	m[parts[len(parts)-1]] = msg
}

// Nest records all of sub under field.
func (f FieldErrors) Nest(field string, sub FieldErrors) {
	if len(sub) > 0 {
		f[field] = sub
	}
}

// Err returns f as an error, or nil when f is empty.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &SchemaError{Fields: f}
}

// SchemaError is a validation failure naming every bad field.
type SchemaError struct {
	Fields FieldErrors
}

func (e *SchemaError) Error() string {
	var parts []string
	flatten("", e.Fields, &parts)
	sort.Strings(parts)
	if len(parts) == 1 {
		return "schema violation (" + parts[0] + ")"
	}
	return strconv.Itoa(len(parts)) + " schema violations (" + strings.Join(parts, "; ") + ")"
}

func flatten(prefix string, f FieldErrors, out *[]string) {
	for k, v := range f {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		switch v := v.(type) {
		case FieldErrors:
			flatten(name, v, out)
		case map[string]any:
			flatten(name, FieldErrors(v), out)
		default:
			*out = append(*out, name+": "+toString(v))
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return "invalid value"
}
