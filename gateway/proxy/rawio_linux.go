//go:build linux

package proxy

import (
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// rawIO reads and writes a TCP connection's socket with raw system calls,
// through the connection's poller, so that deadlines, closing and waiting
// for readiness behave as they do for net.Conn.
//
// Go's own Read and Write tell the scheduler each time they enter the
// kernel. When a call has taken over 20 µs, which a write to a loopback or
// LAN peer often does on a virtual machine (waking the peer happens inside
// it), the runtime's monitor thread hands the node's processor to another
// thread, and the first one parks when the call returns: two thread
// switches and a futex wake for nothing, since the socket is non-blocking
// and the call was about to return anyway. Raw calls are invisible to the
// scheduler: at 8,000 req/s on one core, a node's context switches per
// request fell from 4.3–4.5 to 1.9, nginx's figure (BENCHMARKS.md, Proxy).
//
// Only one Read and one Write may run at a time, as for the connections
// that use it (turnConn, deadlineConn). While a Write waits in the round's
// batch, the connection that sends the batch writes its bytes for it.
type rawIO struct {
	conn net.Conn
	rc   syscall.RawConn

	// The buffer and the outcome of the Read in progress, and the function
	// handed to rc.Read, made once so that a Read allocates nothing.
	rbuf []byte
	rn   int
	rerr syscall.Errno
	rfn  func(uintptr) bool

	// The same for Write; wn counts what has been written of wbuf. tfn
	// writes without waiting for room (tryWrite).
	wbuf []byte
	wn   int
	werr syscall.Errno
	wfn  func(uintptr) bool
	tfn  func(uintptr) bool

	// The batch its short writes go out with (batch_linux.go), and the
	// write waiting in it: its bytes, and what sending them did once done
	// is set.
	batch *writeBatch
	bp    []byte
	bn    int
	berr  error
	done  atomic.Bool
}

// socketIO returns what reads and writes c's socket: raw I/O for a TCP
// connection, else c itself.
func socketIO(c net.Conn) io.ReadWriter {
	if r := newRawIO(c); r != nil {
		return r
	}
	return c
}

// newRawIO returns raw I/O for c, or nil when c is not a TCP connection.
func newRawIO(c net.Conn) *rawIO {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawIO{conn: c, rc: rc, batch: batchFor()}
	r.rfn = r.readOnce
	r.wfn = r.writeAll
	r.tfn = func(fd uintptr) bool {
		r.writeAll(fd)
		return true
	}
	return r
}

// readOnce is called by rc.Read until it returns true; it returns false
// when nothing can be read yet, and rc.Read then waits until the socket is
// readable or the read deadline passes.
func (r *rawIO) readOnce(fd uintptr) bool {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.rbuf[0])), uintptr(len(r.rbuf)))
		switch errno {
		case 0:
			r.rn, r.rerr = int(n), 0
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			r.rn, r.rerr = 0, errno
			return true
		}
	}
}

// writeAll writes what is left of wbuf; it returns false when the socket's
// buffer is full, and rc.Write then waits until it has room.
func (r *rawIO) writeAll(fd uintptr) bool {
	for r.wn < len(r.wbuf) {
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&r.wbuf[r.wn])), uintptr(len(r.wbuf)-r.wn))
		switch errno {
		case 0:
			r.wn += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			r.werr = errno
			return true
		}
	}
	return true
}

// Read reads as net.Conn's Read does: io.EOF when the peer has closed.
func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.rbuf = p
	err := r.rc.Read(r.rfn)
	r.rbuf = nil
	switch {
	case err != nil:
		return 0, err
	case r.rerr != 0:
		return 0, r.opError("read", r.rerr)
	case r.rn == 0:
		return 0, io.EOF
	}
	return r.rn, nil
}

// Write writes all of p, as net.Conn's Write does, unless an error or the
// write deadline stops it. A write shorter than batchMax goes out with the
// other connections' writes of the same round (writeBatch).
func (r *rawIO) Write(p []byte) (int, error) {
	switch {
	case len(p) == 0:
		return 0, nil
	case len(p) < batchMax:
		return r.batch.write(r, p)
	}
	return r.writeNow(p)
}

// writeNow writes all of p, waiting for room in the socket as needed.
func (r *rawIO) writeNow(p []byte) (int, error) {
	return r.write(p, r.wfn)
}

// tryWrite writes what the socket takes now, without waiting for room: n
// may be short of len(p) with a nil error.
func (r *rawIO) tryWrite(p []byte) (int, error) {
	return r.write(p, r.tfn)
}

func (r *rawIO) write(p []byte, fn func(uintptr) bool) (int, error) {
	r.wbuf, r.wn, r.werr = p, 0, 0
	err := r.rc.Write(fn)
	n := r.wn
	r.wbuf = nil
	switch {
	case err != nil:
		return n, err
	case r.werr != 0:
		return n, r.opError("write", r.werr)
	}
	return n, nil
}

// opError wraps a failed call as net.Conn would.
func (r *rawIO) opError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Source: r.conn.LocalAddr(), Addr: r.conn.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}
