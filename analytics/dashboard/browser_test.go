package dashboard

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Environment variables the tests read.
const (
	// envChromium names the Chromium (or Chrome) binary to drive; without
	// it the tests look for chromium and chromium-browser on PATH.
	envChromium = "TOLLGATE_CHROMIUM"
	// envRequire is the comma-separated list of parts a run must not skip
	// for lack of: with "chromium" in it a missing browser fails the tests.
	envRequire = "TOLLGATE_REQUIRE"
)

// findChromium returns the browser binary, or skips t (fails it when the
// run requires chromium).
func findChromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(envChromium); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium on PATH (apt-get install chromium, or set " + envChromium + ")"
	for _, part := range strings.Split(os.Getenv(envRequire), ",") {
		if strings.EqualFold(strings.TrimSpace(part), "chromium") {
			t.Fatalf("%s; %s requires chromium", msg, envRequire)
		}
	}
	t.Skip(msg)
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile, stopped when
// t ends. Each test page opens its own tab (openTab), so session storage,
// where the dashboard keeps the token, is not shared between them.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	bin := findChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		// Times on the page read the same on every machine.
		chromedp.Env("TZ=UTC"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The first action starts the browser, which then lives as long as
	// bctx: no timeout here.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	return bctx
}

// tab is one browser tab on the dashboard.
type tab struct {
	t    testing.TB
	ctx  context.Context
	base string // the API server's URL
}

// openTab opens the dashboard of the API at base, at the hash (e.g.
// "#/overview?range=24h"), in a new 1280×800 tab.
func openTab(t testing.TB, browser context.Context, base, hash string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		cancel()
		t.Fatalf("open tab: %v", err)
	}
	// An exception the page did not catch is a failure, whatever it shows.
	var (
		mu         sync.Mutex
		exceptions []string
		done       = make(chan struct{})
	)
	console := chromedp.Console(ctx)
	go func() {
		defer close(done)
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() {
				mu.Lock()
				exceptions = append(exceptions, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line+1))
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		for _, e := range exceptions {
			t.Errorf("page exception: %s", e)
		}
	})
	tb := &tab{t: t, ctx: ctx, base: base}
	tb.do(chromedp.Navigate(base + "/" + hash))
	return tb
}

// patience bounds each wait for the page. Generous: under the race
// detector the pure-Go SQLite store takes seconds for a page's queries.
const patience = 3 * time.Minute

// do runs actions, failing the test on an error or after patience.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, patience)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, patience)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// rendered waits until the page has finished a render numbered above
// after, and returns its state ("ready", "error", or "token" when the
// token form replaced the page), page name and number.
func (tb *tab) rendered(after int) (state, page string, gen int) {
	tb.t.Helper()
	js := fmt.Sprintf(`(() => {
		const p = document.getElementById('page');
		if (p.dataset.state === 'token') return 'token';
		if ((p.dataset.state === 'ready' || p.dataset.state === 'error') && Number(p.dataset.gen) > %d)
			return p.dataset.state + ' ' + p.dataset.page + ' ' + p.dataset.gen;
		return false;
	})()`, after)
	ctx, cancel := context.WithTimeout(tb.ctx, patience)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[string](js, chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(patience)))
	if err != nil {
		tb.t.Fatalf("wait for the page: %v", err)
	}
	f := strings.Fields(v)
	if f[0] == "token" {
		return "token", "", 0
	}
	gen, _ = strconv.Atoi(f[2])
	return f[0], f[1], gen
}

// ready waits for a render of page numbered above after to succeed and
// returns its number.
func (tb *tab) ready(page string, after int) int {
	tb.t.Helper()
	state, got, gen := tb.rendered(after)
	switch {
	case state == "token":
		tb.t.Fatalf("want page %s, got the token form: %s", page, tb.text("token-message"))
	case state == "error":
		tb.t.Fatalf("page %s failed: %s", got, strings.Join(eval[[]string](tb,
			`[...document.querySelectorAll('[data-testid="api-error"]')].map(e => e.textContent)`), "; "))
	case got != page:
		tb.t.Fatalf("want page %s, got %s", page, got)
	}
	return gen
}

// gen is the number of the page's latest render.
func (tb *tab) gen() int {
	tb.t.Helper()
	return eval[int](tb, `Number(document.getElementById('page').dataset.gen || 0)`)
}

// text returns the text of the element with the data-testid, failing the
// test when there is none.
func (tb *tab) text(testid string) string {
	tb.t.Helper()
	v := eval[*string](tb, fmt.Sprintf(`(() => { const e = document.querySelector('[data-testid=%q]'); return e ? e.textContent : null; })()`, testid))
	if v == nil {
		tb.t.Fatalf("no element with data-testid %q", testid)
	}
	return strings.TrimSpace(*v)
}

// visible says whether the element with id is shown.
func (tb *tab) visible(id string) bool {
	tb.t.Helper()
	return eval[bool](tb, fmt.Sprintf(`(() => { const e = document.getElementById(%q); return !!e && e.offsetParent !== null; })()`, id))
}

// domRow is a table row as the page shows it: its data-key and the text of
// its cells with a data-testid.
type domRow struct {
	Key   string            `json:"key"`
	Cells map[string]string `json:"cells"`
}

// rows returns the body rows of the table with the data-testid.
func (tb *tab) rows(testid string) []domRow {
	tb.t.Helper()
	v := eval[*[]domRow](tb, fmt.Sprintf(`(() => {
		const t = document.querySelector('[data-testid=%q]');
		if (!t) return null;
		return [...t.querySelectorAll('tbody tr[data-key]')].map(tr => ({
			key: tr.dataset.key,
			cells: Object.fromEntries([...tr.querySelectorAll('[data-testid]')].map(c => [c.dataset.testid, c.textContent.trim()])),
		}));
	})()`, testid))
	if v == nil {
		tb.t.Fatalf("no table with data-testid %q", testid)
	}
	return *v
}

// choose selects value in the <select> with id, as a user would.
func (tb *tab) choose(id, value string) {
	tb.t.Helper()
	ok := eval[bool](tb, fmt.Sprintf(`(() => {
		const s = document.getElementById(%q);
		if (![...s.options].some(o => o.value === %q)) return false;
		s.value = %q;
		s.dispatchEvent(new Event('change', {bubbles: true}));
		return true;
	})()`, id, value, value))
	if !ok {
		tb.t.Fatalf("select #%s has no option %q", id, value)
	}
}

// enterToken types secret into the token form and submits it, opening the
// form first when it is not shown.
func (tb *tab) enterToken(secret string) {
	tb.t.Helper()
	if !tb.visible("token-panel") {
		tb.do(chromedp.Click(chromedp.ID("token-button")))
	}
	tb.do(
		chromedp.WaitVisible(chromedp.ID("token-input")),
		chromedp.SendKeys(chromedp.ID("token-input"), secret),
		// Click, not Submit: form.submit() skips the submit handler.
		click(`#token-form button[type="submit"]`),
	)
}

// waitFor waits until the JavaScript expression js is truthy.
func (tb *tab) waitFor(js string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, patience)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(patience))); err != nil {
		tb.t.Fatalf("wait for %s: %v", js, err)
	}
}

// click clicks the first element the CSS selector matches.
func click(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(sel))
}

// goTo changes the location's hash.
func (tb *tab) goTo(hash string) {
	tb.t.Helper()
	eval[chromedp.Void](tb, fmt.Sprintf(`location.hash = %q`, hash))
}

// count parses a count as the page formats it ("1,234").
func count(t testing.TB, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("not a count: %q", s)
	}
	return n
}

// checkRate checks a rate as the page formats it ("2.75%") against the
// API's ratio, to the shown precision.
func checkRate(t testing.TB, what, shown string, want float64) {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(shown, "%"), 64)
	if err != nil || !strings.HasSuffix(shown, "%") {
		t.Fatalf("%s: not a percentage: %q", what, shown)
	}
	if d := v - want*100; d > 0.0051 || d < -0.0051 {
		t.Errorf("%s: page shows %s, API says %.4f%%", what, shown, want*100)
	}
}
