package requesttransformer

import (
	"strings"

	"github.com/tollgate/tollgate/gateway/plugin"
)

// template is a value with Kong's $(…) references, in the few forms
// supported: headers and query parameters by name.
type template struct {
	parts []part
}

type part struct {
	lit  string
	from byte // 0: literal, 'h': header, 'q': query parameter
	name string
}

func literal(s string) template { return template{parts: []part{{lit: s}}} }

// isLiteral reports whether rendering needs no request.
func (t template) isLiteral() bool { return len(t.parts) == 1 && t.parts[0].from == 0 }

// parseTemplate parses s; the error message names the unsupported
// expression.
func parseTemplate(s string) (template, string) {
	if !strings.Contains(s, "$(") {
		return literal(s), ""
	}
	var t template
	rest := s
	for {
		i := strings.Index(rest, "$(")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, part{lit: rest})
			}
			return t, ""
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], ')')
		if j < 0 {
			return template{}, "value '" + s + "' has an unterminated template"
		}
		expr := strings.TrimSpace(rest[i+2 : i+j])
		p, ok := parseRef(expr)
		if !ok {
			return template{}, "template expression '" + expr + "' is not supported (only headers and query_params by name)"
		}
		t.parts = append(t.parts, p)
		rest = rest[i+j+1:]
	}
}

// parseRef parses headers.name, headers["name"], headers['name'] and the
// same with query_params.
func parseRef(expr string) (part, bool) {
	var p part
	switch {
	case strings.HasPrefix(expr, "headers"):
		p.from, expr = 'h', expr[len("headers"):]
	case strings.HasPrefix(expr, "query_params"):
		p.from, expr = 'q', expr[len("query_params"):]
	default:
		return p, false
	}
	switch {
	case strings.HasPrefix(expr, "."):
		name := expr[1:]
		if name == "" {
			return p, false
		}
		for k := 0; k < len(name); k++ {
			b := name[k]
			if !(b == '_' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9') {
				return p, false
			}
		}
		p.name = name
	case len(expr) >= 4 && expr[0] == '[' && expr[len(expr)-1] == ']' &&
		(expr[1] == '"' || expr[1] == '\'') && expr[len(expr)-2] == expr[1]:
		p.name = expr[2 : len(expr)-2]
		if p.name == "" || strings.ContainsAny(p.name, `"'`) {
			return p, false
		}
	default:
		return p, false
	}
	return p, true
}

// render evaluates t against the request as it stands.
func (t template) render(req plugin.Request) string {
	if t.isLiteral() {
		return t.parts[0].lit
	}
	var b strings.Builder
	for _, p := range t.parts {
		switch p.from {
		case 0:
			b.WriteString(p.lit)
		case 'h':
			v := req.Header(p.name)
			if v == "" && strings.Contains(p.name, "_") {
				// nginx's header table answers headers.x_foo with x-foo.
				v = req.Header(strings.ReplaceAll(p.name, "_", "-"))
			}
			b.WriteString(v)
		case 'q':
			b.WriteString(req.Query(p.name))
		}
	}
	return b.String()
}
