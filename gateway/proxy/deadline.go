package proxy

import (
	"sync/atomic"
	"time"
)

// deadlineSlack: a deadline asked for again and again (on every read or
// write of a busy connection, on every request of a keep-alive one) is
// moved only once the new one would come later than the one in force by
// timeout/deadlineSlack or more, so that the timeout an operation gets is
// between 15/16 of the configured one and all of it, while the connection
// moves its deadlines (a timer update each) a few times per timeout
// instead of every time.
const deadlineSlack = 16

// lazyDeadline is a connection's read or write deadline in force, in Unix
// nanoseconds; 0 when there is none or it is not known. It is atomic for a
// connection whose deadlines another goroutine may set (abort).
type lazyDeadline struct{ at atomic.Int64 }

// keeps reports whether the deadline in force may stand for t: t is no
// earlier than it and later by less than slack. A zero t (no deadline)
// never is.
func (d *lazyDeadline) keeps(t time.Time, slack time.Duration) bool {
	if t.IsZero() {
		return false
	}
	cur, at := d.at.Load(), t.UnixNano()
	return cur != 0 && at >= cur && at-cur < int64(slack)
}

// moving forgets the deadline in force, before it is set: until the
// setting returns, it is not known.
func (d *lazyDeadline) moving() { d.at.Store(0) }

// moved records t as the deadline in force, once it is set.
func (d *lazyDeadline) moved(t time.Time) {
	if t.IsZero() {
		d.at.Store(0)
		return
	}
	d.at.Store(t.UnixNano())
}
