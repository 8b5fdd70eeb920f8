package benchrig

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses of a benchmark command.
const (
	ExitOK          = 0   // the run completed, whether or not targets were met
	ExitFailed      = 1   // the run failed
	ExitSettings    = 2   // a setting was bad; nothing was started
	ExitMissed      = 3   // strict, and a target was missed
	ExitInterrupted = 130 // SIGINT or SIGTERM
)

// Bench is one run of a benchmark, as Run drives it.
type Bench interface {
	// Run starts what the benchmark needs and measures; it returns when
	// done, on the first failure or when ctx ends.
	Run(ctx context.Context) error
	// PrintLogTails shows the end of the children's logs after a
	// failure, before Close removes them.
	PrintLogTails()
	// Close stops everything Run started and removes its files. It is
	// idempotent.
	Close() error
	// Missed tells whether a measure missed its target.
	Missed() bool
}

// Main is a benchmark command's main, less os.Exit: setup reads the
// settings and returns the run and whether a missed target fails it
// (BENCH_STRICT); a bad setting is said on stderr and ends with
// ExitSettings before anything starts. Then Main runs the bench as Run
// does until it is done or SIGINT or SIGTERM arrives, and returns the exit
// status.
func Main(name string, stderr io.Writer, setup func() (b Bench, strict bool, err error)) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, strict, err := setup()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitSettings
	}
	return Run(ctx, name, b, strict, stderr)
}

// Run runs b, closes it and returns the exit status. ctx ends on SIGINT
// or SIGTERM; name prefixes the lines it writes to stderr
// ("bench-cluster").
func Run(ctx context.Context, name string, b Bench, strict bool, stderr io.Writer) int {
	err := b.Run(ctx)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "%s: FAIL: %v\n", name, err)
		// The children's logs live in the temporary directory, which
		// Close removes: show them first.
		b.PrintLogTails()
	}
	if cerr := b.Close(); cerr != nil {
		fmt.Fprintf(stderr, "%s: cleanup: %v\n", name, cerr)
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "%s: interrupted; everything it started is stopped\n", name)
		return ExitInterrupted
	case err != nil:
		return ExitFailed
	case b.Missed() && strict:
		return ExitMissed
	}
	return ExitOK
}
