package snapshot

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tollgate/tollgate/gateway/metrics"
	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/route"
	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/upstream"
	"github.com/tollgate/tollgate/internal/entity"
)

// Deps are the long-lived services a snapshot is built with.
type Deps struct {
	// Plugins is the registry plugin entities are built from; nil: no
	// plugin is available and every plugin entity is skipped.
	Plugins *plugin.Registry
	// Env is handed to plugin constructors.
	Env plugin.Env
	// Upstreams receives the upstreams and targets of every snapshot built
	// (Sync); nil: upstream entities are ignored.
	Upstreams *upstream.Manager
	// Logger receives the entities skipped and the versions applied; nil
	// discards.
	Logger *slog.Logger
	// Metrics, when set, receives the config version applied.
	Metrics *metrics.Metrics
}

// Snapshot is one config version, compiled for the request path. It is
// immutable and safe for concurrent use.
type Snapshot struct {
	Version uint64
	Router  *route.Table
	Plugins *plugin.Set
	Creds   plugin.Credentials

	services map[string]*entity.Service
	certs    *certIndex
}

// Service returns the service with the given id.
func (s *Snapshot) Service(id string) (*entity.Service, bool) {
	svc, ok := s.services[id]
	return svc, ok
}

// Certificate returns the certificate to present for a TLS server name:
// an exact SNI first, then a leading wildcard (*.example.com), then a
// trailing one (example.*), as Kong orders them.
func (s *Snapshot) Certificate(serverName string) (*tls.Certificate, bool) {
	return s.certs.lookup(serverName)
}

// CertificateByID returns a certificate by its entity id (a service's
// client_certificate).
func (s *Snapshot) CertificateByID(id string) (*tls.Certificate, bool) {
	c, ok := s.certs.byID[id]
	return c, ok
}

// Build compiles a stored snapshot. Entities that cannot be compiled (a
// route with a bad regex, a plugin with a bad config, a certificate that
// does not parse) are logged and left out; the rest serves. It fails only
// on what leaves nothing to serve with. When deps.Upstreams is set, Build
// syncs it with the snapshot's upstreams and targets.
func Build(s *store.Snapshot, deps Deps) (*Snapshot, error) {
	if s == nil {
		return nil, errors.New("build snapshot: no store snapshot")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		services  = map[string]*entity.Service{}
		entries   []route.Entry
		plugins   []*entity.Plugin
		upstreams []*entity.Upstream
		targets   []*entity.Target
		credsB    = newCredentialsBuilder()
		certsB    = newCertBuilder()
	)
	for _, e := range s.Entities {
		if e == nil {
			continue
		}
		ws := workspaceOf(e)
		switch v := e.(type) {
		case *entity.Service:
			services[v.ID] = v
		case *entity.Route:
			entries = append(entries, route.Entry{Route: v, Workspace: ws})
		case *entity.Plugin:
			if v.Workspace == "" {
				// Set reads the workspace from Meta; a copy keeps the
				// store's entity untouched.
				c := *v
				c.Workspace = ws
				v = &c
			}
			plugins = append(plugins, v)
		case *entity.Upstream:
			upstreams = append(upstreams, v)
		case *entity.Target:
			targets = append(targets, v)
		case *entity.Consumer:
			credsB.consumer(ws, v)
		case *entity.KeyAuthCredential:
			credsB.keyAuth(ws, v)
		case *entity.BasicAuthCredential:
			credsB.basicAuth(ws, v)
		case *entity.ACLGroup:
			credsB.group(ws, v)
		case *entity.Certificate:
			certsB.certificate(v)
		case *entity.SNI:
			certsB.sni(v)
		case *entity.AnalyticsToken:
			// Read by the analytics service (analytics/directory); the
			// proxy has no use for them.
		}
	}

	table, err := route.Compile(entries)
	logEach(log, "route skipped", s.Version, err)
	if table == nil {
		return nil, fmt.Errorf("build snapshot %d: compile routes: %w", s.Version, err)
	}

	reg := deps.Plugins
	if reg == nil {
		reg = plugin.NewRegistry()
	}
	set, err := plugin.NewSet(reg, plugins, deps.Env)
	logEach(log, "plugin skipped", s.Version, err)
	if set == nil {
		return nil, fmt.Errorf("build snapshot %d: build plugins: %w", s.Version, err)
	}

	certs, err := certsB.build()
	logEach(log, "certificate skipped", s.Version, err)

	creds, err := credsB.build()
	logEach(log, "credential skipped", s.Version, err)

	if deps.Upstreams != nil {
		deps.Upstreams.Sync(upstreams, targets, workspaceOf)
	}
	return &Snapshot{
		Version:  s.Version,
		Router:   table,
		Plugins:  set,
		Creds:    creds,
		services: services,
		certs:    certs,
	}, nil
}

// workspaceOf is the workspace an entity belongs to; stores set it on every
// entity they return, "" is read as the default workspace.
func workspaceOf(e entity.Entity) string {
	if ws := e.GetMeta().Workspace; ws != "" {
		return ws
	}
	return entity.DefaultWorkspace
}

// logEach logs every error an errors.Join holds on a line of its own, so
// that each skipped entity can be found by its id.
func logEach(log *slog.Logger, msg string, version uint64, err error) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			logEach(log, msg, version, e)
		}
		return
	}
	log.Warn(msg, "version", version, "error", err)
}

// lowerASCII lower-cases s without allocating when it already is.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
