package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tollgate/tollgate/analytics/api"
	"github.com/tollgate/tollgate/analytics/directory"
	"github.com/tollgate/tollgate/analytics/embedded"
	"github.com/tollgate/tollgate/analytics/query/sqlite"
	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/memstore"
	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
	"github.com/tollgate/tollgate/internal/logrecord"
)

// now is the API's clock in these tests: the seeded traffic is placed
// relative to it, so that every range shows the same numbers on every run.
var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// The seeded configuration: two workspaces with services, routes and
// consumers; acme's traffic also comes from a service and a route that have
// since been deleted (configure creates and deletes them).
const (
	svcOrders    = "5d2c6a8e-0b4f-4d0a-9c1e-000000000001"
	svcPayments  = "5d2c6a8e-0b4f-4d0a-9c1e-000000000002"
	svcSearch    = "5d2c6a8e-0b4f-4d0a-9c1e-000000000003"
	svcLegacy    = "5d2c6a8e-0b4f-4d0a-9c1e-0000000000de" // deleted
	svcInventory = "7a61e0c4-3d4e-4f57-8b1a-000000000001" // globex

	rtOrdersList   = "9b0f1e2d-6c5a-4b3e-8d7f-000000000001"
	rtOrdersCreate = "9b0f1e2d-6c5a-4b3e-8d7f-000000000002"
	rtCharge       = "9b0f1e2d-6c5a-4b3e-8d7f-000000000003"
	rtSearch       = "9b0f1e2d-6c5a-4b3e-8d7f-000000000004"
	rtLegacy       = "9b0f1e2d-6c5a-4b3e-8d7f-0000000000de" // deleted
	rtInventory    = "1c2d3e4f-5a6b-4c7d-8e9f-000000000001" // globex

	conAlice = "c0ffee00-1111-4a2b-9c3d-000000000001"
	conBob   = "c0ffee00-1111-4a2b-9c3d-000000000002"
	conCarol = "c0ffee00-1111-4a2b-9c3d-000000000003"
	conDave  = "d00dfeed-2222-4b3c-8d4e-000000000001" // globex

	// Token secrets; the directory holds their hashes.
	tokAdmin      = "admin-secret-token"
	tokAcme       = "tga_acme_workspace_token"
	tokAlice      = "tga_acme_alice_consumer_token"
	tokGlobex     = "tga_globex_workspace_token"
	tokExpired    = "tga_acme_expired_token"
	wsAcme        = "acme"
	wsGlobex      = "globex"
	aliceName     = "alice"
	nameInventory = "inventory"
)

type service struct {
	ws, id, name string
	routes       []route
}

type route struct{ id, name, path string }

var services = []service{
	{wsAcme, svcOrders, "orders", []route{{rtOrdersList, "orders-list", "/orders"}, {rtOrdersCreate, "orders-create", "/orders/new"}}},
	{wsAcme, svcPayments, "payments", []route{{rtCharge, "payments-charge", "/payments/charge"}}},
	{wsAcme, svcSearch, "search", []route{{rtSearch, "search-query", "/search"}}},
	{wsAcme, svcLegacy, "", []route{{rtLegacy, "", "/v0/legacy"}}},
	{wsGlobex, svcInventory, nameInventory, []route{{rtInventory, "inventory-list", "/inventory"}}},
}

var consumers = map[string][]api.Named{
	wsAcme:   {{ID: conAlice, Name: aliceName, Workspace: wsAcme}, {ID: conBob, Name: "bob", Workspace: wsAcme}, {ID: conCarol, Name: "carol", Workspace: wsAcme}},
	wsGlobex: {{ID: conDave, Name: "dave", Workspace: wsGlobex}},
}

// configure writes the seeded configuration into a config store as the
// Admin API would: services, routes, consumers and analytics tokens of
// both workspaces. The legacy service and its route are created and then
// deleted, so their traffic outlives them.
func configure(t testing.TB) store.Store {
	t.Helper()
	ctx := context.Background()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	create := func(ws, id string, e entity.Entity) {
		t.Helper()
		m := e.GetMeta()
		m.ID, m.Workspace, m.CreatedAt, m.UpdatedAt = id, ws, now.Unix(), now.Unix()
		if err := st.Create(ctx, e); err != nil {
			t.Fatalf("create %s %s: %v", e.Kind(), id, err)
		}
	}
	for _, s := range services {
		name := s.name
		if name == "" {
			name = "legacy"
		}
		create(s.ws, s.id, &entity.Service{Name: name, Protocol: "http", Host: name + ".internal", Port: 8080})
		for _, r := range s.routes {
			name := r.name
			if name == "" {
				name = "legacy-route"
			}
			create(s.ws, r.id, &entity.Route{Name: name, Protocols: []string{"http", "https"}, Paths: []string{r.path},
				Service: &entity.Ref{ID: s.id}})
		}
	}
	for ws, list := range consumers {
		for _, c := range list {
			create(ws, c.ID, &entity.Consumer{Username: c.Name})
		}
	}
	token := func(ws, name, secret, consumer string, expiresAt int64) {
		t.Helper()
		tok := &entity.AnalyticsToken{Name: name, TokenHash: validate.HashKey(secret), TokenPrefix: secret[:8], ExpiresAt: expiresAt}
		if consumer != "" {
			tok.Consumer = &entity.Ref{ID: consumer}
		}
		create(ws, uuid.NewString(), tok)
	}
	token(wsAcme, "acme-dashboards", tokAcme, "", 0)
	token(wsGlobex, "globex-dashboards", tokGlobex, "", 0)
	token(wsAcme, "alice-usage", tokAlice, conAlice, 0)
	token(wsAcme, "old", tokExpired, "", now.Add(-time.Hour).Unix())
	for _, del := range []struct {
		kind entity.Kind
		id   string
	}{{entity.KindRoute, rtLegacy}, {entity.KindService, svcLegacy}} {
		if err := st.Delete(ctx, del.kind, wsAcme, del.id); err != nil {
			t.Fatalf("delete %s %s: %v", del.kind, del.id, err)
		}
	}
	return st
}

// seed returns the traffic the dashboard tests look at: a few thousand
// records over the 30 days before now, busiest in the last hour, with every
// status class, gateway error classes, anonymous requests and billable
// usage, in both workspaces.
func seed() []logrecord.Record {
	rng := rand.New(rand.NewPCG(7, 11))
	statuses := []struct {
		status int
		class  string
		weight int
	}{
		{200, "", 250}, {201, "", 20}, {204, "", 8}, {304, "", 10}, {400, "", 5}, {401, "", 5},
		{404, "", 6}, {429, "", 4}, {499, "client_closed", 1}, {500, "", 3}, {502, "connect", 2},
		{503, "no_healthy_target", 1}, {504, "timeout", 1},
	}
	total := 0
	for _, s := range statuses {
		total += s.weight
	}
	pickStatus := func() (int, string) {
		n := rng.IntN(total)
		for _, s := range statuses {
			if n < s.weight {
				return s.status, s.class
			}
			n -= s.weight
		}
		panic("unreachable")
	}
	// Each workspace's traffic: how many records in each window before now.
	windows := []struct {
		span time.Duration
		n    int
	}{{15 * time.Minute, 150}, {time.Hour, 250}, {6 * time.Hour, 300}, {24 * time.Hour, 400}, {7 * 24 * time.Hour, 500}, {30 * 24 * time.Hour, 600}}
	var recs []logrecord.Record
	for _, ws := range []string{wsAcme, wsGlobex} {
		var svcs []service
		for _, s := range services {
			if s.ws == ws {
				svcs = append(svcs, s)
			}
		}
		cons := append([]api.Named{{}}, consumers[ws]...) // the first: anonymous
		scale := 1
		if ws == wsGlobex {
			scale = 4 // a quarter of acme's traffic
		}
		for _, w := range windows {
			for i := 0; i < w.n/scale; i++ {
				// Weight the services unevenly, so the top lists have an order.
				s := svcs[min(len(svcs)-1, int(rng.ExpFloat64()*0.9))]
				r := s.routes[rng.IntN(len(s.routes))]
				c := cons[rng.IntN(len(cons))]
				status, class := pickStatus()
				started := now.Add(-time.Duration(rng.Int64N(int64(w.span/time.Millisecond))) * time.Millisecond)
				up := 5 + rng.ExpFloat64()*40
				gw := 0.2 + rng.Float64()
				responder := "upstream"
				upStatus := status
				if class != "" || status == 401 || status == 429 {
					responder, upStatus, up = "gateway", 0, 0
				}
				if class == "timeout" {
					up = 5000 // the upstream's read timeout
				}
				recs = append(recs, logrecord.Record{
					RequestID:         fmt.Sprintf("req-%s-%05d", ws, len(recs)),
					StartedAt:         started.UnixMilli(),
					NodeID:            fmt.Sprintf("node-%d", 1+rng.IntN(2)),
					Workspace:         ws,
					ServiceID:         s.id,
					RouteID:           r.id,
					RoutePath:         r.path,
					ConsumerID:        c.ID,
					Method:            []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}[rng.IntN(6)],
					Protocol:          "https",
					Host:              ws + ".example.com",
					Path:              r.path,
					ClientIP:          fmt.Sprintf("203.0.113.%d", 1+rng.IntN(200)),
					UserAgent:         "curl/8.5.0",
					Status:            status,
					UpstreamStatus:    upStatus,
					Responder:         responder,
					UpstreamTries:     1,
					UpstreamAddr:      "10.0.0.7:8080",
					LatencyTotalMs:    up + gw,
					LatencyGatewayMs:  gw,
					LatencyUpstreamMs: up,
					RequestBytes:      int64(200 + rng.IntN(2000)),
					ResponseBytes:     int64(500 + rng.IntN(40000)),
					AuthOutcome:       map[bool]string{true: "authenticated", false: "anonymous"}[c.ID != ""],
					ErrorClass:        class,
					Billable:          c.ID != "" && status < 400,
					BillingUnits:      int64(1 + rng.IntN(3)),
				})
			}
		}
	}
	return recs
}

// fixture is the analytics API over a SQLite store holding seed() and the
// analytics directory over a config store holding configure(), served
// twice: without an admin token (loopback callers are admin) and with one.
type fixture struct {
	open      *httptest.Server // no admin token
	withAdmin *httptest.Server // admin token tokAdmin
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := embedded.Open(ctx, filepath.Join(t.TempDir(), "analytics.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, _, err := store.Load(ctx, seed()); err != nil {
		t.Fatalf("seed: %v", err)
	}
	dir, err := directory.New(ctx, configure(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	serve := func(adminToken string) *httptest.Server {
		srv, err := api.New(api.Config{
			Store:      sqlite.New(store.DB()),
			Directory:  dir,
			AdminToken: adminToken,
			Dashboard:  FS(),
			Now:        func() time.Time { return now },
		})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		return ts
	}
	return &fixture{open: serve(""), withAdmin: serve(tokAdmin)}
}

// The API's answers, as far as the tests compare them.
type (
	apiRow struct {
		Key       string  `json:"key"`
		Name      string  `json:"name"`
		Deleted   bool    `json:"deleted"`
		Requests  int64   `json:"requests"`
		Errors4xx int64   `json:"errors_4xx"`
		Errors5xx int64   `json:"errors_5xx"`
		ErrorRate float64 `json:"error_rate"`
		BytesIn   int64   `json:"bytes_in"`
		BytesOut  int64   `json:"bytes_out"`
	}
	apiRows struct {
		Rows []apiRow `json:"rows"`
	}
	apiUsage struct {
		Rows []struct {
			Start            time.Time `json:"start"`
			ConsumerID       string    `json:"consumer_id"`
			Requests         int64     `json:"requests"`
			BillableRequests int64     `json:"billable_requests"`
			BillingUnits     int64     `json:"billing_units"`
		} `json:"rows"`
	}
	apiRecent struct {
		Records []struct {
			RequestID string `json:"request_id"`
			Status    int    `json:"status"`
			Workspace string `json:"workspace"`
			ServiceID string `json:"service_id"`
		} `json:"records"`
	}
)

// get asks the API at base what the page asked, with token ("" for
// none), and decodes the answer into out.
func get(t testing.TB, base, token, path string, params url.Values, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path+"?"+params.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		t.Fatalf("GET %s?%s: %s %v", path, params.Encode(), res.Status, body)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: decode: %v", path, err)
	}
}

// totals adds up breakdown rows as the headline does.
func totals(rows []apiRow) (requests, errors, bytesOut int64) {
	for _, r := range rows {
		requests += r.Requests
		errors += r.Errors4xx + r.Errors5xx
		bytesOut += r.BytesOut
	}
	return requests, errors, bytesOut
}
