package load

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// prctl options from linux/prctl.h.
const (
	prSetTimerSlack = 29
	prGetTimerSlack = 30
)

// sleeper waits with microsecond precision. The Go runtime's timers wake
// up to a millisecond late on Linux, because the netpoller waits with
// epoll_pwait's millisecond timeout (golang/go#44343), which at thousands
// of requests per second would turn an even schedule into bursts. So the
// scheduling goroutine keeps one OS thread, sets that thread's timer slack
// (50 µs by default, prctl(2) PR_SET_TIMERSLACK) to 1 ns, and sleeps with
// nanosleep(2).
//
// With two or more Ps it sleeps with a raw system call, which keeps its P
// instead of handing it to the runtime: an ordinary blocking call wakes the
// runtime's monitor thread every 20 µs to look at it, which cost about a
// tenth of the generator's CPU at 10,000 requests/s. The other P runs the
// workers meanwhile. With a single P that would stop every worker during
// each sleep, so it falls back to the ordinary call.
type sleeper struct {
	oldSlack uintptr
	slackSet bool
	raw      bool
}

func newSleeper() *sleeper {
	runtime.LockOSThread()
	s := &sleeper{raw: runtime.GOMAXPROCS(0) >= 2}
	old, _, errno := syscall.Syscall6(syscall.SYS_PRCTL, prGetTimerSlack, 0, 0, 0, 0, 0)
	if errno == 0 {
		if _, _, errno := syscall.Syscall6(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0, 0, 0, 0); errno == 0 {
			s.oldSlack, s.slackSet = old, true
		}
	}
	return s
}

func (s *sleeper) sleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	// An interrupted nanosleep returns early; the scheduler checks the
	// clock again, so there is nothing to resume.
	if s.raw {
		_, _, _ = syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
		return
	}
	_ = syscall.Nanosleep(&ts, nil)
}

// close gives the thread back to the runtime as it was.
func (s *sleeper) close() {
	if s.slackSet {
		_, _, _ = syscall.Syscall6(syscall.SYS_PRCTL, prSetTimerSlack, s.oldSlack, 0, 0, 0, 0)
	}
	runtime.UnlockOSThread()
}
