package collector

import (
	"os"
	"testing"

	"github.com/tollgate/tollgate/internal/clickhousetest"
)

// sharedCH is the server the tests share, each in a database of its
// own; outage tests start their own.
var sharedCH clickhousetest.Shared

func TestMain(m *testing.M) { os.Exit(sharedCH.Main(m, true)) }
