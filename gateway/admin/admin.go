package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/internal/bearer"
	"github.com/tollgate/tollgate/internal/entity"
)

// Config is what the Admin API needs from the node that serves it.
type Config struct {
	// Store holds the configuration the API reads and writes.
	Store store.Store
	// Plugins validates plugin names and configurations.
	Plugins *plugin.Registry
	// Token, when set, is required on every request as
	// "Authorization: Bearer <token>" or, as Kong Enterprise's RBAC token,
	// in a "Kong-Admin-Token" header. Unset means no authentication: bind
	// the API to loopback then.
	Token string
	// Logger receives unexpected errors; nil discards them.
	Logger *slog.Logger
	// Version, NodeID and Hostname are reported by GET /.
	Version  string
	NodeID   string
	Hostname string
	// Status returns the node's state for GET /status (merged into Kong's
	// shape); may be nil.
	Status func() map[string]any
	// Health returns upstream target health for GET /upstreams/{u}/health;
	// may be nil, and then every target reports HEALTHCHECKS_OFF.
	Health func(workspace, upstream string) []TargetHealth
	// Now is the clock for created_at and updated_at; nil means time.Now.
	Now func() time.Time
	// Clustering returns the body of GET /clustering/status (the live
	// nodes of the cluster and the config version each has applied;
	// cluster.Registry's ClusteringStatus). nil means the node runs
	// standalone, and the endpoint answers 404.
	Clustering func(ctx context.Context) (any, error)
}

// TargetHealth is the health of one target of an upstream as the node's
// balancer sees it.
type TargetHealth struct {
	Target string
	Weight int
	// Health is "HEALTHY" or "UNHEALTHY" (Kong also reports "DNS_ERROR"
	// and "HEALTHCHECKS_OFF").
	Health string
}

// New returns the Admin API handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("admin: no store")
	}
	if cfg.Plugins == nil {
		cfg.Plugins = plugin.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &server{
		cfg:     cfg,
		store:   cfg.Store,
		plugins: cfg.Plugins,
		log:     cfg.Logger,
		now:     cfg.Now,
	}
	s.token = bearer.NewSecret(cfg.Token)
	s.routes()
	return s, nil
}

// server is the Admin API. Its fields are set once by New.
type server struct {
	cfg       Config
	store     store.Store
	plugins   *plugin.Registry
	log       *slog.Logger
	now       func() time.Time
	router    *httprouter.Router
	endpoints []string
	token     bearer.Secret
	// defaultReady records that the default workspace entity exists in
	// the store, so that the check is made once per process.
	defaultReady atomic.Bool
}

// topLevel are the first path segments the API serves itself; any other
// first segment names a workspace (Kong Enterprise's /{workspace}/services).
var topLevel = map[string]bool{
	"services": true, "routes": true, "consumers": true, "plugins": true,
	"upstreams": true, "targets": true, "certificates": true, "snis": true,
	"workspaces": true, "key-auths": true, "basic-auths": true, "acls": true,
	"config": true, "status": true, "endpoints": true, "schemas": true,
	"tags": true, "clustering": true, "analytics-tokens": true,
}

// reqInfo is what the outer handler learned about a request, carried in
// its context.
type reqInfo struct {
	ws     string // workspace name
	prefix string // "/{workspace}" when the request named it, else ""
}

type ctxKey struct{}

func info(r *http.Request) reqInfo {
	if ri, ok := r.Context().Value(ctxKey{}).(reqInfo); ok {
		return ri
	}
	return reqInfo{ws: entity.DefaultWorkspace}
}

// ServeHTTP authenticates, strips the workspace prefix and dispatches.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("admin handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
			writeJSON(w, http.StatusInternalServerError, map[string]any{"message": "An unexpected error occurred"})
		}
	}()
	server := "tollgate"
	if s.cfg.Version != "" {
		server += "/" + s.cfg.Version
	}
	w.Header().Set("Server", server)
	// CORS preflights carry no credentials; they learn only which methods
	// a path allows.
	if s.cfg.Token != "" && r.Method != http.MethodOptions && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate admin"`)
		writeJSON(w, errUnauthorized.status, errUnauthorized.body)
		return
	}

	p := r.URL.Path
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
		if p == "" {
			p = "/"
		}
	}
	ri := reqInfo{ws: entity.DefaultWorkspace}
	first, rest, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if first != "" && !topLevel[first] {
		name, err := s.resolveWorkspace(r.Context(), first)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ri = reqInfo{ws: name, prefix: "/" + first}
		p = "/" + rest
	}
	r2 := r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri))
	u := *r.URL
	u.Path = p
	u.RawPath = ""
	r2.URL = &u
	s.router.ServeHTTP(w, r2)
}

// authorized checks the presented token (Kong-Admin-Token, as Kong
// Enterprise's RBAC token, or a bearer token) against the configured one.
func (s *server) authorized(r *http.Request) bool {
	tok := r.Header.Get("Kong-Admin-Token")
	if tok == "" {
		tok, _ = bearer.FromRequest(r)
	}
	return s.token.Matches(tok)
}

// resolveWorkspace maps a path's workspace segment (a name or an id) to the
// workspace's name; the default workspace always exists.
func (s *server) resolveWorkspace(ctx context.Context, seg string) (string, error) {
	if seg == entity.DefaultWorkspace {
		return seg, nil
	}
	var (
		e   entity.Entity
		err error
	)
	if isUUID(seg) {
		e, err = s.store.Get(ctx, entity.KindWorkspace, "", seg)
	} else {
		e, err = s.store.GetByKey(ctx, entity.KindWorkspace, "", "name", seg)
	}
	if errors.Is(err, store.ErrNotFound) {
		return "", errMessage(http.StatusNotFound, fmt.Sprintf("Workspace '%s' not found", seg))
	}
	if err != nil {
		return "", fmt.Errorf("resolve workspace %q: %w", seg, err)
	}
	return e.(*entity.Workspace).Name, nil
}

// handler is an endpoint; its error, if any, is written by writeError.
type handler func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error

func (s *server) handle(method, path string, h handler) {
	s.router.Handle(method, path, func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if err := h(w, r, ps); err != nil {
			s.writeError(w, r, err)
		}
	})
	s.endpoints = append(s.endpoints, path)
}

// routes builds the router: every path Kong's Admin API generates for the
// entities Tollgate has (kong/api/endpoints.lua), plus the node endpoints.
func (s *server) routes() {
	s.router = httprouter.New()
	s.router.RedirectTrailingSlash = false
	s.router.RedirectFixedPath = false
	s.router.HandleMethodNotAllowed = true
	s.router.HandleOPTIONS = true
	s.router.NotFound = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, errNotFound.status, errNotFound.body)
	})
	s.router.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, errMethodNotAllowed.status, errMethodNotAllowed.body)
	})

	s.handle(http.MethodGet, "/", s.root)
	s.handle(http.MethodGet, "/status", s.status)
	s.handle(http.MethodGet, "/endpoints", s.listEndpoints)
	s.handle(http.MethodGet, "/schemas/plugins/:name", s.pluginSchema)
	s.handle(http.MethodGet, "/config", s.exportConfig)
	s.handle(http.MethodPost, "/config", s.importConfig)

	for _, c := range collections() {
		base := "/" + c.path
		sc := scope{kind: c.kind}
		s.handle(http.MethodGet, base, s.listHandler(sc, ""))
		s.handle(http.MethodPost, base, s.createHandler(sc, ""))
		one := base + "/:id"
		s.handle(http.MethodGet, one, s.getHandler(sc, "", "id"))
		s.handle(http.MethodPut, one, s.upsertHandler(sc, "", "id"))
		s.handle(http.MethodPatch, one, s.patchHandler(sc, "", "id"))
		s.handle(http.MethodDelete, one, s.deleteHandler(sc, "", "id"))
		// /routes/{route}/service and the like: the entity a foreign key
		// points at.
		for _, ff := range foreignFields(c.kind) {
			p := one + "/" + ff.field
			s.handle(http.MethodGet, p, s.foreignGetHandler(c.kind, ff))
			s.handle(http.MethodPatch, p, s.foreignPatchHandler(c.kind, ff))
		}
	}
	for _, n := range nestedCollections() {
		base := "/" + adminPath(n.parent) + "/:id/" + n.seg
		sc := scope{kind: n.child, parentKind: n.parent, parentField: n.field, seg: n.seg}
		s.handle(http.MethodGet, base, s.listHandler(sc, "id"))
		s.handle(http.MethodPost, base, s.createHandler(sc, "id"))
		one := base + "/:child"
		s.handle(http.MethodGet, one, s.getHandler(sc, "id", "child"))
		s.handle(http.MethodPut, one, s.upsertHandler(sc, "id", "child"))
		s.handle(http.MethodPatch, one, s.patchHandler(sc, "id", "child"))
		s.handle(http.MethodDelete, one, s.deleteHandler(sc, "id", "child"))
	}
	s.handle(http.MethodGet, "/upstreams/:id/health", s.upstreamHealth)
	s.handle(http.MethodGet, "/clustering/status", s.clusteringStatus)
	sort.Strings(s.endpoints)
}
