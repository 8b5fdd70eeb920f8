package load

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tollgate/tollgate/internal/tokenlist"
)

// maxResponseHead bounds a response's status line and headers. A server
// sending more without ending them is broken, and the generator says so
// instead of buffering without end.
const maxResponseHead = 64 << 10

// The tokens of the framing headers' lists.
var (
	tokenChunked   = []byte("chunked")
	tokenClose     = []byte("close")
	tokenKeepAlive = []byte("keep-alive")
)

// errMalformed is behind every response the generator cannot frame.
var errMalformed = errors.New("malformed response")

// response is what parseResponse found at the start of a connection's
// received bytes.
type response struct {
	// status is the response's status code, once its status line arrived.
	status int
	// size is the number of bytes the whole response takes, status line to
	// the end of its body; 0 while it is incomplete.
	size int
	// closes tells that the server closes the connection after it
	// (Connection: close, or HTTP/1.0 without keep-alive).
	closes bool
	// toEOF tells that the body has neither a length nor chunks and runs
	// until the server closes the connection (RFC 9112 §6.3, rule 8). Such
	// a response is complete when the connection ends.
	toEOF bool
}

// parseResponse frames the HTTP/1.x response at the start of b: how long it
// is, its status, and whether the connection closes after it. The generator
// reads status codes and discards bodies, so headers other than the framing
// ones are not kept. A response to HEAD has no body whatever its headers
// say (RFC 9112 §6.3, rule 1), and neither do 1xx, 204 and 304 responses.
//
// An incomplete response returns size 0 and no error: more bytes are
// needed. parseResponse is monotone: a prefix of a complete response is
// incomplete, never malformed, so it can be called again as bytes arrive.
func parseResponse(b []byte, head bool) (response, error) {
	var r response
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > maxResponseHead {
			return r, fmt.Errorf("%w: no end of headers in %d bytes", errMalformed, len(b))
		}
		return r, checkStatusPrefix(b)
	}
	if end+4 > maxResponseHead {
		return r, fmt.Errorf("%w: headers of %d bytes", errMalformed, end+4)
	}
	lines := bytes.Split(b[:end], []byte("\r\n"))
	minor, status, err := parseStatusLine(lines[0])
	if err != nil {
		return r, err
	}
	r.status = status
	r.closes = minor == 0 // HTTP/1.0 closes unless it says keep-alive

	length, chunked := -1, false
	for _, line := range lines[1:] {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			return r, fmt.Errorf("%w: header line %q", errMalformed, clip(line))
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseLength(value)
			if !ok || (length >= 0 && n != length) {
				return r, fmt.Errorf("%w: Content-Length %q", errMalformed, clip(value))
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = tokenlist.Has(value, tokenChunked)
		case bytes.EqualFold(name, []byte("Connection")):
			if tokenlist.Has(value, tokenClose) {
				r.closes = true
			} else if tokenlist.Has(value, tokenKeepAlive) {
				r.closes = false
			}
		}
	}

	body := b[end+4:]
	switch {
	case head || status < 200 || status == 204 || status == 304:
		r.size = end + 4
	case chunked:
		// Transfer-Encoding overrides Content-Length (RFC 9112 §6.3, rule 3).
		n, err := chunkedSize(body)
		if err != nil || n == 0 {
			return response{status: r.status, closes: r.closes}, err
		}
		r.size = end + 4 + n
	case length >= 0:
		if len(body) < length {
			return response{status: r.status, closes: r.closes}, nil
		}
		r.size = end + 4 + length
	default:
		r.toEOF, r.closes = true, true
	}
	return r, nil
}

// checkStatusPrefix rejects bytes that cannot begin a status line, so that
// a server speaking something else is caught at once rather than when its
// data grows past maxResponseHead.
func checkStatusPrefix(b []byte) error {
	const proto = "HTTP/1."
	n := min(len(b), len(proto))
	if !bytes.Equal(b[:n], []byte(proto[:n])) {
		return fmt.Errorf("%w: status line %q", errMalformed, clip(b))
	}
	return nil
}

// parseStatusLine reads "HTTP/1.x NNN reason".
func parseStatusLine(line []byte) (minor, status int, err error) {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' ||
		(line[7] != '0' && line[7] != '1') || (len(line) > 12 && line[12] != ' ') {
		return 0, 0, fmt.Errorf("%w: status line %q", errMalformed, clip(line))
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, 0, fmt.Errorf("%w: status line %q", errMalformed, clip(line))
		}
		status = status*10 + int(c-'0')
	}
	if status < 100 {
		return 0, 0, fmt.Errorf("%w: status line %q", errMalformed, clip(line))
	}
	return int(line[7] - '0'), status, nil
}

// chunkedSize returns how many bytes of b the chunked body at its start
// takes, trailers included, or 0 while it is incomplete (RFC 9112 §7.1).
func chunkedSize(b []byte) (int, error) {
	pos := 0
	for {
		eol := bytes.Index(b[pos:], []byte("\r\n"))
		if eol > maxChunkLine || (eol < 0 && len(b)-pos > maxChunkLine) {
			return 0, fmt.Errorf("%w: chunk size line over %d bytes", errMalformed, maxChunkLine)
		}
		if eol < 0 {
			return 0, checkHexPrefix(b[pos:])
		}
		sizeField, _, _ := bytes.Cut(b[pos:pos+eol], []byte(";"))
		size, ok := parseHex(bytes.TrimRight(sizeField, " \t"))
		if !ok {
			return 0, fmt.Errorf("%w: chunk size %q", errMalformed, clip(b[pos:pos+eol]))
		}
		pos += eol + 2
		if size == 0 {
			// Trailer fields, then an empty line.
			trailers := pos
			for {
				eol := bytes.Index(b[pos:], []byte("\r\n"))
				if eol < 0 {
					if len(b)-trailers > maxResponseHead {
						return 0, fmt.Errorf("%w: trailers over %d bytes", errMalformed, maxResponseHead)
					}
					return 0, nil
				}
				pos += eol + 2
				if pos-trailers > maxResponseHead {
					return 0, fmt.Errorf("%w: trailers over %d bytes", errMalformed, maxResponseHead)
				}
				if eol == 0 {
					return pos, nil
				}
			}
		}
		if len(b)-pos < size+2 {
			if len(b)-pos > size && b[pos+size] != '\r' {
				return 0, fmt.Errorf("%w: chunk not followed by CRLF", errMalformed)
			}
			return 0, nil
		}
		if b[pos+size] != '\r' || b[pos+size+1] != '\n' {
			return 0, fmt.Errorf("%w: chunk not followed by CRLF", errMalformed)
		}
		pos += size + 2
	}
}

// checkHexPrefix rejects a partial chunk size line whose size digits have
// already gone wrong.
func checkHexPrefix(b []byte) error {
	digits, _, _ := bytes.Cut(b, []byte(";"))
	digits = bytes.TrimRight(digits, " \t\r")
	if len(digits) == 0 {
		return nil
	}
	if _, ok := parseHex(digits); !ok {
		return fmt.Errorf("%w: chunk size %q", errMalformed, clip(b))
	}
	return nil
}

// maxChunkLine bounds a chunk size line, extensions included.
const maxChunkLine = 1024

// maxBody bounds a body's declared length or chunk size: no benchmark
// response is near it, and it keeps the arithmetic far from overflow.
const maxBody = 1 << 40

// parseLength reads a Content-Length value: decimal digits only.
func parseLength(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 13 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= maxBody
}

// parseHex reads a chunk size.
func parseHex(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int(d)
	}
	return n, n <= maxBody
}

// clip shortens b for an error message.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
