package load

import (
	"errors"
	"strings"
	"testing"
)

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		head bool
		want response // size counts the bytes of in before "|", when it has one
		err  bool
	}{
		{name: "content length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello|", want: response{status: 200}},
		{name: "no reason phrase", in: "HTTP/1.1 204\r\n\r\n|", want: response{status: 204}},
		{name: "header names any case", in: "HTTP/1.1 200 OK\r\ncontent-LENGTH:  2 \r\n\r\nok|", want: response{status: 200}},
		{name: "incomplete body", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", want: response{status: 200}},
		{name: "incomplete headers", in: "HTTP/1.1 200 OK\r\nContent-Len", want: response{}},
		{name: "a next response is not part of this one", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na|HTTP/1.1 200 OK\r\n", want: response{status: 200}},
		{name: "Connection: close", in: "HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n|", want: response{status: 401, closes: true}},
		{name: "HTTP/1.0 closes", in: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n|", want: response{status: 200, closes: true}},
		{name: "HTTP/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n|", want: response{status: 200}},
		{name: "HEAD has no body", in: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n|", head: true, want: response{status: 200}},
		{name: "304 has no body", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n|", want: response{status: 304}},
		{
			name: "chunked with extensions and trailers",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA\r\n0123456789\r\n0\r\nTrailer: v\r\n\r\n|",
			want: response{status: 200},
		},
		{name: "chunked over Content-Length", in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n|", want: response{status: 200}},
		{name: "incomplete chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", want: response{status: 200}},
		{name: "incomplete last chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", want: response{status: 200}},
		{name: "no length runs to the end", in: "HTTP/1.1 200 OK\r\n\r\nuntil the server closes", want: response{status: 200, closes: true, toEOF: true}},
		{name: "not HTTP", in: "SSH-2.0-OpenSSH\r\n", err: true},
		{name: "not HTTP, early", in: "HTX", err: true},
		{name: "HTTP/2 preface", in: "HTTP/2 200\r\n\r\n", err: true},
		{name: "bad status", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: true},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", err: true},
		{name: "bad Content-Length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: true},
		{name: "two Content-Lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", err: true},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: true},
		{name: "chunk without CRLF", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", err: true},
		{name: "endless headers", in: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: y\r\n", maxResponseHead/6+1), err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, _, complete := strings.Cut(tc.in, "|")
			if complete {
				tc.want.size = len(in)
				in = tc.in[:len(in)] + tc.in[len(in)+1:]
			}
			got, err := parseResponse([]byte(in), tc.head)
			if tc.err {
				if err == nil || !errors.Is(err, errMalformed) {
					t.Fatalf("parseResponse = %+v, %v; want an error wrapping errMalformed", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseResponse = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// FuzzParseResponse checks that parseResponse never panics, never claims
// more bytes than it was given, and can be called again as bytes arrive:
// every prefix of a complete response is incomplete, not malformed, and
// the response parses the same with more bytes after it.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n0\r\nT: v\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nrest",
		"HTTP/1.1 100 Continue\r\n\r\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, head bool) {
		r, err := parseResponse(b, head)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not wrap errMalformed", err)
			}
			return
		}
		if r.size < 0 || r.size > len(b) {
			t.Fatalf("size %d of %d bytes", r.size, len(b))
		}
		if r.size == 0 {
			return
		}
		for _, k := range []int{0, 1, r.size / 2, r.size - 1} {
			p, err := parseResponse(b[:k], head)
			if err != nil || p.size != 0 {
				t.Fatalf("prefix of %d of a complete %d-byte response: %+v, %v; want incomplete", k, r.size, p, err)
			}
		}
		again, err := parseResponse(append(b[:r.size:r.size], "HTTP/1.1 200 OK\r\n"...), head)
		if err != nil || again != r {
			t.Fatalf("with more bytes after it: %+v, %v; want %+v", again, err, r)
		}
	})
}
