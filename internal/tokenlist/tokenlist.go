// Package tokenlist reads the comma-separated lists of tokens that HTTP
// header fields such as Connection and Transfer-Encoding hold (RFC 9110
// §5.6.1), from the header's raw bytes and without allocating. It owns no
// state and never parses anything but one field value.
package tokenlist

import "bytes"

// Has reports whether the list v holds tok, ignoring case and the spaces
// and tabs around each element.
func Has(v, tok []byte) bool {
	found := false
	for len(v) > 0 && !found {
		var t []byte
		t, v, _ = bytes.Cut(v, []byte{','})
		found = bytes.EqualFold(bytes.Trim(t, " \t"), tok)
	}
	return found
}
