package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tollgate/tollgate/analytics/query"
	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/bearer"
)

// Config is what the analytics API needs.
type Config struct {
	// Store answers the queries. Required.
	Store query.Store
	// Directory knows the analytics tokens and the names of services,
	// routes and consumers. Required.
	Directory Directory
	// AdminToken is the admin bearer token (TOLLGATE_ADMIN_TOKEN). When
	// "", requests from loopback addresses are served as admin and others
	// need a workspace or consumer token.
	AdminToken string
	// Dashboard, when non-nil, is served at "/": index.html for "/", its
	// files by path; unknown paths under it are 404. API paths take
	// precedence.
	Dashboard fs.FS
	// Logger receives store failures and recovered panics; nil discards
	// them.
	Logger *slog.Logger
	// Now is the clock relative ranges end at; nil means time.Now.
	Now func() time.Time
}

// Server is the analytics API, an http.Handler. Its fields are set once by
// New; it is safe for concurrent use.
type Server struct {
	store     query.Store
	dir       Directory
	dashboard fs.FS
	log       *slog.Logger
	now       func() time.Time
	admin     bearer.Secret
	endpoints []endpoint
	router    *httprouter.Router
}

// New returns the API over cfg's store and directory. It does no I/O.
func New(cfg Config) (*Server, error) {
	var missing []string
	if cfg.Store == nil {
		missing = append(missing, "Store")
	}
	if cfg.Directory == nil {
		missing = append(missing, "Directory")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("analytics api: %s required", strings.Join(missing, " and "))
	}
	s := &Server{
		store:     cfg.Store,
		dir:       cfg.Directory,
		dashboard: cfg.Dashboard,
		log:       cfg.Logger,
		now:       cfg.Now,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.admin = bearer.NewSecret(cfg.AdminToken)
	s.endpoints = s.table()
	r := httprouter.New()
	// An API answers the path it was asked: no redirects to a cleaned
	// path or another trailing slash, and OPTIONS is not served (there is
	// no CORS here; the dashboard is served from the same origin).
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = false
	r.HandleMethodNotAllowed = true
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		// Every path serves GET and HEAD only (the router would list
		// OPTIONS too).
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, message("Method not allowed"))
	})
	r.NotFound = http.HandlerFunc(s.fallback)
	for i := range s.endpoints {
		h := s.handle(&s.endpoints[i])
		r.GET(s.endpoints[i].path, h)
		r.HEAD(s.endpoints[i].path, h)
	}
	s.router = r
	return s, nil
}

// ServeHTTP serves the API, recovering from panics as a 500.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("analytics api handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
			writeJSON(w, http.StatusInternalServerError, message("An unexpected error occurred"))
		}
	}()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.router.ServeHTTP(w, r)
}

// handle returns the router's handler of e: authenticate, parse, scope,
// run, respond.
func (s *Server) handle(e *endpoint) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		rq := &request{endpoint: e, problems: map[string]string{}}
		if e.auth {
			sc, ok := s.authenticate(r)
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate-analytics"`)
				writeJSON(w, http.StatusUnauthorized, message("Unauthorized"))
				return
			}
			rq.scope = sc
		}
		rq.parse(r.URL.RawQuery)
		rq.resolveRange(s.now())
		if err := s.applyScope(rq); err != nil {
			s.writeError(w, r, err)
			return
		}
		v, err := e.run(s, r.Context(), rq)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
		if r, ok := v.(releaser); ok {
			r.release()
		}
	}
}

// authenticate returns the scope of the request's bearer token. Without a
// token, a request from loopback is admin when no admin token is
// configured (as the Admin API serves it then).
func (s *Server) authenticate(r *http.Request) (scope, bool) {
	tok, present := bearer.FromRequest(r)
	switch {
	case !present:
		return scope{kind: scopeAdmin}, !s.admin.Set() && loopback(r.RemoteAddr)
	case tok == "":
		return scope{}, false
	case s.admin.Matches(tok):
		return scope{kind: scopeAdmin}, true
	}
	t, ok := s.dir.Token(validate.HashKey(tok))
	if !ok || t.Workspace == "" || (t.ExpiresAt != 0 && t.ExpiresAt <= s.now().Unix()) {
		return scope{}, false
	}
	if t.ConsumerID != "" {
		return scope{kind: scopeConsumer, token: t}, true
	}
	return scope{kind: scopeWorkspace, token: t}, true
}

func loopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// fallback answers what no endpoint does: the dashboard's files for GET
// and HEAD when there is a dashboard, else 404.
func (s *Server) fallback(w http.ResponseWriter, r *http.Request) {
	if s.dashboard == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		writeJSON(w, http.StatusNotFound, message("Not found"))
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	f, err := fs.Stat(s.dashboard, name)
	if err != nil || f.IsDir() || !fs.ValidPath(name) {
		writeJSON(w, http.StatusNotFound, message("Not found"))
		return
	}
	b, err := fs.ReadFile(s.dashboard, name)
	if err != nil {
		s.log.Error("read dashboard file", "name", name, "err", err)
		writeJSON(w, http.StatusNotFound, message("Not found"))
		return
	}
	// ServeContent sets the type from the extension, and answers HEAD,
	// ranges and If-Modified-Since.
	http.ServeContent(w, r, name, f.ModTime(), bytes.NewReader(b))
}

// writeError maps an error to its response: apiErrors carry theirs; any
// other error is the store's, answered 503 without its text (which may
// hold SQL) and logged unless the client went away.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeJSON(w, ae.status, ae.body)
		return
	}
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		s.log.Debug("analytics query canceled by the client", "path", r.URL.Path, "err", err)
	} else {
		s.log.Error("analytics store failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
	}
	w.Header().Set("Retry-After", "5")
	writeJSON(w, http.StatusServiceUnavailable, message("analytics store unavailable"))
}
