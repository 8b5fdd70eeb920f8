package dashboard

import (
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFS(t *testing.T) {
	for _, name := range []string{
		"index.html", "app.css", "js/main.js", "js/api.js", "js/widgets.js",
		"vendor/uplot/uPlot.iife.min.js", "vendor/uplot/uPlot.min.css", "vendor/uplot/LICENSE",
	} {
		if _, err := fs.Stat(FS(), name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The page loads nothing from another origin.
	err := fs.WalkDir(FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(name, "vendor/") {
			return err
		}
		b, err := fs.ReadFile(FS(), name)
		if err != nil {
			return err
		}
		for _, s := range []string{"http://", "https://", "//cdn", "@import url("} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s refers to %q: the dashboard must not load anything from elsewhere", name, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDashboard drives the dashboard in a headless Chromium against the
// analytics API over a seeded SQLite store, and checks that what each
// page shows is what the API answers to the same question. Each case has
// a tab of its own, and they run in parallel.
func TestDashboard(t *testing.T) {
	browser := newBrowser(t)
	f := newFixture(t)

	t.Run("overview", func(t *testing.T) {
		t.Parallel()
		tb := openTab(t, browser, f.open.URL, "#/overview?range=24h")
		gen := tb.ready("overview", 0)
		if got := tb.text("scope"); got != "admin" {
			t.Errorf("scope: %q, want admin (loopback without an admin token)", got)
		}
		checkHeadline(t, tb, f.open.URL, "", url.Values{"range": {"24h"}})
		for _, dim := range []string{"service", "route", "consumer"} {
			checkTop(t, tb, f.open.URL, "", dim, url.Values{"range": {"24h"}}, true)
		}
		// Every workspace: globex's service is among the top ones.
		if !slices.ContainsFunc(tb.rows("top-services"), func(r domRow) bool { return r.Key == svcInventory }) {
			t.Errorf("admin over all workspaces: top services lack globex's %s", nameInventory)
		}

		// Another range asks again, and the numbers follow.
		day := tb.text("total-requests")
		tb.choose("range", "30d")
		tb.ready("overview", gen)
		if month := tb.text("total-requests"); month == day {
			t.Errorf("range 30d shows the requests of 24h (%s)", day)
		}
		checkHeadline(t, tb, f.open.URL, "", url.Values{"range": {"30d"}})
		checkTop(t, tb, f.open.URL, "", "service", url.Values{"range": {"30d"}}, true)
	})

	t.Run("workspace selector", func(t *testing.T) {
		t.Parallel()
		tb := openTab(t, browser, f.open.URL, "#/overview?range=7d")
		gen := tb.ready("overview", 0)
		if !tb.visible("workspace") {
			t.Fatal("admin sees no workspace selector")
		}
		// The selector fills in the background; wait for globex in it.
		tb.waitFor(`[...document.getElementById("workspace").options].some(o => o.value === "` + wsGlobex + `")`)
		tb.choose("workspace", wsGlobex)
		tb.ready("overview", gen)
		q := url.Values{"range": {"7d"}, "workspace": {wsGlobex}}
		checkHeadline(t, tb, f.open.URL, "", q)
		rows := checkTop(t, tb, f.open.URL, "", "service", q, true)
		if len(rows) != 1 || rows[0].Key != svcInventory {
			t.Errorf("globex's top services: %v, want %s only", rows, nameInventory)
		}
	})

	t.Run("service page", func(t *testing.T) {
		t.Parallel()
		tb := openTab(t, browser, f.open.URL, "#/overview?range=24h")
		gen := tb.ready("overview", 0)
		// Follow the link of the top service, as a user would.
		tb.do(click(`[data-testid="top-services"] tr[data-key="` + svcOrders + `"] a`))
		tb.ready("services", gen)
		if got := tb.text("entity-name"); got != "orders" {
			t.Errorf("service name: %q", got)
		}
		q := url.Values{"range": {"24h"}, "service": {svcOrders}}
		checkHeadline(t, tb, f.open.URL, "", q)
		checkStatusClasses(t, tb, f.open.URL, "", q)
		checkTop(t, tb, f.open.URL, "", "route", q, true)
		checkTop(t, tb, f.open.URL, "", "consumer", q, true)
	})

	t.Run("route page", func(t *testing.T) {
		t.Parallel()
		tb := openTab(t, browser, f.open.URL, "#/routes/"+rtCharge+"?range=6h")
		tb.ready("routes", 0)
		if got := tb.text("entity-name"); got != "payments-charge" {
			t.Errorf("route name: %q", got)
		}
		q := url.Values{"range": {"6h"}, "route": {rtCharge}}
		checkHeadline(t, tb, f.open.URL, "", q)
		checkStatusClasses(t, tb, f.open.URL, "", q)
		checkTop(t, tb, f.open.URL, "", "consumer", q, true)
	})

	t.Run("consumer page", func(t *testing.T) {
		t.Parallel()
		tb := openTab(t, browser, f.open.URL, "#/consumers/"+conAlice+"?range=30d")
		tb.ready("consumers", 0)
		if got := tb.text("entity-name"); got != aliceName {
			t.Errorf("consumer name: %q", got)
		}
		q := url.Values{"range": {"30d"}, "consumer": {conAlice}}
		checkHeadline(t, tb, f.open.URL, "", q)
		checkStatusClasses(t, tb, f.open.URL, "", q)
		checkTop(t, tb, f.open.URL, "", "service", q, true)
		checkUsage(t, tb, f.open.URL, "", q)
	})

	t.Run("deleted service", func(t *testing.T) {
		t.Parallel()
		tb := openTab(t, browser, f.open.URL, "#/overview?range=30d")
		tb.ready("overview", 0)
		var legacy *domRow
		for _, r := range tb.rows("top-services") {
			if r.Key == svcLegacy {
				legacy = &r
			}
		}
		if legacy == nil || legacy.Cells["name"] != svcLegacy+" (deleted)" {
			t.Errorf("deleted service's row: %+v, want its id, marked deleted", legacy)
		}
		tb.goTo("#/services/" + svcLegacy + "?range=30d")
		tb.ready("services", 0)
		if got := tb.text("entity-name"); got != svcLegacy+" (deleted)" {
			t.Errorf("deleted service's page title: %q", got)
		}
		checkHeadline(t, tb, f.open.URL, "", url.Values{"range": {"30d"}, "service": {svcLegacy}})
	})

	t.Run("errors page", func(t *testing.T) {
		t.Parallel()
		tb := openTab(t, browser, f.open.URL, "#/errors?range=24h")
		tb.ready("errors", 0)
		q := url.Values{"range": {"24h"}}
		var sc apiRows
		get(t, f.open.URL, "", "/v1/breakdown", with(q, "group_by", "status_class"), &sc)
		_, errs, _ := totals(sc.Rows)
		if got := count(t, tb.text("total-errors")); got != errs {
			t.Errorf("errors: page %d, API %d", got, errs)
		}
		checkBreakdown(t, tb, "errors-by-status", f.open.URL, "", with(with(q, "errors", "true"), "group_by", "status"))
		checkBreakdown(t, tb, "errors-by-class", f.open.URL, "", with(with(q, "errors", "true"), "group_by", "error_class"))
		checkRecentErrors(t, tb, f.open.URL, "", q)
	})

	t.Run("status class filter", func(t *testing.T) {
		t.Parallel()
		tb := openTab(t, browser, f.open.URL, "#/overview?range=24h")
		gen := tb.ready("overview", 0)
		tb.choose("filter-status-class", "5")
		tb.ready("overview", gen)
		q := url.Values{"range": {"24h"}, "status_class": {"5"}}
		checkHeadline(t, tb, f.open.URL, "", q)
		checkTop(t, tb, f.open.URL, "", "service", q, true)
	})

	t.Run("API error", func(t *testing.T) {
		t.Parallel()
		// An inverted custom range: the API's 400 and its message show.
		tb := openTab(t, browser, f.open.URL, "#/overview?from=2026-11-30T10:00:00Z&to=2026-11-30T09:00:00Z")
		state, _, _ := tb.rendered(0)
		if state != "error" {
			t.Fatalf("page state %q, want error", state)
		}
		status, msg := getError(t, f.open.URL, "", "/v1/series", url.Values{"from": {"2026-11-30T10:00:00Z"}, "to": {"2026-11-30T09:00:00Z"}})
		if status != http.StatusBadRequest || msg == "" {
			t.Fatalf("API: %d %q, want a 400 with a message", status, msg)
		}
		if got := tb.text("api-error-message"); got != msg {
			t.Errorf("error shown: %q, want the API's %q", got, msg)
		}
	})

	t.Run("workspace token", func(t *testing.T) {
		t.Parallel()
		tb := openTab(t, browser, f.open.URL, "#/overview?range=7d")
		gen := tb.ready("overview", 0)
		tb.enterToken(tokAcme)
		tb.ready("overview", gen)
		if got := tb.text("scope-workspace"); got != wsAcme {
			t.Errorf("scope: %q, want workspace %s", got, wsAcme)
		}
		if tb.visible("workspace") {
			t.Error("a workspace token sees the workspace selector")
		}
		q := url.Values{"range": {"7d"}}
		checkHeadline(t, tb, f.open.URL, tokAcme, q)
		for _, dim := range []string{"service", "route", "consumer"} {
			checkTop(t, tb, f.open.URL, tokAcme, dim, q, true)
		}
		noGlobex := func(where string) {
			t.Helper()
			html := eval[string](tb, `document.body.innerHTML`)
			for _, s := range []string{svcInventory, nameInventory, rtInventory, conDave, "req-globex"} {
				if strings.Contains(html, s) {
					t.Errorf("%s: acme's token shows globex's %s", where, s)
				}
			}
		}
		noGlobex("overview")

		// Asking for the other workspace in the location changes nothing.
		gen = tb.gen()
		tb.goTo("#/overview?range=7d&workspace=" + wsGlobex)
		tb.ready("overview", gen)
		checkHeadline(t, tb, f.open.URL, tokAcme, q)
		noGlobex("overview with workspace=globex")

		// Nor does opening a globex service's page: it has no acme traffic.
		gen = tb.gen()
		tb.goTo("#/services/" + svcInventory + "?range=7d")
		tb.ready("services", gen)
		if got := tb.text("total-requests"); got != "0" {
			t.Errorf("globex service's page under acme's token: %s requests", got)
		}

		gen = tb.gen()
		tb.goTo("#/errors?range=7d")
		tb.ready("errors", gen)
		checkRecentErrors(t, tb, f.open.URL, tokAcme, q)
		noGlobex("errors")
	})

	t.Run("consumer token", func(t *testing.T) {
		t.Parallel()
		tb := openTab(t, browser, f.open.URL, "#/overview?range=7d")
		gen := tb.ready("overview", 0)
		tb.enterToken(tokAlice)
		gen = tb.ready("mine", gen)
		if tb.visible("nav") || tb.visible("filters") || tb.visible("workspace") {
			t.Error("a consumer token sees navigation, filters or the workspace selector")
		}
		if got := tb.text("entity-name"); got != aliceName {
			t.Errorf("my usage of %q, want %s", got, aliceName)
		}
		links := eval[[]string](tb, `[...document.querySelectorAll('#page a')].map(a => a.getAttribute('href'))`)
		if len(links) > 0 {
			t.Errorf("a consumer token's page links elsewhere: %v", links)
		}
		q := url.Values{"range": {"7d"}}
		checkHeadline(t, tb, f.open.URL, tokAlice, q)
		checkUsage(t, tb, f.open.URL, tokAlice, q)
		checkTop(t, tb, f.open.URL, tokAlice, "service", q, false)

		// Every location shows the consumer's own page.
		for _, hash := range []string{"#/errors?range=7d", "#/services/" + svcOrders + "?range=7d", "#/consumers/" + conBob + "?range=7d"} {
			tb.goTo(hash)
			gen = tb.ready("mine", gen)
			checkHeadline(t, tb, f.open.URL, tokAlice, q)
		}
	})

	t.Run("bad token", func(t *testing.T) {
		t.Parallel()
		for _, tok := range []string{"not-a-token", tokExpired} {
			tb := openTab(t, browser, f.open.URL, "#/overview")
			gen := tb.ready("overview", 0)
			tb.enterToken(tok)
			if state, _, _ := tb.rendered(gen); state != "token" {
				t.Fatalf("token %q: page state %q, want the token form", tok, state)
			}
			msg := tb.text("token-message")
			if !strings.Contains(msg, "refused the token") || !strings.Contains(msg, "Unauthorized") {
				t.Errorf("token %q: message %q", tok, msg)
			}
			if tb.visible("page") || tb.visible("controls") {
				t.Errorf("token %q: the page stays beside the token form", tok)
			}
		}
	})

	t.Run("admin token", func(t *testing.T) {
		t.Parallel()
		tb := openTab(t, browser, f.withAdmin.URL, "#/overview?range=24h")
		if state, _, _ := tb.rendered(0); state != "token" {
			t.Fatalf("without a token: page state %q, want the token form", state)
		}
		if msg := tb.text("token-message"); !strings.Contains(msg, "needs an analytics token") {
			t.Errorf("message: %q", msg)
		}
		tb.enterToken(tokAdmin)
		tb.ready("overview", 0)
		if got := tb.text("scope"); got != "admin" {
			t.Errorf("scope: %q", got)
		}
		checkHeadline(t, tb, f.withAdmin.URL, tokAdmin, url.Values{"range": {"24h"}})
		checkTop(t, tb, f.withAdmin.URL, tokAdmin, "service", url.Values{"range": {"24h"}}, true)
	})

	t.Run("live refresh", func(t *testing.T) {
		t.Parallel()
		tb := openTab(t, browser, f.open.URL, "#/overview?range=1h")
		gen := tb.ready("overview", 0)
		tb.do(click("#live"))
		// The next render comes by itself within the refresh interval.
		tb.ready("overview", gen)
		checkHeadline(t, tb, f.open.URL, "", url.Values{"range": {"1h"}})
	})
}

func with(q url.Values, k, v string) url.Values {
	out := url.Values{}
	for kk, vv := range q {
		out[kk] = vv
	}
	out.Set(k, v)
	return out
}

// checkHeadline compares the headline numbers with the API's breakdown by
// status class over q.
func checkHeadline(t *testing.T, tb *tab, base, token string, q url.Values) {
	t.Helper()
	var b apiRows
	get(t, base, token, "/v1/breakdown", with(q, "group_by", "status_class"), &b)
	requests, errs, bytesOut := totals(b.Rows)
	if got := count(t, tb.text("total-requests")); got != requests {
		t.Errorf("%v: total requests: page %d, API %d", q, got, requests)
	}
	rate := 0.0
	if requests > 0 {
		rate = float64(errs) / float64(requests)
	}
	checkRate(t, "error rate", tb.text("error-rate"), rate)
	shown := eval[string](tb, `document.querySelector('[data-testid="bytes-out"]').dataset.value`)
	if shown != strconv.FormatInt(bytesOut, 10) {
		t.Errorf("%v: bytes out: page %s, API %d", q, shown, bytesOut)
	}
}

// checkTop compares a top table with the API's top-N by requests, in
// order, and returns the API's rows.
func checkTop(t *testing.T, tb *tab, base, token, dim string, q url.Values, links bool) []apiRow {
	t.Helper()
	var top apiRows
	p := with(with(with(q, "group_by", dim), "limit", "10"), "order_by", "requests")
	get(t, base, token, "/v1/top", p, &top)
	testid := "top-" + dim + "s"
	dom := tb.rows(testid)
	if len(dom) != len(top.Rows) {
		t.Fatalf("%s %v: page has %d rows, API %d", testid, q, len(dom), len(top.Rows))
	}
	for i, r := range top.Rows {
		d := dom[i]
		if d.Key != r.Key {
			t.Errorf("%s row %d: key %q, API %q", testid, i, d.Key, r.Key)
			continue
		}
		want := r.Name
		switch {
		case r.Key == "":
			want = map[string]string{"service": "(no service)", "route": "(no route)", "consumer": "(anonymous)"}[dim]
		case r.Deleted:
			want = r.Key + " (deleted)"
		case want == "":
			want = r.Key
		}
		if d.Cells["name"] != want {
			t.Errorf("%s row %s: name %q, want %q", testid, r.Key, d.Cells["name"], want)
		}
		if got := count(t, d.Cells["requests"]); got != r.Requests {
			t.Errorf("%s row %s: requests %d, API %d", testid, r.Key, got, r.Requests)
		}
		if got := count(t, d.Cells["errors"]); got != r.Errors4xx+r.Errors5xx {
			t.Errorf("%s row %s: errors %d, API %d", testid, r.Key, got, r.Errors4xx+r.Errors5xx)
		}
		checkRate(t, testid+" row "+r.Key+" error rate", d.Cells["error-rate"], r.ErrorRate)
	}
	if !links {
		if n := eval[int](tb, `document.querySelectorAll('[data-testid="`+testid+`"] a').length`); n > 0 {
			t.Errorf("%s: %d links, want none", testid, n)
		}
	}
	return top.Rows
}

// checkBreakdown compares a breakdown table with the API's.
func checkBreakdown(t *testing.T, tb *tab, testid, base, token string, q url.Values) {
	t.Helper()
	var b apiRows
	get(t, base, token, "/v1/breakdown", q, &b)
	dom := tb.rows(testid)
	if len(dom) != len(b.Rows) {
		t.Fatalf("%s: page has %d rows, API %d", testid, len(dom), len(b.Rows))
	}
	for i, r := range b.Rows {
		if dom[i].Key != r.Key || count(t, dom[i].Cells["requests"]) != r.Requests {
			t.Errorf("%s row %d: page %s %s, API %s %d", testid, i, dom[i].Key, dom[i].Cells["requests"], r.Key, r.Requests)
		}
	}
}

// checkStatusClasses compares the status mix with the API's breakdown.
func checkStatusClasses(t *testing.T, tb *tab, base, token string, q url.Values) {
	t.Helper()
	var b apiRows
	get(t, base, token, "/v1/breakdown", with(q, "group_by", "status_class"), &b)
	want := map[string]int64{}
	for _, r := range b.Rows {
		want[r.Key] = r.Requests
	}
	got := map[string]int64{}
	for _, r := range tb.rows("status-classes") {
		got[r.Key] = count(t, r.Cells["requests"])
	}
	if !maps.Equal(got, want) {
		t.Errorf("status classes %v: page %v, API %v", q, got, want)
	}
}

// checkUsage compares the usage table with the API's daily usage.
func checkUsage(t *testing.T, tb *tab, base, token string, q url.Values) {
	t.Helper()
	var u apiUsage
	get(t, base, token, "/v1/usage", with(q, "per", "1d"), &u)
	dom := map[string]domRow{}
	for _, r := range tb.rows("usage") {
		dom[r.Key] = r
	}
	if len(dom) != len(u.Rows) || len(u.Rows) == 0 {
		t.Fatalf("usage %v: page has %d days, API %d", q, len(dom), len(u.Rows))
	}
	for _, r := range u.Rows {
		key := r.Start.UTC().Format(time.RFC3339)
		d, ok := dom[key]
		if !ok {
			t.Errorf("usage: no row for %s", key)
			continue
		}
		if d.Cells["day"] != r.Start.UTC().Format(time.DateOnly) ||
			count(t, d.Cells["requests"]) != r.Requests ||
			count(t, d.Cells["billable-requests"]) != r.BillableRequests ||
			count(t, d.Cells["billing-units"]) != r.BillingUnits {
			t.Errorf("usage %s: page %v, API %+v", key, d.Cells, r)
		}
	}
}

// checkRecentErrors compares the recent failing requests with the API's.
func checkRecentErrors(t *testing.T, tb *tab, base, token string, q url.Values) {
	t.Helper()
	var rec apiRecent
	get(t, base, token, "/v1/recent", with(with(q, "errors", "true"), "limit", "50"), &rec)
	dom := tb.rows("recent-errors")
	if got := count(t, tb.text("recent-count")); got != int64(len(rec.Records)) || len(dom) != len(rec.Records) {
		t.Fatalf("recent errors: page counts %d and has %d rows, API %d", got, len(dom), len(rec.Records))
	}
	for i, r := range rec.Records {
		if dom[i].Key != r.RequestID || dom[i].Cells["request-id"] != r.RequestID || dom[i].Cells["status"] != strconv.Itoa(r.Status) {
			t.Errorf("recent error %d: page %v, API %s %d", i, dom[i], r.RequestID, r.Status)
		}
		if r.Status < 400 {
			t.Errorf("recent error %s has status %d", r.RequestID, r.Status)
		}
	}
}

// getError asks the API for something it refuses and returns the status
// and message.
func getError(t *testing.T, base, token, path string, q url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path+"?"+q.Encode(), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Message string `json:"message"`
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body.Message
}
