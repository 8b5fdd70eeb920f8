package proxy

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

// Connections yield between a write and the next read (turns.go). A
// client that pipelines sends its next requests before the answers: they
// wait in the connection's buffer and must be answered in order, and the
// connection must then go on turn by turn.
func TestPipelinedRequestsAreAnsweredInOrder(t *testing.T) {
	e := newEnv(t, envOptions{})
	up := echoServer(t, "up")
	svc := e.service("pipelined", up.URL)
	e.route(svc, func(r *entity.Route) { r.Paths = []string{"/p"} })
	e.sync()

	c, err := net.Dial("tcp", strings.TrimPrefix(e.http, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	read := func(want string) {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer to %s: %v", want, err)
		}
		defer resp.Body.Close()
		var got echo
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("answer to %s: status %d, %v", want, resp.StatusCode, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if got.Path != want {
			t.Fatalf("answer for upstream path %q, want %q: answers out of order", got.Path, want)
		}
	}
	req := func(path string) string {
		return "GET /p" + path + " HTTP/1.1\r\nHost: pipelined.test\r\n\r\n"
	}

	// Three requests in one write, then the answers.
	if _, err := io.WriteString(c, req("/a")+req("/b")+req("/c")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/a", "/b", "/c"} {
		read(p)
	}
	// Then turn by turn on the same connection.
	for _, p := range []string{"/d", "/e"} {
		if _, err := io.WriteString(c, req(p)); err != nil {
			t.Fatal(err)
		}
		read(p)
	}
}
