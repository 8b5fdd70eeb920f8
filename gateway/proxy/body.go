package proxy

import (
	"errors"
	"io"
	"time"

	"github.com/valyala/fasthttp"
)

// respBody relays a streamed upstream response body to the client. It
// counts the bytes, keeps the client's write deadline moving (nginx's
// send_timeout is between two writes), and tells apart the two ways a
// stream can break: the upstream failing (readErr) or the client going
// away (the write error fasthttp hands to CloseWithError).
type respBody struct {
	x          *exchange
	r          io.Reader
	n          int64
	deadlineAt int64 // n when the write deadline was last moved
	readErr    error
	active     bool
	closed     bool
}

// deadlineEvery: the client's deadlines are moved after every so many body
// bytes rather than on every read and write. Until the first move, a
// request body read is covered by the deadline its request started with
// (the server's read timeout), and a response this short fits in the
// socket buffers without waiting for the client.
const deadlineEvery = 64 << 10

var _ fasthttp.ReadCloserWithError = (*respBody)(nil)

func (b *respBody) init(x *exchange, r io.Reader) {
	*b = respBody{x: x, r: r, active: true}
}

func (b *respBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		b.readErr = err
	}
	if b.n-b.deadlineAt >= deadlineEvery {
		_ = b.x.ctx.SetWriteDeadline(time.Now().Add(clientSendTimeout))
		b.deadlineAt = b.n
	}
	return n, err
}

// CloseWithError is called by fasthttp once the body is written (err nil)
// or when writing stopped (err non-nil). It releases the upstream
// connection: back to the pool when the body was read to its end, closed
// otherwise.
func (b *respBody) CloseWithError(err error) error {
	if b.closed {
		return nil
	}
	b.closed = true
	if err != nil && b.readErr == nil {
		b.x.clientErr = err
	}
	cause := err
	if b.readErr != nil {
		cause = b.readErr
	}
	if c, ok := b.r.(fasthttp.ReadCloserWithError); ok {
		return c.CloseWithError(cause)
	}
	return nil
}

// reqBody relays a streamed request body upstream, counting it and keeping
// the client's read deadline moving (nginx's client_body_timeout).
type reqBody struct {
	x          *exchange
	r          io.Reader
	n          int64
	deadlineAt int64
	err        error
	active     bool
}

func (b *reqBody) init(x *exchange, r io.Reader) {
	*b = reqBody{x: x, r: r, active: true}
}

func (b *reqBody) Read(p []byte) (int, error) {
	if b.n-b.deadlineAt >= deadlineEvery {
		_ = b.x.ctx.SetReadDeadline(time.Now().Add(clientBodyTimeout))
		b.deadlineAt = b.n
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		b.err = err
	}
	return n, err
}
