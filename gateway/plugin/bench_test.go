package plugin_test

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/plugin/plugintest"
	"github.com/tollgate/tollgate/gateway/plugins/correlationid"
	"github.com/tollgate/tollgate/gateway/plugins/keyauth"
	"github.com/tollgate/tollgate/gateway/plugins/ratelimiting"
	"github.com/tollgate/tollgate/gateway/ratelimit"
	"github.com/tollgate/tollgate/internal/entity"
	"github.com/tollgate/tollgate/internal/logrecord"
)

// chain is the benchmark's pipeline: key-auth, rate-limiting and
// correlation-id on a route, over the in-memory fakes.
func chain(tb testing.TB) (*plugin.Set, *plugintest.Credentials, *ratelimit.Local) {
	reg := plugin.NewRegistry(keyauth.Factory(), ratelimiting.Factory(), correlationid.Factory())
	store := ratelimit.NewLocal(ratelimit.LocalOptions{SweepInterval: -1})
	route := &entity.Ref{ID: "route-1"}
	set, err := plugin.NewSet(reg, []*entity.Plugin{
		{Meta: entity.Meta{ID: "ka"}, Name: keyauth.Name, Route: route, Config: json.RawMessage(`{"hide_credentials":true}`)},
		{Meta: entity.Meta{ID: "rl"}, Name: ratelimiting.Name, Route: route, Config: json.RawMessage(`{"minute":1000000000,"hour":1000000000}`)},
		{Meta: entity.Meta{ID: "ci"}, Name: correlationid.Name, Config: json.RawMessage(`{"echo_downstream":true}`)},
	}, plugin.Env{Counters: store, Now: time.Now})
	if err != nil {
		tb.Fatal(err)
	}
	cr := plugintest.NewCredentials()
	cr.AddConsumer("", "consumer-1", "alice", "")
	cr.AddKey("", "consumer-1", "cred-1", "secret-key")
	return set, cr, store
}

func TestChain(t *testing.T) {
	set, cr, store := chain(t)
	defer store.Close()
	req := plugintest.NewRequest("GET", "/x", map[string]string{"apikey": "secret-key"}, nil)
	c := &plugin.Context{Request: req, Workspace: "default", RouteID: "route-1", Credentials: cr, Record: &logrecord.Record{}, ClientIP: netip.MustParseAddr("10.0.0.1")}
	resp := plugintest.Serve(set, c, plugintest.NewResponse(200, nil, nil))
	if resp.Status() != 200 || c.Consumer == nil || c.Consumer.ID != "consumer-1" {
		t.Fatalf("status %d consumer %v", resp.Status(), c.Consumer)
	}
	if req.Header("apikey") != "" || req.Header("Kong-Request-ID") == "" {
		t.Errorf("upstream headers: apikey %q, id %q", req.Header("apikey"), req.Header("Kong-Request-ID"))
	}
	if resp.Header("Kong-Request-ID") != req.Header("Kong-Request-ID") || resp.Header("RateLimit-Remaining") != "999999999" {
		t.Errorf("response headers: id %q remaining %q", resp.Header("Kong-Request-ID"), resp.Header("RateLimit-Remaining"))
	}
	if c.Record.RateLimitOutcome != "allowed" || c.Record.AuthOutcome != "authenticated" {
		t.Errorf("record: %+v", c.Record)
	}
}

// BenchmarkChain measures one request through the pipeline (Access,
// HeaderFilter, Log), the fakes' own work included. The request, response
// and context are reused, as a server reuses them.
func BenchmarkChain(b *testing.B) {
	set, cr, store := chain(b)
	defer store.Close()
	req := plugintest.NewRequest("GET", "/x", nil, nil)
	resp := plugintest.NewResponse(200, map[string]string{"Content-Type": "text/plain"}, nil)
	rec := &logrecord.Record{}
	ip := netip.MustParseAddr("10.0.0.1")
	c := &plugin.Context{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req.SetHeader("apikey", "secret-key")
		req.DelHeader("Kong-Request-ID")
		*c = plugin.Context{Request: req, Workspace: "default", RouteID: "route-1", ServiceID: "service-1",
			Credentials: cr, Record: rec, ClientIP: ip}
		set.Access(c)
		if _, exited := c.Exited(); exited {
			b.Fatal("exited")
		}
		c.Response = resp
		set.HeaderFilter(c)
		set.Log(c)
	}
}
