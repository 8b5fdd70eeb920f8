package benchrig

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a Proc's waiter or the Upstream's server
// outlives the test that started it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A fasthttp server's worker-pool cleaner checks for Stop between
		// sleeps of MaxIdleWorkerDuration (10 s); it ends on its own.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		// fasthttp refreshes its cached Date line in one process-wide
		// goroutine, started the first time a response carries a Date.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	)
}
