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

// deadlineRecorder is a net.Conn that records the deadlines set on it.
type deadlineRecorder struct {
	net.Conn
	set, setWrite []time.Time
}

func (c *deadlineRecorder) SetReadDeadline(t time.Time) error {
	c.set = append(c.set, t)
	return nil
}

func (c *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	c.setWrite = append(c.setWrite, t)
	return nil
}

func (c *deadlineRecorder) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// A client connection's read deadline is moved only when it must be: the
// deadline in force is never later than the one asked for, and at most
// clientDeadlineSlack earlier.
func TestClientReadDeadlineMovesOnlyWhenItMust(t *testing.T) {
	rec := &deadlineRecorder{}
	c := &turnConn{Conn: rec}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	inForce := time.Time{}
	steps := []struct {
		name  string
		t     time.Time
		moved bool
	}{
		{"the first deadline", t0, true},
		{"a second later", t0.Add(time.Second), false},
		{"just within the slack", t0.Add(clientDeadlineSlack - time.Nanosecond), false},
		{"at the slack", t0.Add(clientDeadlineSlack), true},
		{"earlier than the one in force", t0, true},
		{"long past, to wake a read", time.Unix(1, 0), true},
		{"a minute later", t0.Add(time.Minute), true},
		{"none", time.Time{}, true},
		{"a deadline after none", t0, true},
	}
	for _, st := range steps {
		n := len(rec.set)
		if err := c.SetReadDeadline(st.t); err != nil {
			t.Fatal(err)
		}
		if moved := len(rec.set) > n; moved != st.moved {
			t.Fatalf("%s: moved %v, want %v", st.name, moved, st.moved)
		}
		if st.moved {
			inForce = rec.set[len(rec.set)-1]
		}
		switch {
		case st.t.IsZero() != inForce.IsZero():
			t.Fatalf("%s: deadline in force %v, asked %v", st.name, inForce, st.t)
		case !st.t.IsZero() && (inForce.After(st.t) || st.t.Sub(inForce) >= clientDeadlineSlack):
			t.Fatalf("%s: deadline in force %v, asked %v: more than %v apart", st.name, inForce, st.t, clientDeadlineSlack)
		}
	}

	// SetDeadline sets the read deadline too: a read deadline asked for
	// just after it keeps it, one before it moves it.
	if err := c.SetDeadline(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	n := len(rec.set)
	_ = c.SetReadDeadline(t0.Add(time.Hour + time.Second))
	_ = c.SetReadDeadline(t0)
	if got := rec.set[n:]; len(got) != 1 || !got[0].Equal(t0) {
		t.Fatalf("after SetDeadline: read deadlines set %v, want only %v", got, t0)
	}
}

// nopIO reads and writes nothing, at once.
type nopIO struct{}

func (nopIO) Read(p []byte) (int, error)  { return len(p), nil }
func (nopIO) Write(p []byte) (int, error) { return len(p), nil }

// A busy upstream connection moves its deadlines once per slack of its
// timeouts, each to the full timeout from then.
func TestUpstreamDeadlinesMoveOncePerSlack(t *testing.T) {
	rec := &deadlineRecorder{}
	c := &deadlineConn{Conn: rec, read: time.Minute, write: 2 * time.Minute, io: nopIO{}}
	before := time.Now()
	buf := make([]byte, 8)
	for range 100 {
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	after := time.Now()
	for _, d := range []struct {
		name    string
		set     []time.Time
		timeout time.Duration
	}{{"read", rec.set, c.read}, {"write", rec.setWrite, c.write}} {
		if len(d.set) != 1 {
			t.Fatalf("%s deadline set %d times over 100 operations within %v; want once", d.name, len(d.set), after.Sub(before))
		}
		if at := d.set[0]; at.Before(before.Add(d.timeout)) || at.After(after.Add(d.timeout)) {
			t.Fatalf("%s deadline %v; want %v from the first operation", d.name, at, d.timeout)
		}
	}

	// With a timeout shorter than the time between two operations, every
	// operation moves it.
	rec.set = nil
	c = &deadlineConn{Conn: rec, read: deadlineSlack * time.Nanosecond, io: nopIO{}}
	for range 3 {
		time.Sleep(time.Millisecond)
		_, _ = c.Read(buf)
	}
	if len(rec.set) != 3 {
		t.Fatalf("read deadline of a %v timeout set %d times over 3 reads a millisecond apart; want 3", c.read, len(rec.set))
	}
}
