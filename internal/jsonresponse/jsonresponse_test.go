package jsonresponse

import (
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		v      any
		want   string
		code   int
	}{
		{"object", 201, map[string]string{"path": "/a?b=<c>&d"}, `{"path":"/a?b=<c>&d"}` + "\n", 201},
		{"unencodable", 200, map[string]any{"f": func() {}}, `{"message":"An unexpected error occurred"}` + "\n", 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			w.Header().Set("Cache-Control", "no-store")
			Write(w, tc.status, tc.v)
			if w.Code != tc.code || w.Body.String() != tc.want {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tc.code, tc.want)
			}
			if w.Header().Get("Content-Length") != strconv.Itoa(len(tc.want)) || w.Header().Get("Cache-Control") != "no-store" ||
				w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("headers %v", w.Header())
			}
		})
	}
}
