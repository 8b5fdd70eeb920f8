//go:build linux

package load

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The generator is one event loop on one OS thread, as wrk's is: it owns
// non-blocking sockets and an epoll instance of its own, writes each request
// when it falls due, and reads a response only when epoll reports it has
// arrived. Per request that is a write, a read and at most two epoll waits,
// and no thread ever wakes another.
//
// A goroutine per connection fed by a scheduling goroutine, as the
// generator was first built, cost 35–65 µs of CPU per request on these
// virtual machines, most of it in the kernel: a timer wake-up per request,
// futex wake-ups between the scheduler's thread and the workers', and a
// read that finds nothing before every wait. At half of a proxy's rate it
// kept the load generator's core 90 % busy, and its own queueing, not the
// proxy, set the p99 it measured (BENCHMARKS.md, Proxy).

// Linux's epoll_pwait2(2) (5.11): epoll_wait with a timespec timeout. The
// number is the same on every architecture.
const sysEpollPwait2 = 441

// Thread timer slack (prctl(2), linux/prctl.h). Linux lets a sleeping
// thread's timers fire up to its slack late, 50 µs by default, so that it
// can batch wake-ups; at thousands of requests per second that would turn
// an even schedule into bursts.
const (
	prSetTimerSlack = 29
	prGetTimerSlack = 30
)

// maxWait bounds one epoll wait, so that a cancelled context and the
// runtime's other goroutines are attended to even at low rates.
const maxWait = 10 * time.Millisecond

// conn is one keep-alive connection of the loop.
type conn struct {
	id   int // its index in loop.conns, and its epoll data
	fd   int // -1 when not connected
	buf  []byte
	busy bool // a request is in flight

	at       time.Duration // the in-flight request's due time, from start
	deadline time.Duration // when it times out, from start
	unsent   []byte        // the part of the request a full socket refused
	reused   bool          // the connection answered before this request was written
	retried  bool          // this request is already a retry on a new connection
}

// loop is one Run's state. Only the goroutine running it touches it.
type loop struct {
	cfg      Config
	raw      []byte
	addr     string
	start    time.Time
	deadline time.Duration // the run's hard deadline, from start
	head     bool
	rawWait  bool // epoll waits keep the P (see wait)
	noPwait2 bool // the kernel has no epoll_pwait2 (see wait)

	epfd   int
	conns  []conn
	idle   []int // indexes of conns with no request in flight
	events []unix.EpollEvent

	total    int64
	interval float64 // nanoseconds between due times
	next     int64   // the next request to fall due
	sent     int64   // requests taken off the schedule: next-sent are waiting for a connection
	inFlight int

	res *Result
}

// runLoop drives the whole schedule and returns when every request has been
// answered, failed or been counted as unsent.
func runLoop(ctx context.Context, cfg Config, raw []byte, addr string, total int64, res *Result) error {
	return runLoopWith(ctx, cfg, raw, addr, total, res, false)
}

// runLoopWith is runLoop; msWaits makes it wait as on a kernel without
// epoll_pwait2, so that tests cover that path too.
func runLoopWith(ctx context.Context, cfg Config, raw []byte, addr string, total int64, res *Result, msWaits bool) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if old, _, errno := unix.Syscall(unix.SYS_PRCTL, prGetTimerSlack, 0, 0); errno == 0 {
		if _, _, errno := unix.Syscall(unix.SYS_PRCTL, prSetTimerSlack, 1, 0); errno == 0 {
			defer unix.Syscall(unix.SYS_PRCTL, prSetTimerSlack, old, 0) //nolint:errcheck // best effort
		}
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("load: epoll: %w", err)
	}
	l := &loop{
		cfg:      cfg,
		raw:      raw,
		addr:     addr,
		start:    time.Now(),
		head:     cfg.Method == "HEAD",
		rawWait:  runtime.GOMAXPROCS(0) >= 2,
		noPwait2: msWaits,
		epfd:     epfd,
		conns:    make([]conn, cfg.Connections),
		idle:     make([]int, 0, cfg.Connections),
		events:   make([]unix.EpollEvent, cfg.Connections),
		total:    total,
		interval: float64(time.Second) / cfg.Rate,
		res:      res,
	}
	l.deadline = cfg.Duration + cfg.Timeout + time.Second
	for i := range l.conns {
		l.conns[i].id, l.conns[i].fd = i, -1
		l.idle = append(l.idle, len(l.conns)-1-i)
	}
	defer func() {
		for i := range l.conns {
			l.close(&l.conns[i])
		}
		_ = unix.Close(epfd)
	}()
	l.run(ctx)
	return nil
}

func (l *loop) now() time.Duration { return time.Since(l.start) }

func (l *loop) due(i int64) time.Duration { return time.Duration(float64(i) * l.interval) }

func (l *loop) run(ctx context.Context) {
	stopped := false
	for {
		now := l.now()
		if !stopped && (ctx.Err() != nil || now >= l.deadline) {
			// Nothing more is sent; what is in flight may still finish
			// until the hard deadline.
			stopped = true
			l.res.Unsent += l.total - l.sent
			l.next, l.sent = l.total, l.total
		}
		if now >= l.deadline {
			l.expire(now, true)
			return
		}
		for l.next < l.total && l.due(l.next) <= now {
			l.res.ScheduleLag.Record(now - l.due(l.next))
			l.next++
		}
		for l.sent < l.next && len(l.idle) > 0 {
			c := l.idle[len(l.idle)-1]
			l.idle = l.idle[:len(l.idle)-1]
			l.send(c, l.due(l.sent), false)
			l.sent++
		}
		if l.sent == l.total && l.inFlight == 0 {
			return
		}
		wait := min(maxWait, l.deadline-now, l.expire(now, false)-now)
		if l.next < l.total {
			wait = min(wait, l.due(l.next)-now)
		}
		n := l.wait(max(wait, 0))
		for _, ev := range l.events[:n] {
			l.ready(int(ev.Fd), ev.Events)
		}
	}
}

// wait blocks in epoll_pwait2 for at most d and returns the number of
// events. With two or more Ps it makes the system call raw, keeping its P:
// an ordinary blocking call has the runtime's monitor thread wake every
// 20 µs to look at it. The other P runs the rest of the process meanwhile.
// With one P that would stop every other goroutine during the wait, so it
// makes the ordinary call.
//
// A kernel older than 5.11 has no epoll_pwait2; epoll_wait's timeout is in
// milliseconds, so there the schedule is kept to the millisecond, and the
// lateness shows in Result.ScheduleLag.
func (l *loop) wait(d time.Duration) int {
	call := unix.Syscall6
	if l.rawWait {
		call = unix.RawSyscall6
	}
	var n uintptr
	var errno unix.Errno
	if !l.noPwait2 {
		ts := unix.NsecToTimespec(int64(d))
		n, _, errno = call(sysEpollPwait2, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
			uintptr(len(l.events)), uintptr(unsafe.Pointer(&ts)), 0, 0)
		if errno == unix.ENOSYS {
			l.noPwait2 = true
		}
	}
	if l.noPwait2 {
		ms := (d + time.Millisecond - 1) / time.Millisecond
		n, _, errno = call(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
			uintptr(len(l.events)), uintptr(ms), 0, 0)
	}
	if errno != 0 {
		// EINTR: a signal, often the runtime's own preemption; the loop
		// looks at the clock and waits again.
		return 0
	}
	return int(n)
}

// send writes the request due at at on connection i, connecting first if
// it has no connection.
func (l *loop) send(i int, at time.Duration, retry bool) {
	c := &l.conns[i]
	now := l.now()
	c.busy, c.at, c.retried = true, at, retry
	c.deadline = min(now+l.cfg.Timeout, l.deadline)
	l.inFlight++
	if !retry {
		l.res.SendLag.Record(now - at)
	}
	if c.fd < 0 {
		if err := l.dial(c); err != nil {
			l.fail(i, fmt.Errorf("connect %s: %w", l.addr, err))
			return
		}
	} else {
		c.reused = true
	}
	n, err := write(c.fd, l.raw)
	switch {
	case err == nil && n == len(l.raw):
		c.unsent = nil
	case err == nil || err == unix.EAGAIN:
		// The socket's buffer is full: write the rest when epoll says it
		// has room.
		c.unsent = l.raw[n:]
		l.watch(c, unix.EPOLLIN|unix.EPOLLOUT)
	default:
		l.broken(i, fmt.Errorf("write request: %w", err))
	}
}

// dial opens c's connection. Go's dialer resolves and connects (rarely,
// since connections are kept alive); the loop then takes its own copy of
// the socket, out of the runtime's poller and into its epoll.
func (l *loop) dial(c *conn) error {
	deadline := l.start.Add(c.deadline)
	nc, err := (&net.Dialer{Deadline: deadline}).Dial("tcp", l.addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	sc, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	var dupErr error
	if err := sc.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return err
	}
	if dupErr != nil {
		return dupErr
	}
	// The copy shares the socket's file status flags, non-blocking included.
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(c.id)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		_ = unix.Close(fd)
		return err
	}
	c.fd, c.buf, c.reused = fd, c.buf[:0], false
	l.res.Dials++
	return nil
}

func (l *loop) watch(c *conn, events uint32) {
	ev := unix.EpollEvent{Events: events | unix.EPOLLRDHUP, Fd: int32(c.id)}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
}

// ready handles epoll's events for connection i.
func (l *loop) ready(i int, events uint32) {
	c := &l.conns[i]
	if c.fd < 0 {
		return
	}
	if events&unix.EPOLLOUT != 0 && c.unsent != nil {
		n, err := write(c.fd, c.unsent)
		switch {
		case err == nil && n == len(c.unsent):
			c.unsent = nil
			l.watch(c, unix.EPOLLIN)
		case err == nil || err == unix.EAGAIN:
			c.unsent = c.unsent[n:]
		default:
			l.broken(i, fmt.Errorf("write request: %w", err))
			return
		}
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
		return
	}
	if len(c.buf) == cap(c.buf) {
		c.buf = append(c.buf, make([]byte, max(16<<10, cap(c.buf)))...)[:len(c.buf)]
	}
	n, err := read(c.fd, c.buf[len(c.buf):cap(c.buf)])
	switch {
	case err == unix.EAGAIN:
		return
	case err != nil:
		l.broken(i, fmt.Errorf("read response: %w", err))
		return
	case n == 0:
		l.eof(i)
		return
	}
	c.buf = c.buf[:len(c.buf)+n]
	if !c.busy {
		// Bytes nobody asked for (a server's timeout notice on an idle
		// connection): the connection cannot be trusted with a request.
		l.close(c)
		return
	}
	r, err := parseResponse(c.buf, l.head)
	switch {
	case err != nil:
		l.broken(i, fmt.Errorf("read response: %w", err))
	case r.size > 0:
		if r.size < len(c.buf) {
			// A response the request did not ask for follows.
			l.broken(i, fmt.Errorf("read response: %w: %d bytes after the response", errMalformed, len(c.buf)-r.size))
			return
		}
		c.buf = c.buf[:0]
		l.done(i, r.status)
		if r.closes {
			l.close(c)
		}
	}
}

// eof handles the server closing connection i.
func (l *loop) eof(i int) {
	c := &l.conns[i]
	if !c.busy {
		l.close(c)
		return
	}
	if l.retryStale(i) {
		return
	}
	if r, err := parseResponse(c.buf, l.head); err == nil && r.toEOF {
		c.buf = c.buf[:0]
		l.done(i, r.status)
		l.close(c)
		return
	}
	l.broken(i, fmt.Errorf("read response: closed after %d bytes: %w", len(c.buf), io.ErrUnexpectedEOF))
}

// broken fails connection i's request and drops the connection, unless the
// error says a kept-alive connection had been closed and the request is
// sent again (retryStale).
func (l *loop) broken(i int, err error) {
	if closedBeforeResponse(err) && l.retryStale(i) {
		return
	}
	l.close(&l.conns[i])
	l.fail(i, err)
}

// retryStale sends connection i's request again, once, on a new
// connection, when the connection was a kept-alive one and nothing of the
// response came: the server had closed it before the request reached it
// and never saw the request, so it is sent again, as net/http does for
// idempotent requests. It reports whether it did.
func (l *loop) retryStale(i int) bool {
	c := &l.conns[i]
	if !c.busy || len(c.buf) != 0 || !c.reused || c.retried {
		return false
	}
	l.close(c)
	l.inFlight--
	l.send(i, c.at, true)
	return true
}

// done completes connection i's request with status.
func (l *loop) done(i int, status int) {
	c := &l.conns[i]
	now := l.now()
	l.res.Completed++
	if status < 200 || status > 299 {
		l.res.Non2xx++
	}
	l.res.Latency.Record(now - c.at)
	l.res.Elapsed = max(l.res.Elapsed, now)
	l.release(i)
}

// fail counts connection i's request as failed.
func (l *loop) fail(i int, err error) {
	l.res.Errors++
	if isTimeout(err) {
		l.res.Timeouts++
	}
	if l.res.FirstError == nil {
		l.res.FirstError = err
	}
	l.release(i)
}

func (l *loop) release(i int) {
	c := &l.conns[i]
	c.busy, c.unsent = false, nil
	l.inFlight--
	l.idle = append(l.idle, i)
}

// expire fails the requests whose time is up: those past their own
// timeout, or every one in flight when final. It returns the earliest
// timeout of those still in flight, or the run's deadline.
func (l *loop) expire(now time.Duration, final bool) time.Duration {
	next := l.deadline
	for i := range l.conns {
		c := &l.conns[i]
		if !c.busy {
			continue
		}
		if final || now >= c.deadline {
			l.close(c)
			l.fail(i, fmt.Errorf("read response: %w", os.ErrDeadlineExceeded))
			continue
		}
		next = min(next, c.deadline)
	}
	return next
}

func (l *loop) close(c *conn) {
	if c.fd >= 0 {
		_ = unix.Close(c.fd) // also takes it out of the epoll set
		c.fd = -1
	}
	c.buf, c.unsent = c.buf[:0], nil
}

// write and read are write(2) and read(2) on a non-blocking socket, raw:
// they never block, so the runtime need not know of them.
func write(fd int, b []byte) (int, error) { return rawCall(unix.SYS_WRITE, fd, b) }

func read(fd int, b []byte) (int, error) { return rawCall(unix.SYS_READ, fd, b) }

// rawCall makes the call trap on fd and b. An interrupted call reports
// EAGAIN: epoll, level-triggered, reports the socket again.
func rawCall(trap uintptr, fd int, b []byte) (int, error) {
	n, _, errno := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	switch errno {
	case 0:
		return int(n), nil
	case unix.EINTR:
		return 0, unix.EAGAIN
	}
	return -1, errno
}
