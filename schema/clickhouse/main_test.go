package clickhousemigrate

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/tollgate/tollgate/internal/clickhousetest"
)

// clickhouse is the server every test of the package shares, each in a
// database of its own.
var clickhouse clickhousetest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	if err := clickhouse.Close(); err != nil {
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
