package api

import (
	"context"

	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/internal/entity"
)

// endpoint is one path of the API.
type endpoint struct {
	path string
	// auth says the endpoint needs a token.
	auth   bool
	params []param
	// run answers a parsed, scoped request. It validates first (see
	// request.valid), so that every problem is reported in one 400.
	run func(s *Server, ctx context.Context, rq *request) (any, error)
}

// param returns the endpoint's parameter called name, or nil.
func (e *endpoint) param(name string) *param {
	for i := range e.params {
		if e.params[i].name == name {
			return &e.params[i]
		}
	}
	return nil
}

// table is every endpoint with its parameters: the one list the router,
// the parser and the OpenAPI test read.
func (s *Server) table() []endpoint {
	with := func(extra ...param) []param { return append(filterParams(), extra...) }
	return []endpoint{
		{path: "/v1/series", auth: true, params: with(paramBucket(), paramGatewayLatency()), run: (*Server).series},
		{path: "/v1/breakdown", auth: true, params: with(paramGroupBy(), paramGatewayLatency()), run: (*Server).breakdown},
		{path: "/v1/top", auth: true, params: with(paramGroupBy(), paramOrderBy(),
			paramLimit(query.DefaultTopLimit, query.MaxTopLimit)), run: (*Server).top},
		{path: "/v1/recent", auth: true, params: with(paramLimit(query.DefaultRecentLimit, query.MaxRecentLimit)), run: (*Server).recent},
		// Usage is metered per workspace, service and consumer only.
		{path: "/v1/usage", auth: true, params: []param{paramFrom(), paramTo(), paramRange(), paramWorkspace(),
			paramService(), paramConsumer(), paramPer()}, run: (*Server).usage},
		{path: "/v1/whoami", auth: true, run: (*Server).whoami},
		{path: "/v1/entities", auth: true, params: []param{paramKind(), paramWorkspace()}, run: (*Server).entities},
		{path: "/openapi.json", run: (*Server).openapi},
		{path: "/healthz", run: (*Server).healthz},
	}
}

func (s *Server) series(ctx context.Context, rq *request) (any, error) {
	q := query.SeriesQuery{Filter: rq.filter, From: rq.from, To: rq.to, Bucket: rq.bucket, GatewayLatency: rq.gateway}
	_, err := q.Normalize()
	if err := rq.valid(err); err != nil {
		return nil, err
	}
	res, err := s.store.Series(ctx, q)
	if err != nil {
		return nil, rq.valid(err)
	}
	out := seriesJSON{From: res.From.UTC(), To: res.To.UTC(), Bucket: query.FormatBucket(res.Bucket), Points: make([]pointJSON, len(res.Points))}
	ms := make([]query.Metrics, len(res.Points))
	for i, p := range res.Points {
		out.Points[i] = pointJSON{Start: p.Start.UTC(), metricsJSON: metrics(p.Metrics, rq.gateway)}
		ms[i] = p.Metrics
	}
	t := query.Totals(ms...)
	out.Totals = totalsJSON{Requests: t.Requests, Errors4xx: t.Errors4xx, Errors5xx: t.Errors5xx,
		ErrorRate: t.ErrorRate, BytesIn: t.BytesIn, BytesOut: t.BytesOut}
	return out, nil
}

func (s *Server) breakdown(ctx context.Context, rq *request) (any, error) {
	rq.requireGroupBy()
	q := query.BreakdownQuery{Filter: rq.filter, From: rq.from, To: rq.to, By: rq.groupBy, GatewayLatency: rq.gateway}
	n, err := q.Normalize()
	if err := rq.valid(err); err != nil {
		return nil, err
	}
	res, err := s.store.Breakdown(ctx, q)
	if err != nil {
		return nil, rq.valid(err)
	}
	return breakdownJSON{From: n.From, To: n.To, GroupBy: string(q.By), Rows: s.rows(rq, res.Rows, rq.gateway),
		Truncated: res.Truncated}, nil
}

func (s *Server) top(ctx context.Context, rq *request) (any, error) {
	rq.requireGroupBy()
	q := query.TopQuery{Filter: rq.filter, From: rq.from, To: rq.to, By: rq.groupBy, OrderBy: rq.orderBy, Limit: rq.limit}
	n, err := q.Normalize()
	if err := rq.valid(err); err != nil {
		return nil, err
	}
	res, err := s.store.Top(ctx, q)
	if err != nil {
		return nil, rq.valid(err)
	}
	return topJSON{From: n.From, To: n.To, GroupBy: string(n.By), OrderBy: string(n.OrderBy), Rows: s.rows(rq, res, false)}, nil
}

func (s *Server) recent(ctx context.Context, rq *request) (any, error) {
	q := query.RecentQuery{Filter: rq.filter, From: rq.from, To: rq.to, Limit: rq.limit}
	n, err := q.Normalize()
	if err := rq.valid(err); err != nil {
		return nil, err
	}
	recs, err := s.store.Recent(ctx, q)
	if err != nil {
		return nil, rq.valid(err)
	}
	out := recentJSON{From: n.From, To: n.To, Records: make([]recordJSON, len(recs))}
	for i := range recs {
		r := &recs[i]
		j := record(r)
		j.ServiceName, _ = s.name(entity.KindService, r.Workspace, r.ServiceID)
		j.RouteName, _ = s.name(entity.KindRoute, r.Workspace, r.RouteID)
		j.ConsumerName, _ = s.name(entity.KindConsumer, r.Workspace, r.ConsumerID)
		out.Records[i] = j
	}
	return out, nil
}

func (s *Server) usage(ctx context.Context, rq *request) (any, error) {
	q := query.UsageQuery{Filter: rq.filter, From: rq.from, To: rq.to, Per: rq.per}
	n, err := q.Normalize()
	if err := rq.valid(err); err != nil {
		return nil, err
	}
	rows, err := s.store.Usage(ctx, q)
	if err != nil {
		return nil, rq.valid(err)
	}
	out := &usageJSON{Per: query.FormatBucket(n.Per), From: n.From, To: n.To, Rows: usageRowsJSON(len(rows))}
	for i, u := range rows {
		name, _ := s.name(entity.KindConsumer, u.Workspace, u.ConsumerID)
		out.Rows[i] = usageRowJSON{Start: u.Start.UTC(), Workspace: u.Workspace, ConsumerID: u.ConsumerID,
			ConsumerName: name, Requests: u.Requests, BillableRequests: u.BillableRequests, BillingUnits: u.BillingUnits}
	}
	query.ReleaseUsage(rows)
	return out, nil
}

func (s *Server) whoami(_ context.Context, rq *request) (any, error) {
	if err := rq.valid(nil); err != nil {
		return nil, err
	}
	sc := rq.scope
	out := whoamiJSON{Scope: sc.kind}
	if sc.kind == scopeAdmin {
		return out, nil
	}
	out.Workspace = sc.token.Workspace
	out.Token = &idNameJSON{ID: sc.token.ID, Name: sc.token.Name}
	if sc.kind == scopeConsumer {
		name, _ := s.name(entity.KindConsumer, sc.token.Workspace, sc.token.ConsumerID)
		out.Consumer = &idNameJSON{ID: sc.token.ConsumerID, Name: name}
	}
	return out, nil
}

func (s *Server) entities(_ context.Context, rq *request) (any, error) {
	if rq.kind == "" {
		rq.problem("kind", "is required")
	}
	if err := rq.valid(nil); err != nil {
		return nil, err
	}
	out := entitiesJSON{Data: []entityJSON{}}
	var list []Named
	switch sc := rq.scope; {
	case sc.kind == scopeConsumer && rq.kind == entity.KindConsumer:
		// A consumer sees itself, and nothing else of its workspace.
		self, ok := s.dir.Entity(entity.KindConsumer, sc.token.Workspace, sc.token.ConsumerID)
		if !ok || self.ID != sc.token.ConsumerID {
			self = Named{ID: sc.token.ConsumerID, Workspace: sc.token.Workspace}
		}
		list = []Named{self}
	case sc.kind == scopeConsumer:
	default:
		list = s.dir.Entities(rq.kind, rq.filter.Workspace)
	}
	for _, n := range list {
		if rq.filter.AllWorkspaces || n.Workspace == rq.filter.Workspace {
			out.Data = append(out.Data, entityJSON{ID: n.ID, Name: n.Name, Workspace: n.Workspace})
		}
	}
	return out, nil
}

// openapi serves the description as written, compactly.
func (s *Server) openapi(_ context.Context, rq *request) (any, error) {
	if err := rq.valid(nil); err != nil {
		return nil, err
	}
	return openapiCompact, nil
}

func (s *Server) healthz(_ context.Context, rq *request) (any, error) {
	if err := rq.valid(nil); err != nil {
		return nil, err
	}
	return healthJSON{Status: "ok"}, nil
}

func (rq *request) requireGroupBy() {
	if !rq.hasGroupBy {
		rq.problem("group_by", "is required")
	}
}

// rows gives breakdown and top-N rows their JSON, with the names of the
// services, routes and consumers they are keyed by.
func (s *Server) rows(rq *request, rows []query.Row, gateway bool) []rowJSON {
	kind := map[query.Dimension]entity.Kind{
		query.ByService: entity.KindService, query.ByRoute: entity.KindRoute, query.ByConsumer: entity.KindConsumer,
	}[rq.groupBy]
	out := make([]rowJSON, len(rows))
	for i, r := range rows {
		out[i] = rowJSON{Key: r.Key, metricsJSON: metrics(r.Metrics, gateway)}
		if kind != "" && r.Key != "" {
			name, ok := s.name(kind, rq.filter.Workspace, r.Key)
			out[i].Name, out[i].Deleted = name, !ok
		}
	}
	return out
}

// name returns the name of the entity with id in workspace ("" for any),
// and whether there is one.
func (s *Server) name(kind entity.Kind, workspace, id string) (string, bool) {
	if id == "" {
		return "", false
	}
	n, ok := s.dir.Entity(kind, workspace, id)
	// Entity also matches names: a record's id that happens to be another
	// entity's name is not that entity.
	if !ok || n.ID != id || (workspace != "" && n.Workspace != workspace) {
		return "", false
	}
	return n.Name, true
}
