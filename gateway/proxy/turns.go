package proxy

import (
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"time"
)

// turns tells a connection's reads that come right after one of its writes.
//
// HTTP/1.1 is turn-based: after the proxy writes a request upstream it
// reads the answer, and after it writes a response it reads the client's
// next request. A read at that moment finds nothing yet, and Go's
// net.Conn tries the read system call before it waits for readiness, so
// each turn would cost a read that fails with EAGAIN. turns yields the
// goroutine once before such a read: the requests of other connections
// run meanwhile, and the answer has often arrived when the read is tried.
// With nothing else runnable, the yield returns at once.
//
// Counted with perf stat under make bench-proxy's load (BENCHMARKS.md):
// read calls per proxied request went from 4.0 to about 2, and all system
// calls from 6.0 to about 4 (nginx makes 5.2).
//
// A tunnel (WebSocket) reads and writes a connection at the same time, so
// the flag is atomic; there it only adds a yield now and then.
type turns struct{ wrote atomic.Bool }

// beforeRead yields when the connection's last operation was a write.
func (t *turns) beforeRead() {
	if t.wrote.Load() {
		t.wrote.Store(false)
		runtime.Gosched()
	}
}

func (t *turns) afterWrite() {
	if !t.wrote.Load() {
		t.wrote.Store(true)
	}
}

// turnListener hands out client connections that yield between turns. It
// wraps the TCP listener, under TLS, so that fasthttp still sees a
// *tls.Conn where there is one.
type turnListener struct{ net.Listener }

func (l turnListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &turnConn{Conn: c, io: socketIO(c)}, nil
}

// turnConn is a client connection that yields between turns, and that
// moves its read deadline lazily (SetReadDeadline).
type turnConn struct {
	net.Conn
	turns  turns
	io     io.ReadWriter // socketIO(Conn)
	readDL lazyDeadline
}

// clientDeadlineSlack is how much earlier than asked a client's read
// deadline may come (deadlineSlack): fasthttp sets the read deadline twice
// per keep-alive request (the idle timeout while it waits, then the header
// timeout), though both are a minute and move by the time between two
// requests.
const clientDeadlineSlack = min(clientHeaderTimeout, clientIdleTimeout, clientBodyTimeout) / deadlineSlack

// SetReadDeadline keeps the deadline in force when t is later than it by
// less than clientDeadlineSlack, so that the timeout a read gets is
// between the one asked for, less the slack, and all of it. An earlier
// deadline, one far later, or none (the zero time) is set at once.
func (c *turnConn) SetReadDeadline(t time.Time) error {
	if c.readDL.keeps(t, clientDeadlineSlack) {
		return nil
	}
	c.readDL.moving()
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	c.readDL.moved(t)
	return nil
}

// SetDeadline sets both deadlines; the read one is then t.
func (c *turnConn) SetDeadline(t time.Time) error {
	c.readDL.moving()
	if err := c.Conn.SetDeadline(t); err != nil {
		return err
	}
	c.readDL.moved(t)
	return nil
}

func (c *turnConn) Read(p []byte) (int, error) {
	c.turns.beforeRead()
	return c.io.Read(p)
}

func (c *turnConn) Write(p []byte) (int, error) {
	c.turns.afterWrite()
	return c.io.Write(p)
}
