//go:build !linux

package load

import "time"

// sleeper falls back to the runtime's timers where there is no precise
// sleep of the thread's own; they may wake late by up to a millisecond,
// which shows in Result.ScheduleLag.
type sleeper struct{}

func newSleeper() *sleeper { return &sleeper{} }

func (*sleeper) sleep(d time.Duration) { time.Sleep(d) }

func (*sleeper) close() {}
