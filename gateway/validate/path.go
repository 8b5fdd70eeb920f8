package validate

import (
	"regexp"
	"strings"
)

// checkServicePath is Kong's typedefs.path: an absolute path of RFC 3986
// characters, properly percent-encoded, without empty segments.
func checkServicePath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "should start with: /"
	}
	if strings.Contains(p, "//") {
		return "must not have empty segments"
	}
	for i := 0; i < len(p); i++ {
		if !isPathChar(p[i]) {
			return "invalid path: '" + p + "' (characters outside of the reserved list of RFC 3986 found)"
		}
	}
	return checkPercent(p)
}

// isPathChar reports the characters RFC 3986 allows in a path: unreserved,
// sub-delims, ':', '@', '/' and '%' (for escapes).
func isPathChar(c byte) bool {
	if isUnreserved(c) {
		return true
	}
	return strings.IndexByte("!$&'()*+,;=:@/%", c) >= 0
}

// checkPercent reports a '%' that does not start a %XX escape.
func checkPercent(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			end := min(i+3, len(p))
			return "invalid url-encoded value: '" + p[i:end] + "'"
		}
	}
	return ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// checkRoutePath is Kong 3.x's typedefs.router_path: "/prefix" for a plain
// prefix, which must be in normalized form, or "~/regex" for a regular
// expression, which must compile.
func checkRoutePath(p string) string {
	if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "~/") {
		return "should start with: / (fixed path) or ~/ (regex path)"
	}
	if strings.Contains(p, "//") {
		return "must not have empty segments"
	}
	if re, ok := strings.CutPrefix(p, "~"); ok {
		if _, err := regexp.Compile(translateRegex(re)); err != nil {
			return "invalid regex: '" + re + "' (" + err.Error() + ")"
		}
		return ""
	}
	if msg := checkPercent(p); msg != "" {
		return msg
	}
	if n := normalizePath(p); n != p {
		return "non-normalized path, consider use '" + n + "' instead"
	}
	return ""
}

// normalizePath is the normal form Kong's router compares plain paths in
// (kong.tools.uri.normalize): escapes of unreserved characters decoded,
// other escapes in upper case, "." and ".." segments resolved.
func normalizePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			c := unhex(p[i+1])<<4 | unhex(p[i+2])
			if isUnreserved(c) {
				b.WriteByte(c)
			} else {
				b.WriteString(strings.ToUpper(p[i : i+3]))
			}
			i += 2
			continue
		}
		b.WriteByte(p[i])
	}
	return removeDotSegments(b.String())
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// removeDotSegments is RFC 3986 §5.2.4 for absolute paths.
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

// translateRegex rewrites the PCRE syntax that Kong users write in route
// paths into Go's RE2 syntax where the two differ only in spelling: named
// groups (?<name>...) and (?'name'...) become (?P<name>...). Constructs RE2
// lacks (look-around, back-references) are left alone, so that compiling
// the result reports them.
func translateRegex(re string) string {
	if !strings.Contains(re, "(?") {
		return re
	}
	var b strings.Builder
	b.Grow(len(re) + 4)
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\' && i+1 < len(re):
			b.WriteByte(c)
			b.WriteByte(re[i+1])
			i++
			continue
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			// A ']' right after '[' or '[^' is a literal member.
			b.WriteByte(c)
			if i+1 < len(re) && re[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(re) && re[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
			continue
		case c == '(' && strings.HasPrefix(re[i:], "(?<") && i+3 < len(re) && isNameStart(re[i+3]):
			b.WriteString("(?P<")
			i += 2
			continue
		case c == '(' && strings.HasPrefix(re[i:], "(?'") && i+3 < len(re) && isNameStart(re[i+3]):
			if end := strings.IndexByte(re[i+3:], '\''); end >= 0 {
				b.WriteString("(?P<" + re[i+3:i+3+end] + ">")
				i += 3 + end
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
