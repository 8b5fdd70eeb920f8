package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

const (
	bigBody   = 50 << 20
	firstPart = 1 << 20
)

// pattern is a deterministic body source.
type pattern struct{ n, size int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.n >= p.size {
		return 0, io.EOF
	}
	if rem := p.size - p.n; int64(len(b)) > rem {
		b = b[:rem]
	}
	for i := range b {
		b[i] = byte((p.n + int64(i)) % 251)
	}
	p.n += int64(len(b))
	return len(b), nil
}

func patternSum(size int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, &pattern{size: size})
	return hex.EncodeToString(h.Sum(nil))
}

// TestStreamsLargeRequestBody checks that a 50 MB upload reaches the
// upstream as it is sent: the upstream must see the start of the body while
// the client still holds back all but its first megabyte.
func TestStreamsLargeRequestBody(t *testing.T) {
	gotFirst := make(chan struct{})
	type result struct {
		n   int64
		sum string
	}
	results := make(chan result, 1)
	up := newHTTPTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Half of what the client sent first: the rest of it may sit in
		// buffers along the way.
		h := sha256.New()
		n, err := io.CopyN(h, r.Body, firstPart/2)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		close(gotFirst)
		m, _ := io.Copy(h, r.Body)
		results <- result{n + m, hex.EncodeToString(h.Sum(nil))}
		fmt.Fprint(w, "ok")
	}))
	e := newEnv(t, envOptions{})
	e.route(e.service("upload", up.URL), func(r *entity.Route) { r.Paths = []string{"/upload"} })
	e.sync()

	pr, pw := io.Pipe()
	streamed := make(chan bool, 1)
	go func() {
		src := &pattern{size: bigBody}
		if _, err := io.CopyN(pw, src, firstPart); err != nil {
			pw.CloseWithError(err)
			return
		}
		select {
		case <-gotFirst:
			streamed <- true
		case <-time.After(10 * time.Second):
			streamed <- false // buffered: send the rest so that the test ends
		}
		_, err := io.Copy(pw, src)
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest("POST", e.http+"/upload", pr)
	req.ContentLength = bigBody
	resp := e.do(req)
	b := readAll(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if !<-streamed {
		t.Fatal("the upstream did not see the first megabyte before the client sent the rest: the body was buffered")
	}
	got := <-results
	if got.n != bigBody || got.sum != patternSum(bigBody) {
		t.Fatalf("upstream received %d bytes (sum %s)", got.n, got.sum)
	}
	rec := e.sink.byRequestID(t, resp.Header.Get("X-Request-Id"))
	if rec.RequestBytes != bigBody {
		t.Errorf("record request bytes = %d, want %d", rec.RequestBytes, bigBody)
	}
}

// TestStreamsLargeResponseBody checks the other way: the client gets the
// first megabyte while the upstream holds back the rest.
func TestStreamsLargeResponseBody(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			clientGotFirst := make(chan struct{})
			streamed := make(chan bool, 1)
			up := newHTTPTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !chunked {
					w.Header().Set("Content-Length", fmt.Sprint(bigBody))
				}
				src := &pattern{size: bigBody}
				if _, err := io.CopyN(w, src, firstPart); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-clientGotFirst:
					streamed <- true
				case <-time.After(10 * time.Second):
					streamed <- false
				}
				_, _ = io.Copy(w, src)
			}))
			e := newEnv(t, envOptions{})
			e.route(e.service("download", up.URL), func(r *entity.Route) { r.Paths = []string{"/download"} })
			e.sync()

			resp := e.do(mustRequest(t, "GET", e.http+"/download", nil))
			defer resp.Body.Close()
			h := sha256.New()
			if _, err := io.CopyN(h, resp.Body, firstPart/2); err != nil {
				t.Fatal(err)
			}
			close(clientGotFirst)
			n, err := io.Copy(h, resp.Body)
			n += firstPart / 2
			if err != nil {
				t.Fatal(err)
			}
			if !<-streamed {
				t.Fatal("the client did not get the first megabyte before the upstream sent the rest: the body was buffered")
			}
			if n != bigBody || hex.EncodeToString(h.Sum(nil)) != patternSum(bigBody) {
				t.Fatalf("client received %d bytes", n)
			}
			if chunked != (resp.ContentLength == -1) {
				t.Errorf("content length = %d with chunked upstream %v", resp.ContentLength, chunked)
			}
			rec := e.sink.byRequestID(t, resp.Header.Get("X-Request-Id"))
			if rec.ResponseBytes != bigBody || rec.Status != 200 || rec.UpstreamStatus != 200 {
				t.Errorf("record: %d bytes, status %d/%d", rec.ResponseBytes, rec.Status, rec.UpstreamStatus)
			}
		})
	}
}

func TestChunkedRequestBody(t *testing.T) {
	up := echoServer(t, "up")
	e := newEnv(t, envOptions{inMemory: 1024})
	e.route(e.service("svc", up.URL), func(r *entity.Route) { r.Paths = []string{"/c"} })
	e.sync()
	for _, size := range []int{0, 10, 5000, 300000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			body := io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("x"), size)))
			req := mustRequest(t, "POST", e.http+"/c", body)
			req.ContentLength = -1 // chunked
			resp := e.do(req)
			b := readAll(t, resp)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if got := decodeEcho(t, b).BodyLen; got != size {
				t.Fatalf("upstream got %d bytes, want %d", got, size)
			}
		})
	}
}

func mustRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
