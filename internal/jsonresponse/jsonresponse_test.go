package jsonresponse

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var writers = []struct {
	name  string
	write func(http.ResponseWriter, int, any)
}{{"Write", Write}, {"WriteBulk", WriteBulk}}

func TestWrite(t *testing.T) {
	for _, wr := range writers {
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
			t.Run(wr.name+"/"+tc.name, func(t *testing.T) {
				w := httptest.NewRecorder()
				w.Header().Set("Cache-Control", "no-store")
				wr.write(w, tc.status, tc.v)
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
}

type embedded struct {
	Inner string `json:"inner"`
}

// bulkShape has what WriteBulk promises to encode as encoding/json does.
type bulkShape struct {
	embedded
	Name     string            `json:"name"`
	Skip     string            `json:"-"`
	Empty    string            `json:"empty,omitempty"`
	Tags     []string          `json:"tags"`
	NilMap   map[string]int    `json:"nil_map"`
	At       time.Time         `json:"at"`
	Zero     time.Time         `json:"zero"`
	AtPtr    *time.Time        `json:"at_ptr,omitempty"`
	Ptr      *int              `json:"ptr"`
	Floats   []float64         `json:"floats"`
	Float32  float32           `json:"float32"`
	ByInt    map[int]string    `json:"by_int"`
	Any      any               `json:"any"`
	Unsorted map[string]string `json:"unsorted"`
	Count    int64             `json:"count,string"`
	Rows     []row             `json:"rows"`
}

type row struct {
	Start time.Time `json:"start"`
	ID    string    `json:"id"`
	N     int64     `json:"n"`
	Rate  float64   `json:"rate"`
}

// WriteBulk's bytes are encoding/json's (HTML escaping off) for the
// analytics answers' kinds of values.
func TestWriteBulkEncodesAsEncodingJSON(t *testing.T) {
	seven := 7
	at := time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.FixedZone("", 3600))
	var rows []row
	for i := range 2000 {
		rows = append(rows, row{Start: at.Add(time.Duration(i) * time.Hour).UTC(), ID: "c-" + strconv.Itoa(i), N: int64(i * i), Rate: float64(i) / 7})
	}
	values := []any{
		bulkShape{
			embedded: embedded{"in"}, Name: "<svc> & \"q\" \u2028 \u2029 \x7f \x00 é \xff", Skip: "x",
			At: at, AtPtr: &at, Ptr: &seven,
			Floats:  []float64{0, 1e21, 1e-7, 123456789.125, -0.5, 1e20, 0.1 + 0.2},
			Float32: 3.14159, ByInt: map[int]string{10: "x", 2: "y", -1: "z"},
			Any:      map[string]any{"z": []any{1.5, "s", true, nil}, "a": map[string]any{}},
			Unsorted: map[string]string{"zeta": "1", "alpha": "2", "Beta": "3", "": "4"}, Count: 42,
			Rows: rows,
		},
		bulkShape{},
		[]bulkShape{},
		[]int(nil),
		map[string]any{"data": []any{}, "next": nil},
		"plain",
		nil,
	}
	for i, v := range values {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		for _, wr := range writers {
			w := httptest.NewRecorder()
			wr.write(w, 200, v)
			if got := w.Body.String(); got != want.String() {
				t.Errorf("%s, value %d:\ngot  %.600s\nwant %.600s", wr.name, i, got, want.String())
			}
		}
	}
}

// A kept buffer is never handed out while an answer still uses it, and a
// later, shorter answer does not carry the end of an earlier, longer one.
func TestWriteBulkReusesBuffersSafely(t *testing.T) {
	long := strings.Repeat("x", 100_000)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := map[string]string{"n": strconv.Itoa(i)}
			if i%2 == 0 {
				v["long"] = long
			}
			want, _ := json.Marshal(v)
			for range 50 {
				w := httptest.NewRecorder()
				WriteBulk(w, 200, v)
				if got := w.Body.String(); got != string(want)+"\n" {
					t.Errorf("answer %d: %.80q…, want %.80q…", i, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
