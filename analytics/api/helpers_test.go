package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/analytics/embedded"
	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/analytics/query/querytest"
	"github.com/tollgate/tollgate/analytics/query/sqlite"
	"github.com/tollgate/tollgate/internal/entity"
)

// The test clock: the seeded records (querytest.Records) run from T0 to
// T0+11h30.
var (
	t0      = querytest.T0
	testNow = t0.Add(12 * time.Hour)
)

// Token secrets of the test directory.
const (
	adminToken   = "admin-secret"
	acmeToken    = "acme-token"
	globexToken  = "globex-token"
	aliceToken   = "alice-token" // consumer alice of acme
	expiredToken = "expired-token"
	laterToken   = "expires-later-token"
)

func testDirectory() *mapDirectory {
	return &mapDirectory{
		tokens: map[string]Token{
			acmeToken:    {ID: "tok-acme", Name: "acme board", Workspace: querytest.Acme},
			globexToken:  {ID: "tok-globex", Name: "globex board", Workspace: querytest.Globex},
			aliceToken:   {ID: "tok-alice", Name: "alice's usage", Workspace: querytest.Acme, ConsumerID: "alice"},
			expiredToken: {ID: "tok-old", Workspace: querytest.Acme, ExpiresAt: testNow.Unix()},
			laterToken:   {ID: "tok-later", Workspace: querytest.Acme, ExpiresAt: testNow.Unix() + 1},
		},
		// svc-h, r-hand and carol have records but no longer exist.
		entities: map[entity.Kind][]Named{
			entity.KindService: {
				{ID: "svc-a", Name: "orders", Workspace: querytest.Acme},
				{ID: "svc-b", Name: "billing", Workspace: querytest.Acme},
				{ID: "svc-a", Name: "globex-orders", Workspace: querytest.Globex},
			},
			entity.KindRoute: {
				{ID: "r-a1", Name: "orders-list", Workspace: querytest.Acme},
				{ID: "r-a2", Name: "orders-get", Workspace: querytest.Acme},
				{ID: "r-b1", Name: "billing-all", Workspace: querytest.Acme},
				{ID: "r-a1", Name: "globex-list", Workspace: querytest.Globex},
			},
			entity.KindConsumer: {
				{ID: "alice", Name: "alice@acme", Workspace: querytest.Acme},
				{ID: "bob", Name: "bob@acme", Workspace: querytest.Acme},
				{ID: "alice", Name: "alice@globex", Workspace: querytest.Globex},
				{ID: "mallory", Name: "mallory", Workspace: querytest.Globex},
			},
		},
	}
}

// seededStore returns the SQLite store over an embedded database in a
// temporary directory, loaded with querytest.Records.
func seededStore(t testing.TB) query.Store {
	t.Helper()
	es, err := embedded.Open(t.Context(), filepath.Join(t.TempDir(), "analytics.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close() })
	recs := querytest.Records()
	if n, _, err := es.Load(t.Context(), recs); err != nil || n != len(recs) {
		t.Fatalf("load %d records: %d loaded, %v", len(recs), n, err)
	}
	return sqlite.New(es.DB())
}

// fixture is the API over a seeded store behind a real HTTP server.
type fixture struct {
	store query.Store
	api   *Server
	srv   *httptest.Server
}

func newFixture(t testing.TB, store query.Store, opts ...func(*Config)) *fixture {
	t.Helper()
	cfg := Config{Store: store, Directory: testDirectory(), AdminToken: adminToken,
		Now: func() time.Time { return testNow }}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &fixture{store: store, api: s, srv: srv}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with token (none when "") to target, a path with
// its query.
func (f *fixture) do(t testing.TB, method, token, target string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (f *fixture) get(t testing.TB, token, target string) response {
	t.Helper()
	return f.do(t, http.MethodGet, token, target)
}

// ok asserts a 200 and decodes the body into v.
func (r response) ok(t testing.TB, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errorBody is every error's JSON.
type errorBody struct {
	Message string            `json:"message"`
	Name    string            `json:"name"`
	Fields  map[string]string `json:"fields"`
}

func (r response) error(t testing.TB, status int) errorBody {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	if e.Message == "" {
		t.Errorf("error without a message: %s", r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("content type %q", ct)
	}
	return e
}

// The JSON shapes as tests read them.

type latencyOut struct{ P50, P95, P99 float64 }

type metricsOut struct {
	Requests  int64       `json:"requests"`
	Errors4xx int64       `json:"errors_4xx"`
	Errors5xx int64       `json:"errors_5xx"`
	ErrorRate float64     `json:"error_rate"`
	Latency   latencyOut  `json:"latency_ms"`
	Upstream  latencyOut  `json:"upstream_latency_ms"`
	Gateway   *latencyOut `json:"gateway_latency_ms"`
	BytesIn   int64       `json:"bytes_in"`
	BytesOut  int64       `json:"bytes_out"`
}

type rowOut struct {
	Key     string `json:"key"`
	Name    string `json:"name"`
	Deleted bool   `json:"deleted"`
	metricsOut
}

type seriesOut struct {
	From, To time.Time
	Bucket   string
	Points   []struct {
		Start time.Time `json:"start"`
		metricsOut
	}
	Totals metricsOut
}

type breakdownOut struct {
	GroupBy   string   `json:"group_by"`
	Rows      []rowOut `json:"rows"`
	Truncated bool     `json:"truncated"`
}

type topOut struct {
	GroupBy string   `json:"group_by"`
	OrderBy string   `json:"order_by"`
	Rows    []rowOut `json:"rows"`
}

type recordOut struct {
	RequestID    string `json:"request_id"`
	StartedAt    string `json:"started_at"`
	StartedAtMs  int64  `json:"started_at_ms"`
	Workspace    string `json:"workspace"`
	ServiceID    string `json:"service_id"`
	ServiceName  string `json:"service_name"`
	RouteID      string `json:"route_id"`
	RouteName    string `json:"route_name"`
	ConsumerID   string `json:"consumer_id"`
	ConsumerName string `json:"consumer_name"`
	Status       int    `json:"status"`
	Billable     bool   `json:"billable"`
	BillingUnits int64  `json:"billing_units"`
}

type recentOut struct {
	Records []recordOut `json:"records"`
}

type usageOut struct {
	Per      string
	From, To time.Time
	Rows     []struct {
		Start            time.Time `json:"start"`
		Workspace        string    `json:"workspace"`
		ConsumerID       string    `json:"consumer_id"`
		ConsumerName     string    `json:"consumer_name"`
		Requests         int64     `json:"requests"`
		BillableRequests int64     `json:"billable_requests"`
		BillingUnits     int64     `json:"billing_units"`
	}
}

type entitiesOut struct {
	Data []Named `json:"data"`
}
