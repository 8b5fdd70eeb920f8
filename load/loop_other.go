//go:build !linux

package load

import (
	"context"
	"errors"
)

// runLoop needs epoll: the generator runs on Linux only, as the benchmarks
// that use it (taskset, /proc) do.
func runLoop(context.Context, Config, []byte, string, int64, *Result) error {
	return errors.New("load: the fixed-rate generator runs on Linux only")
}
