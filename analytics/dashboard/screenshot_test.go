package dashboard

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// envScreenshots names the directory TestScreenshots writes to.
const envScreenshots = "TOLLGATE_SCREENSHOTS"

// maxScreenshot bounds a screenshot's size, to keep the repository small.
const maxScreenshot = 300 << 10

// TestScreenshots writes a 1280×800 PNG of each page, over the seeded
// traffic of TestDashboard, into the directory $TOLLGATE_SCREENSHOTS
// (docs/screenshots holds the ones docs/dashboard.md shows):
//
//	TOLLGATE_SCREENSHOTS=$PWD/docs/screenshots go test ./analytics/dashboard -run TestScreenshots
func TestScreenshots(t *testing.T) {
	dir := os.Getenv(envScreenshots)
	if dir == "" {
		t.Skipf("set %s to a directory to write screenshots of the dashboard", envScreenshots)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	browser := newBrowser(t)
	f := newFixture(t)
	for _, s := range []struct {
		file, hash, page, token string
	}{
		{"overview.png", "#/overview?range=24h", "overview", ""},
		{"service.png", "#/services/" + svcOrders + "?range=24h", "services", ""},
		{"route.png", "#/routes/" + rtOrdersList + "?range=7d", "routes", ""},
		{"consumer.png", "#/consumers/" + conAlice + "?range=30d", "consumers", ""},
		{"errors.png", "#/errors?range=24h", "errors", ""},
		{"my-usage.png", "#/?range=7d", "mine", tokAlice},
	} {
		t.Run(s.file, func(t *testing.T) {
			tb := openTab(t, browser, f.open.URL, s.hash)
			if s.token == "" {
				tb.ready(s.page, 0)
			} else {
				// Loopback callers are admin until they enter a token.
				gen := tb.ready("overview", 0)
				tb.enterToken(s.token)
				tb.ready(s.page, gen)
			}
			// Let the charts paint, and take the focus off the form.
			eval[chromedp.Void](tb, `document.activeElement && document.activeElement.blur()`)
			ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
			defer cancel()
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](
				`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))`, chromedp.EvalAwaitPromise)); err != nil {
				t.Fatal(err)
			}
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			if len(png) > maxScreenshot {
				t.Errorf("%s: %d bytes, more than %d", s.file, len(png), maxScreenshot)
			}
			if err := os.WriteFile(filepath.Join(dir, s.file), png, 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}
