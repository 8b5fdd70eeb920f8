package plugin

import (
	"slices"
	"strings"
)

// Validation helpers with the messages of Kong's schema library, for the
// constructors of plugins. Each returns "" when the value is valid.

// HeaderNameError checks a header name as Kong's typedefs.header_name does.
func HeaderNameError(name string) string {
	if name == "" {
		return "no header name provided"
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return "bad header name '" + name + "', allowed characters are A-Z, a-z, 0-9, '_', and '-'"
		}
	}
	return ""
}

// OneOfError checks that v is one of options (Kong's one_of).
func OneOfError(v string, options ...string) string {
	if slices.Contains(options, v) {
		return ""
	}
	return "expected one of: " + strings.Join(options, ", ")
}
