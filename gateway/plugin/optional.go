package plugin

// Optional abilities, each a one-method interface checked with a type
// assertion (as Caddy checks Provisioner or Validator).

// MethodSetter is implemented by a Request whose method can be changed before
// it is sent upstream (request-transformer's http_method). Requests that do
// not implement it keep their method.
type MethodSetter interface{ SetMethod(method string) }

// RequestBodyUser is implemented by an instance that may read the request
// body (Request.Body) depending on its configuration; it reports whether it
// will. An instance that does not implement it never reads the body, so the
// proxy may stream the body of a route on which no instance reads it.
type RequestBodyUser interface{ UsesRequestBody() bool }

// ResponseBodyUser is implemented by a BodyFilter instance that needs the
// response body only for some configurations. A BodyFilter instance that does
// not implement it always needs the body buffered.
type ResponseBodyUser interface{ UsesResponseBody() bool }

// equalFoldASCII compares header names case-insensitively without allocating.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
