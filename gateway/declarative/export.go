package declarative

import (
	"sort"

	"github.com/tollgate/tollgate/internal/entity"
)

// Export builds a file from the entities of one workspace (as
// store.Snapshot returns them; entities of other workspaces are left out),
// nesting as decK does: routes and the plugins of one service under the
// service, plugins of one route under the route, credentials, ACL groups
// and the plugins of one consumer under the consumer, targets under
// upstreams, SNIs under certificates. Plugins of several scopes, or none,
// stay at the top level. References name the entity where it has a name,
// else give its id. Secrets are exported only as hashes (key_hash,
// password_hash), which a re-import keeps; every entity keeps its id and
// timestamps, so that a re-import restores the same configuration.
// Entities that are not Declared (analytics tokens) are left out.
func Export(entities []entity.Entity, workspace string) *File {
	if workspace == "" {
		workspace = entity.DefaultWorkspace
	}
	x := &exporter{
		f:       &File{FormatVersion: FormatVersion},
		names:   map[entity.Kind]map[string]string{},
		taken:   map[entity.Kind]map[string]bool{},
		present: map[entity.Kind]map[string]bool{},
	}
	if workspace != entity.DefaultWorkspace {
		x.f.Workspace = workspace
	}
	var mine []entity.Entity
	for _, e := range entities {
		if e == nil || !Declared(e.Kind()) {
			continue
		}
		ws := e.GetMeta().Workspace
		if ws == "" {
			ws = entity.DefaultWorkspace
		}
		if ws != workspace {
			continue
		}
		mine = append(mine, e)
		x.index(e)
	}
	x.settle()
	sort.SliceStable(mine, func(i, j int) bool { return sortKey(mine[i]) < sortKey(mine[j]) })
	x.build(mine)
	return x.f
}

type exporter struct {
	f *File
	// names maps ids to the names references use; taken holds the ids of
	// a kind, to tell when a name would be ambiguous; present the ids too.
	names   map[entity.Kind]map[string]string
	taken   map[entity.Kind]map[string]bool
	present map[entity.Kind]map[string]bool

	services  map[string]*Service
	routes    map[string]*Route
	consumers map[string]*Consumer
	upstreams map[string]*Upstream
	certs     map[string]*Certificate
}

func (x *exporter) index(e entity.Entity) {
	k, id := e.Kind(), e.GetMeta().ID
	if x.present[k] == nil {
		x.present[k], x.names[k], x.taken[k] = map[string]bool{}, map[string]string{}, map[string]bool{}
	}
	x.present[k][id] = true
	x.taken[k][id] = true
	if name := entityName(e); name != "" {
		x.names[k][id] = name
	}
}

// settle keeps the names that reference exactly one entity: a name shared
// by two entities, or equal to an id, is referenced by id instead.
func (x *exporter) settle() {
	for k, names := range x.names {
		count := map[string]int{}
		for _, n := range names {
			count[n]++
		}
		for id, n := range names {
			if count[n] > 1 || x.taken[k][n] {
				delete(names, id)
			}
		}
	}
}

// ref is how the file references the entity of kind k with id.
func (x *exporter) ref(k entity.Kind, r *entity.Ref) Reference {
	if r == nil || r.ID == "" {
		return ""
	}
	if n, ok := x.names[k][r.ID]; ok {
		return Reference(n)
	}
	return Reference(r.ID)
}

// has reports whether the export holds the entity r references.
func (x *exporter) has(k entity.Kind, r *entity.Ref) bool {
	return r != nil && x.present[k][r.ID]
}

func (x *exporter) build(mine []entity.Entity) {
	x.services, x.routes = map[string]*Service{}, map[string]*Route{}
	x.consumers, x.upstreams = map[string]*Consumer{}, map[string]*Upstream{}
	x.certs = map[string]*Certificate{}
	// Containers first, so that dependants find them whatever the order.
	for _, e := range mine {
		switch e := e.(type) {
		case *entity.Certificate:
			c := *e
			c.SNIs = nil
			fc := &Certificate{Certificate: c}
			x.certs[c.ID] = fc
			x.f.Certificates = append(x.f.Certificates, fc)
		case *entity.Service:
			s := *e
			s.URL = ""
			fs := &Service{Service: s, ClientCertificate: x.ref(entity.KindCertificate, s.ClientCertificate)}
			fs.Service.ClientCertificate = nil
			x.services[s.ID] = fs
			x.f.Services = append(x.f.Services, fs)
		case *entity.Consumer:
			fc := &Consumer{Consumer: *e}
			x.consumers[e.ID] = fc
			x.f.Consumers = append(x.f.Consumers, fc)
		case *entity.Upstream:
			fu := &Upstream{Upstream: *e}
			x.upstreams[e.ID] = fu
			x.f.Upstreams = append(x.f.Upstreams, fu)
		}
	}
	for _, e := range mine {
		r, ok := e.(*entity.Route)
		if !ok {
			continue
		}
		fr := &Route{Route: *r}
		fr.Route.Service = nil
		x.routes[r.ID] = fr
		if x.has(entity.KindService, r.Service) {
			s := x.services[r.Service.ID]
			s.Routes = append(s.Routes, fr)
		} else {
			fr.Service = x.ref(entity.KindService, r.Service)
			x.f.Routes = append(x.f.Routes, fr)
		}
	}
	for _, e := range mine {
		switch e := e.(type) {
		case *entity.SNI:
			s := &SNI{SNI: *e}
			s.SNI.Certificate = nil
			if x.has(entity.KindCertificate, e.Certificate) {
				c := x.certs[e.Certificate.ID]
				c.SNIs = append(c.SNIs, s)
			} else {
				s.Certificate = x.ref(entity.KindCertificate, e.Certificate)
				x.f.SNIs = append(x.f.SNIs, s)
			}
		case *entity.Target:
			t := &Target{Target: *e}
			t.Target.Upstream = nil
			if x.has(entity.KindUpstream, e.Upstream) {
				u := x.upstreams[e.Upstream.ID]
				u.Targets = append(u.Targets, t)
			} else {
				t.Upstream = x.ref(entity.KindUpstream, e.Upstream)
				x.f.Targets = append(x.f.Targets, t)
			}
		case *entity.KeyAuthCredential:
			k := &KeyAuthCredential{KeyAuthCredential: *e}
			k.KeyAuthCredential.Key = "" // only ever the hash
			k.KeyAuthCredential.Consumer = nil
			if c := x.consumerOf(e.Consumer); c != nil {
				c.KeyAuthCredentials = append(c.KeyAuthCredentials, k)
			} else {
				k.Consumer = x.ref(entity.KindConsumer, e.Consumer)
				x.f.KeyAuthCredentials = append(x.f.KeyAuthCredentials, k)
			}
		case *entity.BasicAuthCredential:
			b := &BasicAuthCredential{BasicAuthCredential: *e}
			b.BasicAuthCredential.Password = "" // only ever the hash
			b.BasicAuthCredential.Consumer = nil
			if c := x.consumerOf(e.Consumer); c != nil {
				c.BasicAuthCredentials = append(c.BasicAuthCredentials, b)
			} else {
				b.Consumer = x.ref(entity.KindConsumer, e.Consumer)
				x.f.BasicAuthCredentials = append(x.f.BasicAuthCredentials, b)
			}
		case *entity.ACLGroup:
			a := &ACLGroup{ACLGroup: *e}
			a.ACLGroup.Consumer = nil
			if c := x.consumerOf(e.Consumer); c != nil {
				c.ACLs = append(c.ACLs, a)
			} else {
				a.Consumer = x.ref(entity.KindConsumer, e.Consumer)
				x.f.ACLs = append(x.f.ACLs, a)
			}
		case *entity.Plugin:
			x.plugin(e)
		}
	}
}

func (x *exporter) consumerOf(r *entity.Ref) *Consumer {
	if !x.has(entity.KindConsumer, r) {
		return nil
	}
	return x.consumers[r.ID]
}

// plugin nests a plugin in the one entity it is scoped to, or lists it at
// the top level with its references.
func (x *exporter) plugin(e *entity.Plugin) {
	p := &Plugin{Plugin: *e}
	p.Plugin.Service, p.Plugin.Route, p.Plugin.Consumer = nil, nil, nil
	scopes := 0
	for _, r := range []*entity.Ref{e.Service, e.Route, e.Consumer} {
		if r != nil {
			scopes++
		}
	}
	if scopes == 1 {
		switch {
		case x.has(entity.KindService, e.Service):
			s := x.services[e.Service.ID]
			s.Plugins = append(s.Plugins, p)
			return
		case x.has(entity.KindRoute, e.Route):
			r := x.routes[e.Route.ID]
			r.Plugins = append(r.Plugins, p)
			return
		case x.has(entity.KindConsumer, e.Consumer):
			c := x.consumers[e.Consumer.ID]
			c.Plugins = append(c.Plugins, p)
			return
		}
	}
	p.Service = x.ref(entity.KindService, e.Service)
	p.Route = x.ref(entity.KindRoute, e.Route)
	p.Consumer = x.ref(entity.KindConsumer, e.Consumer)
	x.f.Plugins = append(x.f.Plugins, p)
}

// sortKey orders entities in an export: by what a reader looks for (name,
// username, target, group, plugin name), then by id, so that exports of
// the same configuration are identical.
func sortKey(e entity.Entity) string {
	var k string
	switch e := e.(type) {
	case *entity.Consumer:
		k = e.Username + "\x00" + e.CustomID
	case *entity.Target:
		k = e.Target
	case *entity.ACLGroup:
		k = e.Group
	case *entity.BasicAuthCredential:
		k = e.Username
	case *entity.KeyAuthCredential:
		k = e.KeyPrefix
	case *entity.Plugin:
		k = e.Name + "\x00" + e.InstanceName
	default:
		k = entityName(e)
	}
	return k + "\x00" + e.GetMeta().ID
}
