package requesttransformer

import (
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// Fields lists changes to the body, headers and query string. Entries are
// names (remove) or "name:value" pairs (the others; rename's value is the
// new name).
type Fields struct {
	Body        []string `json:"body"`
	Headers     []string `json:"headers"`
	Querystring []string `json:"querystring"`
}

// ReplaceFields is Fields plus the upstream path.
type ReplaceFields struct {
	Body        []string `json:"body"`
	Headers     []string `json:"headers"`
	Querystring []string `json:"querystring"`
	// URI replaces the path sent upstream.
	URI *string `json:"uri"`
}

// Config is request-transformer's configuration, with Kong's fields and
// defaults. Changes apply in Kong's order: uri, method, headers, body,
// query string; within each, remove, rename, replace, add, append.
//
// Values may use Kong's templates only in these forms: $(headers.name),
// $(headers["name"]), $(query_params.name) and $(query_params["name"]);
// an absent header or parameter renders as "". Other Lua expressions and
// $(uri_captures…) are rejected when the config is validated.
type Config struct {
	// HTTPMethod changes the method sent upstream (upper-case letters).
	HTTPMethod *string       `json:"http_method"`
	Remove     Fields        `json:"remove"`
	Rename     Fields        `json:"rename"`
	Replace    ReplaceFields `json:"replace"`
	Add        Fields        `json:"add"`
	Append     Fields        `json:"append"`
}

func emptyFields() Fields {
	return Fields{Body: []string{}, Headers: []string{}, Querystring: []string{}}
}

// DefaultConfig returns Kong's defaults: every list empty.
func DefaultConfig() *Config {
	return &Config{
		Remove:  emptyFields(),
		Rename:  emptyFields(),
		Replace: ReplaceFields{Body: []string{}, Headers: []string{}, Querystring: []string{}},
		Add:     emptyFields(),
		Append:  emptyFields(),
	}
}

// pair is one configured change, its value parsed as a template.
type pair struct {
	name  string
	value template
}

// split is Kong's ^([^:]+):*(.-)$: the name runs to the first colon, every
// colon after it is skipped, the value is the rest.
func split(entry string) (name, value string, hasColon bool) {
	i := strings.IndexByte(entry, ':')
	if i < 0 {
		return entry, "", false
	}
	name, value = entry[:i], entry[i:]
	return name, strings.TrimLeft(value, ":"), true
}

// kind says how a list is validated.
type kind int

const (
	names       kind = iota // remove: names only
	headerNames             // remove.headers: valid header names
	pairs                   // name:value with a value
	headerPairs             // header:value, both valid
	renames                 // old:new
	headerRenames
)

// parseList validates the entries of one list and parses them; errors are
// keyed by 1-based position.
func parseList(list []string, k kind) ([]pair, entity.FieldErrors) {
	out := make([]pair, 0, len(list))
	fe := entity.FieldErrors{}
	for i, e := range list {
		pos := strconv.Itoa(i + 1)
		name, value, colon := split(e)
		if name == "" {
			fe[pos] = "invalid value: " + e
			continue
		}
		switch k {
		case headerNames:
			if plugin.HeaderNameError(name) != "" {
				fe[pos] = "'" + name + "' is not a valid header"
				continue
			}
		case pairs, renames:
			if !colon {
				fe[pos] = "invalid value: " + e
				continue
			}
			if value == "" {
				fe[pos] = "key '" + name + "' has no value"
				continue
			}
		case headerPairs, headerRenames:
			if !colon {
				fe[pos] = "invalid value: " + e
				continue
			}
			if plugin.HeaderNameError(name) != "" {
				fe[pos] = "'" + name + "' is not a valid header"
				continue
			}
			if k == headerRenames && plugin.HeaderNameError(value) != "" {
				fe[pos] = "'" + value + "' is not a valid header"
				continue
			}
			if strings.ContainsAny(value, "\r\n") {
				fe[pos] = "'" + value + "' is not a valid header value"
				continue
			}
		}
		p := pair{name: name}
		if k == renames || k == headerRenames || k == names || k == headerNames {
			p.value = literal(value)
		} else {
			t, err := parseTemplate(value)
			if err != "" {
				fe[pos] = err
				continue
			}
			p.value = t
		}
		out = append(out, p)
	}
	if len(fe) == 0 {
		fe = nil
	}
	return out, fe
}

// lists is a parsed Fields.
type lists struct {
	body, headers, query []pair
}

func parseFields(f Fields, bodyKind, headerKind, queryKind kind) (lists, entity.FieldErrors) {
	var l lists
	fe := entity.FieldErrors{}
	var errs entity.FieldErrors
	l.body, errs = parseList(f.Body, bodyKind)
	fe.Nest("body", errs)
	l.headers, errs = parseList(f.Headers, headerKind)
	fe.Nest("headers", errs)
	l.query, errs = parseList(f.Querystring, queryKind)
	fe.Nest("querystring", errs)
	return l, fe
}
