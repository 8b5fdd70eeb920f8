package route

import "strings"

// NormalizePath normalizes a request or route path the way Kong does before
// matching (Kong 3.x docs, "Normalization behavior"; kong/tools/uri.lua
// normalize(uri, true) called from kong/router/utils.lua strip_uri_args):
//
//  1. percent-encoded triplets of unreserved characters (RFC 3986 §2.3:
//     ALPHA / DIGIT / "-" / "." / "_" / "~") are decoded, every other
//     triplet is upper-cased (/fo%6f%3a becomes /foo%3A), repeated until
//     no triplet changes (Kong stops after one pass);
//  2. dot segments are removed (RFC 3986 §5.2.4): /a/./b/../c becomes /a/c,
//     and since %2E is decoded first, /%2e%2e/ is a dot segment too;
//  3. runs of slashes are merged (Kong passes merge_slashes = true).
//
// Reserved characters stay encoded, so /a%2Fb keeps one segment. A path
// that is already normal is returned as is, without allocating.
func NormalizePath(p string) string {
	if p == "" || p == "/" {
		return p
	}
	pct := strings.IndexByte(p, '%') >= 0
	if !pct && !needsDotOrSlashWork(p) {
		return p
	}
	s := p
	if pct {
		// Kong makes one pass; a decoded character can complete a new
		// triplet ("%%34%31" gives "%41"), which a second normalization
		// would decode again. Repeating until nothing changes makes the
		// result a fixed point, so a path routed as "/A" cannot reach the
		// upstream as "/%41". Each nesting level triples the input, so
		// the passes are few.
		for {
			n := normalizePercent(s)
			if n == s {
				break
			}
			s = n
		}
		if !needsDotOrSlashWork(s) {
			return s
		}
	}
	return removeDotSegments(s)
}

// needsDotOrSlashWork reports whether p has a "." or ".." segment or a run
// of slashes; Kong checks more coarsely (any "." at all) but the result of
// removeDotSegments is the identity on every other path.
func needsDotOrSlashWork(p string) bool {
	if strings.Contains(p, "//") {
		return true
	}
	// a dot segment starts the path or follows a slash
	for i := 0; i < len(p); {
		if p[i] == '.' && (i+1 == len(p) || p[i+1] == '/' || p[i+1] == '.' && (i+2 == len(p) || p[i+2] == '/')) {
			return true
		}
		j := strings.Index(p[i:], "/.")
		if j < 0 {
			return false
		}
		i += j + 1
	}
	return false
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// normalizePercent decodes unreserved triplets and upper-cases the others;
// malformed triplets ("%zz", a trailing "%") are left alone, as Kong's
// pattern %([\dA-F]{2}) does not match them.
func normalizePercent(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	changed := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) {
			hi, ok1 := unhex(p[i+1])
			lo, ok2 := unhex(p[i+2])
			if ok1 && ok2 {
				d := hi<<4 | lo
				if isUnreserved(d) {
					b.WriteByte(d)
					changed = true
				} else {
					u1, u2 := upperHex(p[i+1]), upperHex(p[i+2])
					if u1 != p[i+1] || u2 != p[i+2] {
						changed = true
					}
					b.WriteByte('%')
					b.WriteByte(u1)
					b.WriteByte(u2)
				}
				i += 2
				continue
			}
		}
		b.WriteByte(c)
	}
	if !changed {
		return p
	}
	return b.String()
}

// removeDotSegments is the loop of kong/tools/uri.lua normalize with
// merge_slashes: segments (each with its leading slash) are pushed onto an
// output stack, "/.." pops one, "." segments vanish, "//" collapses.
func removeDotSegments(uri string) string {
	out := make([]byte, 0, len(uri))
	var stackBuf [32]int
	starts := stackBuf[:0] // offsets in out where each pushed segment begins
	pop := func() {
		if n := len(starts); n > 0 {
			out = out[:starts[n-1]]
			starts = starts[:n-1]
		}
	}
	for len(uri) > 0 {
		switch {
		case uri == "/.":
			uri = "/"
		case uri == "/..":
			uri = "/"
			pop()
		case uri == "." || uri == "..":
			uri = ""
		case strings.HasPrefix(uri, "../"):
			uri = uri[3:]
		case strings.HasPrefix(uri, "./"):
			uri = uri[2:]
		case strings.HasPrefix(uri, "/./"):
			uri = uri[2:]
		case strings.HasPrefix(uri, "/../"):
			uri = uri[3:]
			pop()
		case strings.HasPrefix(uri, "//"):
			uri = uri[1:]
		default:
			i := strings.IndexByte(uri[1:], '/')
			starts = append(starts, len(out))
			if i < 0 {
				out = append(out, uri...)
				uri = ""
			} else {
				out = append(out, uri[:i+1]...)
				uri = uri[i+1:]
			}
		}
	}
	return string(out)
}
