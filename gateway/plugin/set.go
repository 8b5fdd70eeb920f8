package plugin

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/tollgate/tollgate/internal/entity"
)

// Set is the plugin pipeline of one configuration version: an instance of
// every enabled plugin entity, and for each route and service the ordered
// plan of plugins that may apply to it. A Set is immutable once built (its
// plan cache aside) and safe for concurrent use; a new configuration builds
// a new Set.
type Set struct {
	workspaces map[string]*wsIndex
	// routes and services referenced by some plugin: a request on any other
	// route or service shares the plan of "no route" or "no service".
	routes   map[string]struct{}
	services map[string]struct{}

	mu    sync.RWMutex
	plans map[planKey]*plan
	empty *plan
}

// instance is one built plugin entity with its phases resolved once.
type instance struct {
	id        string
	name      string
	priority  int
	route     string
	service   string
	consumer  string
	protocols uint16 // bit set of protoBit values; 0 allows every protocol

	impl         any
	rewriter     Rewriter
	accessor     Accessor
	headerFilter HeaderFilter
	bodyFilter   BodyFilter
	logger       Logger
	usesReqBody  bool
	usesRespBody bool
}

func (in *instance) allows(proto uint16) bool {
	return in.protocols == 0 || proto == 0 || in.protocols&proto != 0
}

// wsIndex holds the instances of one workspace by plugin name, and the names
// in the order they run.
type wsIndex struct {
	byName map[string][]*instance
	names  []string
}

type planKey struct{ ws, route, service string }

// plan is what runs for requests of one (workspace, route, service): one
// entry per plugin name, highest priority first.
type plan struct {
	entries []entry
	// rewriters are the global instances with a Rewrite phase, in order.
	rewriters []*instance
	// globals are all global instances, in order: the response phases run
	// them when the rewrite phase exited (Kong runs its global plugins when
	// no plugins were collected).
	globals       []*instance
	needsReqBody  bool
	needsRespBody bool
}

// entry resolves the config of one plugin name for a route and service:
// fallback is the best of the configs without a consumer (route+service >
// route > service > global); byConsumer holds, per consumer id, the config
// that wins for that consumer where it outranks the fallback.
type entry struct {
	fallback   *instance
	byConsumer map[string]*instance
}

// NewSet builds the instances of every enabled plugin entity (each with
// Meta.Workspace set; "" means the default workspace). A plugin that fails to
// build is left out and reported in the error (errors.Join, naming the plugin
// id); the Set returned is usable in any case.
func NewSet(reg *Registry, plugins []*entity.Plugin, env Env) (*Set, error) {
	s := &Set{
		workspaces: map[string]*wsIndex{},
		routes:     map[string]struct{}{},
		services:   map[string]struct{}{},
		plans:      map[planKey]*plan{},
		empty:      &plan{},
	}
	var errs []error
	var keys []planKey
	for _, p := range plugins {
		if p == nil || !p.IsEnabled() {
			continue
		}
		in, err := build(reg, p, env)
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin %s (%s): %w", p.ID, p.Name, err))
			continue
		}
		ws := workspaceOf(p.Workspace)
		idx := s.workspaces[ws]
		if idx == nil {
			idx = &wsIndex{byName: map[string][]*instance{}}
			s.workspaces[ws] = idx
			keys = append(keys, planKey{ws: ws})
		}
		if _, ok := idx.byName[in.name]; !ok {
			idx.names = append(idx.names, in.name)
		}
		idx.byName[in.name] = append(idx.byName[in.name], in)
		if in.route != "" {
			s.routes[in.route] = struct{}{}
		}
		if in.service != "" {
			s.services[in.service] = struct{}{}
		}
		if in.route != "" || in.service != "" {
			keys = append(keys,
				planKey{ws, in.route, in.service},
				planKey{ws, in.route, ""},
				planKey{ws, "", in.service})
		}
	}
	for _, idx := range s.workspaces {
		slices.SortFunc(idx.names, func(a, b string) int {
			pa, pb := idx.byName[a][0].priority, idx.byName[b][0].priority
			if pa != pb {
				return cmp.Compare(pb, pa)
			}
			return cmp.Compare(a, b)
		})
	}
	// Precompute the plans of every scope a plugin names, so that requests
	// only look plans up; other route/service pairs are built on first use.
	for _, k := range keys {
		if _, ok := s.plans[k]; !ok {
			s.plans[k] = s.build(k)
		}
	}
	return s, errors.Join(errs...)
}

func build(reg *Registry, p *entity.Plugin, env Env) (*instance, error) {
	f, ok := reg.Lookup(p.Name)
	if !ok {
		return nil, fmt.Errorf("plugin %q is not enabled on this node", p.Name)
	}
	if f.NoConsumer && p.Consumer != nil {
		return nil, entity.FieldErrors{"consumer": "value must be null"}.Err()
	}
	cfg, ferr := DecodeConfig(f, p.Config)
	if ferr != nil {
		return nil, entity.FieldErrors{"config": ferr}.Err()
	}
	env.Plugin = p
	impl, err := f.New(cfg, env)
	if err != nil {
		return nil, entity.FieldErrors{"config": AsFieldErrors(err)}.Err()
	}
	in := &instance{
		id:       p.ID,
		name:     f.Name,
		priority: f.Priority,
		route:    entity.RefID(p.Route),
		service:  entity.RefID(p.Service),
		consumer: entity.RefID(p.Consumer),
		impl:     impl,
	}
	for _, proto := range p.Protocols {
		in.protocols |= protoBit(proto)
	}
	in.rewriter, _ = impl.(Rewriter)
	in.accessor, _ = impl.(Accessor)
	in.headerFilter, _ = impl.(HeaderFilter)
	in.bodyFilter, _ = impl.(BodyFilter)
	in.logger, _ = impl.(Logger)
	if u, ok := impl.(RequestBodyUser); ok {
		in.usesReqBody = u.UsesRequestBody()
	}
	if in.bodyFilter != nil {
		in.usesRespBody = true
		if u, ok := impl.(ResponseBodyUser); ok {
			in.usesRespBody = u.UsesResponseBody()
		}
	}
	return in, nil
}

func workspaceOf(ws string) string {
	if ws == "" {
		return entity.DefaultWorkspace
	}
	return ws
}

// protoBit maps a protocol name (of a plugin entity, or a request's scheme)
// to its bit; unknown names get a bit no request has.
func protoBit(p string) uint16 {
	switch p {
	case "http":
		return 1 << 0
	case "https":
		return 1 << 1
	case "grpc":
		return 1 << 2
	case "grpcs":
		return 1 << 3
	case "ws":
		return 1 << 4
	case "wss":
		return 1 << 5
	case "":
		return 0
	}
	return 1 << 15
}

// scopeRank orders the scopes of Kong's plugin precedence, lowest first:
// route+service+consumer, route+consumer, service+consumer, route+service,
// consumer, route, service, global. -1: in does not apply to the route and
// service.
func scopeRank(in *instance, route, service string) int {
	if (in.route != "" && in.route != route) || (in.service != "" && in.service != service) {
		return -1
	}
	r, s, c := in.route != "", in.service != "", in.consumer != ""
	switch {
	case r && s && c:
		return 0
	case r && c:
		return 1
	case s && c:
		return 2
	case r && s:
		return 3
	case c:
		return 4
	case r:
		return 5
	case s:
		return 6
	}
	return 7
}

// better reports whether in (of rank r) beats the current best (of rank br);
// equal ranks (duplicates Kong would refuse) resolve by id for determinism.
func better(in *instance, r int, best *instance, br int) bool {
	return best == nil || r < br || (r == br && in.id < best.id)
}

// build computes the plan of one (workspace, route, service).
func (s *Set) build(k planKey) *plan {
	idx := s.workspaces[k.ws]
	if idx == nil {
		return s.empty
	}
	p := &plan{}
	for _, name := range idx.names {
		var e entry
		fbRank := 0
		consRank := map[string]int{}
		for _, in := range idx.byName[name] {
			r := scopeRank(in, k.route, k.service)
			switch {
			case r < 0:
				continue
			case in.consumer != "":
				if e.byConsumer == nil {
					e.byConsumer = map[string]*instance{}
				}
				cur := e.byConsumer[in.consumer]
				if better(in, r, cur, consRank[in.consumer]) {
					e.byConsumer[in.consumer] = in
					consRank[in.consumer] = r
				}
			default:
				if better(in, r, e.fallback, fbRank) {
					e.fallback, fbRank = in, r
				}
			}
			if r == 7 {
				p.globals = append(p.globals, in)
				if in.rewriter != nil {
					p.rewriters = append(p.rewriters, in)
				}
			}
			p.needsReqBody = p.needsReqBody || in.usesReqBody
			p.needsRespBody = p.needsRespBody || in.usesRespBody
		}
		// A consumer's config applies only where it outranks the fallback
		// (route+service beats consumer alone).
		for c := range e.byConsumer {
			if e.fallback != nil && fbRank < consRank[c] {
				delete(e.byConsumer, c)
			}
		}
		if len(e.byConsumer) == 0 {
			e.byConsumer = nil
		}
		if e.fallback != nil || e.byConsumer != nil {
			p.entries = append(p.entries, e)
		}
	}
	return p
}

// planFor returns the plan of a request's workspace, route and service.
func (s *Set) planFor(ws, route, service string) *plan {
	ws = workspaceOf(ws)
	if _, ok := s.workspaces[ws]; !ok {
		return s.empty
	}
	if _, ok := s.routes[route]; !ok {
		route = ""
	}
	if _, ok := s.services[service]; !ok {
		service = ""
	}
	k := planKey{ws, route, service}
	s.mu.RLock()
	p := s.plans[k]
	s.mu.RUnlock()
	if p != nil {
		return p
	}
	p = s.build(k)
	s.mu.Lock()
	if q := s.plans[k]; q != nil {
		p = q
	} else {
		s.plans[k] = p
	}
	s.mu.Unlock()
	return p
}

func requestProto(c *Context) uint16 {
	if c.Request == nil {
		return 0
	}
	return protoBit(c.Request.Scheme())
}

// Access runs Rewrite for global plugins, then Access of every applicable
// plugin in priority order (highest first), stopping at c.Exit. The config
// of each plugin name is chosen at the moment it runs, with Kong's
// precedence: route+service+consumer > route+consumer > service+consumer >
// route+service > consumer > route > service > global, so consumer-scoped
// configs apply once an authentication plugin has called c.Authenticate.
// Instances whose plugin entity lists protocols run only for requests of
// those protocols.
//
// After an Exit, the remaining plugins are still chosen (their Access does
// not run), so that their response phases see the gateway's response, as
// Kong collects its plugins past a short-circuited response.
func (s *Set) Access(c *Context) {
	p := s.planFor(c.Workspace, c.RouteID, c.ServiceID)
	c.plan = p
	c.chosen = c.chosenBuf[:0]
	proto := requestProto(c)
	for _, in := range p.rewriters {
		if !in.allows(proto) {
			continue
		}
		in.rewriter.Rewrite(c)
		if c.exited {
			for _, g := range p.globals {
				if g.allows(proto) {
					c.chosen = append(c.chosen, g)
				}
			}
			return
		}
	}
	for i := range p.entries {
		e := &p.entries[i]
		in := e.fallback
		if e.byConsumer != nil && c.Consumer != nil {
			if ci := e.byConsumer[c.Consumer.ID]; ci != nil {
				in = ci
			}
		}
		if in == nil || !in.allows(proto) {
			continue
		}
		c.chosen = append(c.chosen, in)
		if in.accessor != nil && !c.exited {
			in.accessor.Access(c)
		}
	}
}

// HeaderFilter applies the response headers set during Access, then runs the
// HeaderFilter of the instances chosen during Access (also after an Exit).
// c.Response must be set.
func (s *Set) HeaderFilter(c *Context) {
	if c.Response != nil {
		for _, h := range c.respHeaders {
			if c.exited && exitNames(c.exit.Headers, h.name) {
				continue
			}
			c.Response.SetHeader(h.name, h.value)
		}
	}
	for _, in := range c.chosen {
		if in.headerFilter != nil {
			in.headerFilter.HeaderFilter(c)
		}
	}
}

func exitNames(headers map[string]string, name string) bool {
	for k := range headers {
		if equalFoldASCII(k, name) {
			return true
		}
	}
	return false
}

// BodyFilter runs the BodyFilter of the instances chosen during Access, with
// the whole response body in c.Response.
func (s *Set) BodyFilter(c *Context) {
	for _, in := range c.chosen {
		if in.bodyFilter != nil {
			in.bodyFilter.BodyFilter(c)
		}
	}
}

// Log runs the Log phase of the instances chosen during Access.
func (s *Set) Log(c *Context) {
	for _, in := range c.chosen {
		if in.logger != nil {
			in.logger.Log(c)
		}
	}
}

// NeedsResponseBody reports whether any plugin that may apply to c's
// route and service (for any consumer) rewrites the response body, so that
// the proxy buffers responses there and streams them everywhere else. It
// reads the plan Access ran for c when it ran: a request looks its plan up
// once.
func (s *Set) NeedsResponseBody(c *Context) bool {
	if c.plan != nil {
		return c.plan.needsRespBody
	}
	return s.planFor(c.Workspace, c.RouteID, c.ServiceID).needsRespBody
}

// NeedsRequestBody reports whether any plugin that may apply to the route and
// service (for any consumer) reads the request body, so that the proxy knows
// when it must not stream the body upstream before the access phase is over.
func (s *Set) NeedsRequestBody(workspace, routeID, serviceID string) bool {
	return s.planFor(workspace, routeID, serviceID).needsReqBody
}
