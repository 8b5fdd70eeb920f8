package api

import "github.com/tollgate/tollgate/internal/entity"

// The scopes a caller can have.
const (
	scopeAdmin     = "admin"
	scopeWorkspace = "workspace"
	scopeConsumer  = "consumer"
)

// scope is who is asking: an admin, or the holder of a workspace or
// consumer token.
type scope struct {
	kind  string
	token Token // workspace and consumer scopes
}

// applyScope sets the request's tenancy from its scope, which parameters
// can only narrow: an admin reads every workspace or the one named; a
// token reads its workspace, and a consumer token its consumer, and
// naming another is 403. Service, route and consumer parameters resolve
// from names to ids within that workspace; values that resolve to nothing
// are taken as ids (a deleted entity's records keep its id).
func (s *Server) applyScope(rq *request) error {
	sc := rq.scope
	switch sc.kind {
	case scopeAdmin:
		if rq.workspace != "" {
			rq.filter.Workspace = rq.workspace
		} else {
			rq.filter.AllWorkspaces = true
		}
	case scopeWorkspace, scopeConsumer:
		if rq.workspace != "" && rq.workspace != sc.token.Workspace {
			return errForbidden("this token reads workspace %q only", sc.token.Workspace)
		}
		rq.filter.Workspace = sc.token.Workspace
	default: // an endpoint without auth reads nothing
		return nil
	}
	ws := rq.filter.Workspace
	rq.filter.ServiceID = s.resolve(entity.KindService, ws, rq.service)
	rq.filter.RouteID = s.resolve(entity.KindRoute, ws, rq.route)
	rq.filter.ConsumerID = s.resolve(entity.KindConsumer, ws, rq.consumer)
	if sc.kind == scopeConsumer {
		if rq.consumer != "" && rq.filter.ConsumerID != sc.token.ConsumerID {
			return errForbidden("this token reads consumer %q only", s.consumerLabel(sc.token))
		}
		rq.filter.ConsumerID = sc.token.ConsumerID
	}
	return nil
}

// resolve returns the id of the entity of workspace ws ("" for any) with
// id or name v, or v itself.
func (s *Server) resolve(kind entity.Kind, ws, v string) string {
	if v == "" {
		return ""
	}
	if n, ok := s.dir.Entity(kind, ws, v); ok && (ws == "" || n.Workspace == ws) {
		return n.ID
	}
	return v
}

// consumerLabel is how a 403 names a consumer token's consumer.
func (s *Server) consumerLabel(t Token) string {
	if name, ok := s.name(entity.KindConsumer, t.Workspace, t.ConsumerID); ok && name != "" {
		return name
	}
	return t.ConsumerID
}
