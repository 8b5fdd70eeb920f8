package plugin_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/plugin/plugintest"
	"github.com/tollgate/tollgate/internal/entity"
)

// recorder builds test plugins that log "<name>:<tag>:<phase>" as they run.
type recorder struct{ log []string }

type recConfig struct {
	Tag  string `json:"tag"`
	Exit int    `json:"exit"` // exit with this status in Access
	// Auth authenticates as this consumer id in Access.
	Auth string `json:"auth"`
	// Body makes the instance need bodies.
	ReqBody  bool `json:"req_body"`
	RespBody bool `json:"resp_body"`
}

type recInstance struct {
	r    *recorder
	name string
	cfg  recConfig
}

func (i *recInstance) note(phase string) { i.r.log = append(i.r.log, i.name+":"+i.cfg.Tag+":"+phase) }

func (i *recInstance) Access(c *plugin.Context) {
	i.note("access")
	if i.cfg.Auth != "" {
		c.Authenticate(&entity.Consumer{Meta: entity.Meta{ID: i.cfg.Auth}}, "cred-"+i.cfg.Auth, false)
	}
	if i.cfg.Exit != 0 {
		c.Exit(i.cfg.Exit, nil, map[string]string{"X-Exit": i.name})
	}
}
func (i *recInstance) HeaderFilter(*plugin.Context) { i.note("header") }
func (i *recInstance) BodyFilter(*plugin.Context)   { i.note("body") }
func (i *recInstance) Log(*plugin.Context)          { i.note("log") }
func (i *recInstance) UsesRequestBody() bool        { return i.cfg.ReqBody }
func (i *recInstance) UsesResponseBody() bool       { return i.cfg.RespBody }

type rewriter struct{ *recInstance }

func (w rewriter) Rewrite(c *plugin.Context) {
	w.note("rewrite")
	if w.cfg.Exit != 0 {
		c.Exit(w.cfg.Exit, nil, nil)
	}
}

func (r *recorder) factory(name string, priority int, rewrite bool) *plugin.Factory {
	return &plugin.Factory{
		Name:      name,
		Priority:  priority,
		NewConfig: func() any { return &recConfig{} },
		New: func(cfg any, env plugin.Env) (any, error) {
			in := &recInstance{r: r, name: name, cfg: *cfg.(*recConfig)}
			if rewrite {
				return rewriter{in}, nil
			}
			return in, nil
		},
	}
}

type scope struct{ route, service, consumer string }

func pluginEntity(id, name string, s scope, config string) *entity.Plugin {
	p := &entity.Plugin{Meta: entity.Meta{ID: id}, Name: name, Config: json.RawMessage(config)}
	if s.route != "" {
		p.Route = &entity.Ref{ID: s.route}
	}
	if s.service != "" {
		p.Service = &entity.Ref{ID: s.service}
	}
	if s.consumer != "" {
		p.Consumer = &entity.Ref{ID: s.consumer}
	}
	return p
}

func request(route, service string) *plugin.Context {
	return &plugin.Context{
		Request:   plugintest.NewRequest("GET", "/", nil, nil),
		Workspace: "default",
		RouteID:   route,
		ServiceID: service,
	}
}

func TestPriorityOrder(t *testing.T) {
	r := &recorder{}
	reg := plugin.NewRegistry(r.factory("low", 10, false), r.factory("high", 3000, false), r.factory("mid", 1000, false), r.factory("mid2", 1000, false))
	set, err := plugin.NewSet(reg, []*entity.Plugin{
		pluginEntity("1", "low", scope{}, `{"tag":"g"}`),
		pluginEntity("2", "mid2", scope{}, `{"tag":"g"}`),
		pluginEntity("3", "high", scope{route: "r1"}, `{"tag":"r"}`),
		pluginEntity("4", "mid", scope{service: "s1"}, `{"tag":"s"}`),
	}, plugin.Env{})
	if err != nil {
		t.Fatal(err)
	}
	plugintest.Serve(set, request("r1", "s1"), plugintest.NewResponse(200, nil, nil))
	want := []string{
		"high:r:access", "mid:s:access", "mid2:g:access", "low:g:access",
		"high:r:header", "mid:s:header", "mid2:g:header", "low:g:header",
		"high:r:body", "mid:s:body", "mid2:g:body", "low:g:body",
		"high:r:log", "mid:s:log", "mid2:g:log", "low:g:log",
	}
	if !slices.Equal(r.log, want) {
		t.Errorf("order:\n%s\nwant\n%s", strings.Join(r.log, "\n"), strings.Join(want, "\n"))
	}
}

func TestPrecedence(t *testing.T) {
	const rt, sv, co = "r1", "s1", "alice"
	all := map[string]scope{
		"rsc": {rt, sv, co}, "rc": {rt, "", co}, "sc": {"", sv, co}, "rs": {rt, sv, ""},
		"c": {"", "", co}, "r": {rt, "", ""}, "s": {"", sv, ""}, "g": {},
		"other-consumer": {"", "", "bob"}, "other-route": {"r2", "", ""}, "other-service": {"", "s2", ""},
	}
	tests := []struct {
		name    string
		configs []string
		authed  bool   // alice authenticates before the plugin runs
		want    string // tag that runs; "" none
	}{
		{"global only", []string{"g"}, true, "g"},
		{"service over global", []string{"g", "s"}, true, "s"},
		{"route over service", []string{"g", "s", "r"}, true, "r"},
		{"consumer over route", []string{"g", "s", "r", "c"}, true, "c"},
		{"route+service over consumer", []string{"g", "s", "r", "c", "rs"}, true, "rs"},
		{"service+consumer over route+service", []string{"rs", "c", "sc"}, true, "sc"},
		{"route+consumer over service+consumer", []string{"sc", "rc", "rs"}, true, "rc"},
		{"route+service+consumer wins", []string{"rc", "sc", "rsc", "rs", "g"}, true, "rsc"},
		{"consumer configs wait for authentication", []string{"g", "c", "rsc"}, false, "g"},
		{"consumer-only config without authentication", []string{"c"}, false, ""},
		{"other consumer's config", []string{"other-consumer", "s"}, true, "s"},
		{"other route and service", []string{"other-route", "other-service", "g"}, true, "g"},
		{"nothing applies", []string{"other-route"}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			reg := plugin.NewRegistry(r.factory("auth", 2000, false), r.factory("target", 1000, false))
			var ents []*entity.Plugin
			if tt.authed {
				ents = append(ents, pluginEntity("auth", "auth", scope{}, `{"tag":"a","auth":"alice"}`))
			}
			for i, name := range tt.configs {
				ents = append(ents, pluginEntity(string(rune('a'+i)), "target", all[name], `{"tag":"`+name+`"}`))
			}
			set, err := plugin.NewSet(reg, ents, plugin.Env{})
			if err != nil {
				t.Fatal(err)
			}
			set.Access(request(rt, sv))
			var ran []string
			for _, l := range r.log {
				if tag, ok := strings.CutPrefix(l, "target:"); ok {
					ran = append(ran, strings.TrimSuffix(tag, ":access"))
				}
			}
			want := []string{tt.want}
			if tt.want == "" {
				want = nil
			}
			if !slices.Equal(ran, want) {
				t.Errorf("ran %v, want %v", ran, want)
			}
		})
	}
}

func TestConsumerConfigNeedsEarlierAuth(t *testing.T) {
	// A plugin running before the authentication plugin only sees the
	// configs that do not name a consumer, as in Kong.
	r := &recorder{}
	reg := plugin.NewRegistry(r.factory("auth", 1000, false), r.factory("early", 2000, false), r.factory("late", 10, false))
	set, err := plugin.NewSet(reg, []*entity.Plugin{
		pluginEntity("a", "auth", scope{}, `{"tag":"a","auth":"alice"}`),
		pluginEntity("e1", "early", scope{}, `{"tag":"global"}`),
		pluginEntity("e2", "early", scope{consumer: "alice"}, `{"tag":"alice"}`),
		pluginEntity("l1", "late", scope{}, `{"tag":"global"}`),
		pluginEntity("l2", "late", scope{consumer: "alice"}, `{"tag":"alice"}`),
	}, plugin.Env{})
	if err != nil {
		t.Fatal(err)
	}
	set.Access(request("", ""))
	want := []string{"early:global:access", "auth:a:access", "late:alice:access"}
	if !slices.Equal(r.log, want) {
		t.Errorf("log = %v, want %v", r.log, want)
	}
}

func TestExitStopsAccessButNotResponsePhases(t *testing.T) {
	r := &recorder{}
	reg := plugin.NewRegistry(r.factory("first", 3000, false), r.factory("gate", 2000, false), r.factory("after", 1000, false))
	set, err := plugin.NewSet(reg, []*entity.Plugin{
		pluginEntity("1", "first", scope{}, `{"tag":"g"}`),
		pluginEntity("2", "gate", scope{}, `{"tag":"g","exit":401}`),
		pluginEntity("3", "after", scope{}, `{"tag":"g"}`),
	}, plugin.Env{})
	if err != nil {
		t.Fatal(err)
	}
	c := request("", "")
	resp := plugintest.Serve(set, c, nil)
	if resp.Status() != 401 || resp.Header("X-Exit") != "gate" {
		t.Fatalf("response %d %q", resp.Status(), resp.Header("X-Exit"))
	}
	want := []string{
		"first:g:access", "gate:g:access",
		"first:g:header", "gate:g:header", "after:g:header",
		"first:g:body", "gate:g:body", "after:g:body",
		"first:g:log", "gate:g:log", "after:g:log",
	}
	if !slices.Equal(r.log, want) {
		t.Errorf("log:\n%s\nwant\n%s", strings.Join(r.log, "\n"), strings.Join(want, "\n"))
	}
}

func TestRewrite(t *testing.T) {
	r := &recorder{}
	reg := plugin.NewRegistry(r.factory("rw", 500, true), r.factory("acc", 100, false))
	set, err := plugin.NewSet(reg, []*entity.Plugin{
		pluginEntity("1", "rw", scope{}, `{"tag":"g"}`),
		pluginEntity("2", "rw", scope{route: "r1"}, `{"tag":"r"}`),
		pluginEntity("3", "acc", scope{}, `{"tag":"g"}`),
	}, plugin.Env{})
	if err != nil {
		t.Fatal(err)
	}
	set.Access(request("r1", ""))
	// Rewrite runs for the global config only; access then picks the
	// route's.
	want := []string{"rw:g:rewrite", "rw:r:access", "acc:g:access"}
	if !slices.Equal(r.log, want) {
		t.Errorf("log = %v, want %v", r.log, want)
	}

	// An exit in rewrite skips access; the global plugins' response
	// phases run.
	r.log = nil
	set, _ = plugin.NewSet(reg, []*entity.Plugin{
		pluginEntity("1", "rw", scope{}, `{"tag":"g","exit":403}`),
		pluginEntity("3", "acc", scope{}, `{"tag":"g"}`),
		pluginEntity("4", "acc", scope{route: "r1"}, `{"tag":"r"}`),
	}, plugin.Env{})
	resp := plugintest.Serve(set, request("r1", ""), nil)
	want = []string{"rw:g:rewrite", "rw:g:header", "acc:g:header", "rw:g:body", "acc:g:body", "rw:g:log", "acc:g:log"}
	if resp.Status() != 403 || !slices.Equal(r.log, want) {
		t.Errorf("status %d, log = %v, want %v", resp.Status(), r.log, want)
	}
}

func TestProtocolsWorkspacesAndEnabled(t *testing.T) {
	r := &recorder{}
	reg := plugin.NewRegistry(r.factory("p", 100, false))
	off := false
	httpsOnly := pluginEntity("1", "p", scope{route: "r1"}, `{"tag":"https-only"}`)
	httpsOnly.Protocols = []string{"https"}
	disabled := pluginEntity("2", "p", scope{service: "s1"}, `{"tag":"disabled"}`)
	disabled.Enabled = &off
	otherWS := pluginEntity("3", "p", scope{}, `{"tag":"other-ws"}`)
	otherWS.Workspace = "team-b"
	global := pluginEntity("4", "p", scope{}, `{"tag":"g"}`)
	global.Protocols = []string{"http", "https"}
	set, err := plugin.NewSet(reg, []*entity.Plugin{httpsOnly, disabled, otherWS, global}, plugin.Env{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, url, ws, route, service, want string
	}{
		{"https request gets the route config", "https://h/", "default", "r1", "", "https-only"},
		{"http request skips it (no fallback)", "http://h/", "default", "r1", "", ""},
		{"disabled service config falls back to global", "http://h/", "", "", "s1", "g"},
		{"other workspace", "http://h/", "team-b", "r1", "s1", "other-ws"},
		{"unknown workspace", "http://h/", "nowhere", "", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r.log = nil
			c := request(tt.route, tt.service)
			c.Workspace = tt.ws
			c.Request = plugintest.NewRequest("GET", tt.url, nil, nil)
			set.Access(c)
			var want []string
			if tt.want != "" {
				want = []string{"p:" + tt.want + ":access"}
			}
			if !slices.Equal(r.log, want) {
				t.Errorf("log = %v, want %v", r.log, want)
			}
		})
	}
}

func TestNewSetErrors(t *testing.T) {
	r := &recorder{}
	noConsumer := r.factory("auth", 100, false)
	noConsumer.NoConsumer = true
	reg := plugin.NewRegistry(r.factory("p", 100, false), noConsumer)
	set, err := plugin.NewSet(reg, []*entity.Plugin{
		pluginEntity("bad-config", "p", scope{}, `{"tag":1}`),
		pluginEntity("unknown", "nope", scope{}, `{}`),
		pluginEntity("scoped-auth", "auth", scope{consumer: "alice"}, `{}`),
		pluginEntity("good", "p", scope{}, `{"tag":"ok"}`),
	}, plugin.Env{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"plugin bad-config (p): schema violation (config.tag: expected a string)",
		`plugin unknown (nope): plugin "nope" is not enabled on this node`,
		"plugin scoped-auth (auth): schema violation (consumer: value must be null)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	set.Access(request("", ""))
	if !slices.Equal(r.log, []string{"p:ok:access"}) {
		t.Errorf("the good plugin did not run alone: %v", r.log)
	}
}

func TestNeedsBody(t *testing.T) {
	r := &recorder{}
	reg := plugin.NewRegistry(r.factory("p", 100, false), r.factory("q", 50, false))
	set, err := plugin.NewSet(reg, []*entity.Plugin{
		pluginEntity("1", "p", scope{route: "r1"}, `{"req_body":true}`),
		pluginEntity("2", "q", scope{service: "s2", consumer: "alice"}, `{"resp_body":true}`),
		pluginEntity("3", "p", scope{}, `{}`),
	}, plugin.Env{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		route, service string
		req, resp      bool
	}{
		{"r1", "s1", true, false},
		{"r9", "s2", false, true}, // a consumer's config counts
		{"r1", "s2", true, true},  // built on first use
		{"", "", false, false},
	} {
		if got := set.NeedsRequestBody("", tt.route, tt.service); got != tt.req {
			t.Errorf("NeedsRequestBody(%s,%s) = %v", tt.route, tt.service, got)
		}
		// Before the request's access phase, and from its plan after.
		c := request(tt.route, tt.service)
		before := set.NeedsResponseBody(c)
		set.Access(c)
		if after := set.NeedsResponseBody(c); before != tt.resp || after != tt.resp {
			t.Errorf("NeedsResponseBody(%s,%s) = %v before Access, %v after", tt.route, tt.service, before, after)
		}
	}
}

// headerSetter sets a response header from Access.
type headerSetter struct{ name, value string }

func (h headerSetter) Access(c *plugin.Context) { c.SetResponseHeader(h.name, h.value) }

func TestSetResponseHeader(t *testing.T) {
	mk := func(name string, prio int, exit bool) *plugin.Factory {
		return &plugin.Factory{Name: name, Priority: prio, NewConfig: func() any { return &struct{}{} },
			New: func(any, plugin.Env) (any, error) {
				if exit {
					return exiter{}, nil
				}
				return headerSetter{"X-Limit", name}, nil
			}}
	}
	reg := plugin.NewRegistry(mk("a", 30, false), mk("b", 20, false), mk("gate", 10, true))
	set, _ := plugin.NewSet(reg, []*entity.Plugin{pluginEntity("1", "a", scope{}, ``), pluginEntity("2", "b", scope{}, ``)}, plugin.Env{})
	resp := plugintest.Serve(set, request("", ""), plugintest.NewResponse(200, map[string]string{"x-limit": "upstream"}, nil))
	if got := resp.HeaderValues("X-Limit"); !slices.Equal(got, []string{"b"}) {
		t.Errorf("X-Limit = %v, want [b]", got)
	}
	set, _ = plugin.NewSet(reg, []*entity.Plugin{pluginEntity("1", "a", scope{}, ``), pluginEntity("3", "gate", scope{}, ``)}, plugin.Env{})
	resp = plugintest.Serve(set, request("", ""), nil)
	if got := resp.HeaderValues("X-Limit"); !slices.Equal(got, []string{"from-exit"}) {
		t.Errorf("X-Limit = %v, want the exit's", got)
	}
}

type exiter struct{}

func (exiter) Access(c *plugin.Context) {
	c.Exit(418, nil, map[string]string{"x-limit": "from-exit"})
}

func TestConcurrentRequests(t *testing.T) {
	var ents []*entity.Plugin
	for i := 0; i < 10; i++ {
		id := string(rune('a' + i))
		ents = append(ents,
			pluginEntity("r"+id, "h", scope{route: "route-" + id}, `{}`),
			pluginEntity("s"+id, "h", scope{service: "service-" + id}, `{}`))
	}
	reg := plugin.NewRegistry(&plugin.Factory{Name: "h", Priority: 1, NewConfig: func() any { return &struct{}{} },
		New: func(any, plugin.Env) (any, error) { return headerSetter{"X-Seen", "yes"}, nil }})
	set, err := plugin.NewSet(reg, ents, plugin.Env{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func(w int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				// Route/service pairs no plugin names together: their plans
				// are built on first use, concurrently.
				r := "route-" + string(rune('a'+(i+w)%10))
				s := "service-" + string(rune('a'+i%10))
				resp := plugintest.Serve(set, request(r, s), plugintest.NewResponse(200, nil, nil))
				if resp.Header("X-Seen") != "yes" {
					t.Error("plugin did not run")
					return
				}
			}
		}(w)
	}
	for w := 0; w < 4; w++ {
		<-done
	}
}
