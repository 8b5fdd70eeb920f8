package collector

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/tollgate/tollgate/internal/clickhousetest"
)

// sharedCH is the server the tests share, each in a database of its
// own; outage tests start their own.
var sharedCH clickhousetest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	if err := sharedCH.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "stop clickhouse:", err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left running:", err)
			code = 1
		}
	}
	os.Exit(code)
}
