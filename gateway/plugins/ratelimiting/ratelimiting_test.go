package ratelimiting

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/plugin/plugintest"
	"github.com/tollgate/tollgate/gateway/ratelimit"
	"github.com/tollgate/tollgate/internal/entity"
	"github.com/tollgate/tollgate/internal/logrecord"
)

func TestConfigValidation(t *testing.T) {
	reg := plugin.NewRegistry(Factory())
	const atLeastOne = "at least one of these fields must be non-empty: 'config.second', 'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'"
	tests := []struct {
		name   string
		config string
		want   entity.FieldErrors
	}{
		{"minute", `{"minute":5}`, nil},
		{"no limit", `{}`, entity.FieldErrors{"@entity": atLeastOne}},
		{"zero", `{"second":0}`, entity.FieldErrors{"second": "value must be greater than 0"}},
		{"not a number", `{"minute":"5"}`, entity.FieldErrors{"minute": "expected a number"}},
		{"order", `{"minute":20,"hour":10}`, entity.FieldErrors{"@entity": "The limit for hour(10.0) cannot be lower than the limit for minute(20.0)"}},
		{"order across gaps", `{"second":5,"day":4}`, entity.FieldErrors{"@entity": "The limit for day(4.0) cannot be lower than the limit for second(5.0)"}},
		{"equal limits are fine", `{"minute":5,"hour":5}`, nil},
		{"limit_by", `{"minute":5,"limit_by":"cookie"}`, entity.FieldErrors{"limit_by": "expected one of: consumer, credential, ip, service, header, path"}},
		{"header needs a name", `{"minute":5,"limit_by":"header"}`, entity.FieldErrors{"header_name": "required field missing"}},
		{"header name", `{"minute":5,"limit_by":"header","header_name":"x y"}`, entity.FieldErrors{"header_name": "bad header name 'x y', allowed characters are A-Z, a-z, 0-9, '_', and '-'"}},
		{"path needs a path", `{"minute":5,"limit_by":"path"}`, entity.FieldErrors{"path": "required field missing"}},
		{"path shape", `{"minute":5,"limit_by":"path","path":"api"}`, entity.FieldErrors{"path": "should start with: /"}},
		{"cluster policy", `{"minute":5,"policy":"cluster"}`, nil},
		{"redis policy refused", `{"minute":5,"policy":"redis"}`, entity.FieldErrors{"policy": `expected one of: local, cluster (Tollgate shares counters between nodes with "cluster", not redis)`}},
		{"unknown policy", `{"minute":5,"policy":"memcached"}`, entity.FieldErrors{"policy": "expected one of: local, cluster"}},
		{"sliding", `{"minute":5,"window_type":"sliding"}`, nil},
		{"window type", `{"minute":5,"window_type":"rolling"}`, entity.FieldErrors{"window_type": "expected one of: fixed, sliding"}},
		{"sync_rate exact", `{"minute":5,"policy":"cluster","sync_rate":0}`, nil},
		{"sync_rate seconds", `{"minute":5,"policy":"cluster","sync_rate":10}`, nil},
		{"sync_rate negative", `{"minute":5,"policy":"cluster","sync_rate":-2}`, entity.FieldErrors{"sync_rate": "value must be -1 (the node's sync interval), 0 (synchronous) or a number of seconds"}},
		{"exact sliding", `{"day":5,"policy":"cluster","sync_rate":0,"window_type":"sliding"}`, entity.FieldErrors{"window_type": "sliding windows cannot be counted exactly: use window_type fixed with sync_rate 0"}},
		{"local ignores sync_rate", `{"day":5,"sync_rate":0,"window_type":"sliding"}`, nil},
		{"error code", `{"minute":5,"error_code":0}`, entity.FieldErrors{"error_code": "value must be greater than 0"}},
		{"kong's redis record accepted", `{"minute":5,"redis":{"host":null,"port":6379}}`, nil},
		{"unknown", `{"minute":5,"per_minute":1}`, entity.FieldErrors{"per_minute": "unknown field"}},
		{"several at once", `{"hour":"x","limit_by":"x","fault_tolerant":1}`, entity.FieldErrors{"hour": "expected a number", "limit_by": "expected one of: consumer, credential, ip, service, header, path", "fault_tolerant": "expected a boolean"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := reg.Validate(Name, json.RawMessage(tt.config))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestDefaultsShown(t *testing.T) {
	out, fe := plugin.NewRegistry(Factory()).Validate(Name, json.RawMessage(`{"minute":5}`))
	if fe != nil {
		t.Fatal(fe)
	}
	want := `{"second":null,"minute":5,"hour":null,"day":null,"month":null,"year":null,"limit_by":"consumer","header_name":null,"path":null,"policy":"local","window_type":"fixed","fault_tolerant":true,"hide_client_headers":false,"error_code":429,"error_message":"API rate limit exceeded","sync_rate":-1,"redis":null}`
	if string(out) != want {
		t.Errorf("config = %s\nwant %s", out, want)
	}
}

// harness runs one rate-limiting plugin entity through a Set, with a clock.
type harness struct {
	t     *testing.T
	set   *plugin.Set
	store *ratelimit.Local
	now   time.Time
}

func newHarness(t *testing.T, id, config string, now time.Time) *harness {
	h := &harness{t: t, store: ratelimit.NewLocal(ratelimit.LocalOptions{SweepInterval: -1}), now: now}
	t.Cleanup(func() { h.store.Close() })
	h.set = h.build(id, config)
	return h
}

func (h *harness) build(id, config string) *plugin.Set {
	env := plugin.Env{Counters: h.store, Now: func() time.Time { return h.now }}
	set, err := plugin.NewSet(plugin.NewRegistry(Factory()),
		[]*entity.Plugin{{Meta: entity.Meta{ID: id}, Name: Name, Config: json.RawMessage(config)}}, env)
	if err != nil {
		h.t.Fatal(err)
	}
	return set
}

func (h *harness) do(set *plugin.Set, c *plugin.Context) *plugintest.Response {
	if c.Request == nil {
		c.Request = plugintest.NewRequest("GET", "/", nil, nil)
	}
	if !c.ClientIP.IsValid() {
		c.ClientIP = netip.MustParseAddr("192.0.2.1")
	}
	if c.Record == nil {
		c.Record = &logrecord.Record{}
	}
	return plugintest.Serve(set, c, plugintest.NewResponse(200, nil, []byte("ok")))
}

func (h *harness) expect(resp *plugintest.Response, status int, headers map[string]string) {
	h.t.Helper()
	if resp.Status() != status {
		h.t.Fatalf("status = %d (%s), want %d", resp.Status(), resp.Body(), status)
	}
	for name, want := range headers {
		if got := resp.Header(name); got != want {
			h.t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestMinuteLimit(t *testing.T) {
	h := newHarness(t, "p1", `{"minute":3}`, time.Date(2024, 5, 1, 12, 0, 15, 500e6, time.UTC))
	for i, rem := range []string{"2", "1", "0"} {
		c := &plugin.Context{}
		resp := h.do(h.set, c)
		h.expect(resp, 200, map[string]string{
			"X-RateLimit-Limit-Minute": "3", "X-RateLimit-Remaining-Minute": rem,
			"RateLimit-Limit": "3", "RateLimit-Remaining": rem, "RateLimit-Reset": "45", "Retry-After": "",
		})
		if c.Record.RateLimitOutcome != OutcomeAllowed {
			t.Errorf("request %d outcome = %q", i, c.Record.RateLimitOutcome)
		}
	}
	c := &plugin.Context{}
	resp := h.do(h.set, c)
	h.expect(resp, 429, map[string]string{
		"X-RateLimit-Limit-Minute": "3", "X-RateLimit-Remaining-Minute": "0",
		"RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "45", "Retry-After": "45",
		"Content-Type": "application/json; charset=utf-8",
	})
	if string(resp.Body()) != `{"message":"API rate limit exceeded"}` {
		t.Errorf("body = %s", resp.Body())
	}
	if c.Record.RateLimitOutcome != OutcomeLimited {
		t.Errorf("outcome = %q", c.Record.RateLimitOutcome)
	}
	// Turned-away requests are not counted.
	if n, _ := h.store.Get("p1:192.0.2.1", ratelimit.Minute, h.now); n != 3 {
		t.Errorf("counted %d, want 3", n)
	}
	// The next minute starts afresh.
	h.now = time.Date(2024, 5, 1, 12, 1, 0, 0, time.UTC)
	h.expect(h.do(h.set, &plugin.Context{}), 200, map[string]string{"X-RateLimit-Remaining-Minute": "2", "RateLimit-Reset": "60"})
}

func TestSeveralWindows(t *testing.T) {
	h := newHarness(t, "p1", `{"second":1,"hour":100}`, time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC))
	// The second is closest to its limit, so RateLimit-* describe it.
	h.expect(h.do(h.set, &plugin.Context{}), 200, map[string]string{
		"X-RateLimit-Limit-Second": "1", "X-RateLimit-Remaining-Second": "0",
		"X-RateLimit-Limit-Hour": "100", "X-RateLimit-Remaining-Hour": "99",
		"RateLimit-Limit": "1", "RateLimit-Remaining": "0", "RateLimit-Reset": "1",
	})
	// Stopped by the second: only that window counts this request.
	h.expect(h.do(h.set, &plugin.Context{}), 429, map[string]string{
		"X-RateLimit-Remaining-Second": "0", "X-RateLimit-Remaining-Hour": "99",
		"RateLimit-Limit": "1", "Retry-After": "1",
	})
}

func TestTieGoesToLongerWindow(t *testing.T) {
	h := newHarness(t, "p1", `{"minute":5,"hour":5}`, time.Date(2024, 5, 1, 12, 30, 10, 0, time.UTC))
	h.expect(h.do(h.set, &plugin.Context{}), 200, map[string]string{
		"RateLimit-Limit": "5", "RateLimit-Remaining": "4", "RateLimit-Reset": "1790",
	})
}

func TestCalendarMonthReset(t *testing.T) {
	// 2024-02 has 29 days; one day and one second before its end.
	h := newHarness(t, "p1", `{"month":10}`, time.Date(2024, 2, 28, 23, 59, 59, 0, time.UTC))
	h.expect(h.do(h.set, &plugin.Context{}), 200, map[string]string{"RateLimit-Reset": "86401", "X-RateLimit-Limit-Month": "10"})
}

func TestHideClientHeaders(t *testing.T) {
	h := newHarness(t, "p1", `{"minute":1,"hide_client_headers":true,"error_code":503,"error_message":"slow down"}`, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	resp := h.do(h.set, &plugin.Context{})
	h.expect(resp, 200, map[string]string{"X-RateLimit-Limit-Minute": "", "RateLimit-Limit": ""})
	resp = h.do(h.set, &plugin.Context{})
	h.expect(resp, 503, map[string]string{"Retry-After": "", "RateLimit-Remaining": ""})
	if string(resp.Body()) != `{"message":"slow down"}` {
		t.Errorf("body = %s", resp.Body())
	}
}

func TestLimitBy(t *testing.T) {
	alice := &entity.Consumer{Meta: entity.Meta{ID: "alice"}}
	bob := &entity.Consumer{Meta: entity.Meta{ID: "bob"}}
	ctx := func(consumer *entity.Consumer, cred, ip, service, path string, headers map[string]string) *plugin.Context {
		c := &plugin.Context{
			Request:   plugintest.NewRequest("GET", path, headers, nil),
			ClientIP:  netip.MustParseAddr(ip),
			ServiceID: service,
		}
		if consumer != nil {
			c.Authenticate(consumer, cred, cred == "")
		}
		return c
	}
	tests := []struct {
		name     string
		config   string
		first    *plugin.Context
		same     *plugin.Context // counted with first
		separate *plugin.Context // counted apart
	}{
		{
			name: "consumer", config: `{"minute":1}`,
			first: ctx(alice, "k1", "10.0.0.1", "", "/", nil), same: ctx(alice, "k2", "10.0.0.2", "", "/", nil), separate: ctx(bob, "k3", "10.0.0.1", "", "/", nil),
		},
		{
			name: "consumer falls back to ip", config: `{"minute":1}`,
			first: ctx(nil, "", "10.0.0.1", "", "/", nil), same: ctx(nil, "", "10.0.0.1", "", "/", nil), separate: ctx(nil, "", "10.0.0.2", "", "/", nil),
		},
		{
			name: "credential", config: `{"minute":1,"limit_by":"credential"}`,
			first: ctx(alice, "k1", "10.0.0.1", "", "/", nil), same: ctx(bob, "k1", "10.0.0.2", "", "/", nil), separate: ctx(alice, "k2", "10.0.0.1", "", "/", nil),
		},
		{
			name: "ip", config: `{"minute":1,"limit_by":"ip"}`,
			first: ctx(alice, "k1", "2001:db8::1", "", "/", nil), same: ctx(bob, "k2", "2001:db8::1", "", "/", nil), separate: ctx(alice, "k1", "2001:db8::2", "", "/", nil),
		},
		{
			name: "service", config: `{"minute":1,"limit_by":"service"}`,
			first: ctx(nil, "", "10.0.0.1", "s1", "/", nil), same: ctx(nil, "", "10.0.0.2", "s1", "/", nil), separate: ctx(nil, "", "10.0.0.1", "s2", "/", nil),
		},
		{
			name: "header", config: `{"minute":1,"limit_by":"header","header_name":"X-Tenant"}`,
			first:    ctx(nil, "", "10.0.0.1", "", "/", map[string]string{"X-Tenant": "t1"}),
			same:     ctx(nil, "", "10.0.0.2", "", "/", map[string]string{"x-tenant": "t1"}),
			separate: ctx(nil, "", "10.0.0.1", "", "/", map[string]string{"X-Tenant": "t2"}),
		},
		{
			name: "path", config: `{"minute":1,"limit_by":"path","path":"/hot"}`,
			first: ctx(nil, "", "10.0.0.1", "", "/hot", nil), same: ctx(nil, "", "10.0.0.2", "", "/hot", nil), separate: ctx(nil, "", "10.0.0.1", "", "/cold", nil),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "p1", tt.config, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
			h.expect(h.do(h.set, tt.first), 200, nil)
			h.expect(h.do(h.set, tt.same), 429, nil)
			h.expect(h.do(h.set, tt.separate), 200, nil)
		})
	}
}

func TestCountersPerPlugin(t *testing.T) {
	h := newHarness(t, "p1", `{"minute":1}`, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	other := h.build("p2", `{"minute":1}`)
	h.expect(h.do(h.set, &plugin.Context{}), 200, nil)
	h.expect(h.do(other, &plugin.Context{}), 200, nil)
	h.expect(h.do(h.set, &plugin.Context{}), 429, nil)
	// A new Set over the same store (a config change) keeps the counts.
	h.expect(h.do(h.build("p1", `{"minute":1}`), &plugin.Context{}), 429, nil)
}

type failingStore struct{}

func (failingStore) Add(string, ratelimit.Window, time.Time, int64) (int64, error) {
	return 0, errors.New("down")
}
func (failingStore) Get(string, ratelimit.Window, time.Time) (int64, error) {
	return 0, errors.New("down")
}

func TestFaultTolerance(t *testing.T) {
	for _, tt := range []struct {
		name     string
		config   string
		counters ratelimit.Store
		status   int
	}{
		{"tolerant", `{"minute":1}`, failingStore{}, 200},
		{"no store", `{"minute":1}`, nil, 200},
		{"intolerant", `{"minute":1,"fault_tolerant":false}`, failingStore{}, 500},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := Factory()
			cfg, _ := plugin.DecodeConfig(f, []byte(tt.config))
			inst, err := f.New(cfg, plugin.Env{Counters: tt.counters})
			if err != nil {
				t.Fatal(err)
			}
			c := &plugin.Context{Request: plugintest.NewRequest("GET", "/", nil, nil), ClientIP: netip.MustParseAddr("10.0.0.1")}
			inst.(plugin.Accessor).Access(c)
			exit, exited := c.Exited()
			if tt.status == 200 {
				if exited {
					t.Fatalf("exited %d", exit.Status)
				}
				return
			}
			if !exited || exit.Status != tt.status || string(exit.Body) != `{"message":"An unexpected error occurred"}` {
				t.Fatalf("exit = %v %d %s", exited, exit.Status, exit.Body)
			}
		})
	}
}

func FuzzDecodeConfig(f *testing.F) {
	for _, s := range []string{
		`{"minute":5}`, `{}`, `{"second":1,"hour":100,"limit_by":"header","header_name":"X-A"}`,
		`{"minute":"x"}`, `{"redis":{"host":"h"}}`, `[1,2]`, `null`, `{"minute":1e309}`, `{"error_code":429.0}`,
	} {
		f.Add([]byte(s))
	}
	fac := Factory()
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, fe := plugin.DecodeConfig(fac, raw)
		if fe != nil {
			if cfg != nil {
				t.Fatal("config returned with errors")
			}
			return
		}
		if _, err := fac.New(cfg, plugin.Env{}); err != nil {
			return
		}
		// What validates round-trips: the stored form decodes to the same.
		out, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg2, fe := plugin.DecodeConfig(fac, out)
		if fe != nil {
			t.Fatalf("stored form %s rejected: %v", out, fe)
		}
		out2, _ := json.Marshal(cfg2)
		if string(out) != string(out2) {
			t.Fatalf("round trip changed %s to %s", out, out2)
		}
	})
}
