package clickhousemigrate

import (
	"os"
	"testing"

	"github.com/tollgate/tollgate/internal/clickhousetest"
)

// clickhouse is the server every test of the package shares, each in a
// database of its own.
var clickhouse clickhousetest.Shared

func TestMain(m *testing.M) { os.Exit(clickhouse.Main(m, true)) }
