package declarative

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
)

// item is one entity of a file on its way to the store.
type item struct {
	e  entity.Entity
	at path
	// parent is the entity this one is nested in, and parentField the
	// reference that nesting sets.
	parent      *item
	parentField string
	// refs are the references written in the file, by field; badRefs
	// those that name no entity of the file.
	refs    map[string]Reference
	badRefs map[string]bool
}

// Entities flattens the file into entities of the given workspace (the
// file's _workspace, when present, must match, or is used when workspace
// is ""), resolving references by name or id, deriving ids where missing,
// setting created_at/updated_at and Meta.Workspace, and running
// validate.Normalize and validate.HashSecrets on each. All problems are
// reported together in an *Error. The file is not modified.
//
// Missing ids are derived as Kong derives them (uuid v5 of the entity's
// name, username, or its plugin/ACL/target key), so that applying the same
// file again keeps every id, and with it the rate-limit counters and
// analytics keyed by them; entities without such a key (certificates,
// key-auth credentials, unnamed services and routes) get random ids.
func (f *File) Entities(workspace string, plugins *plugin.Registry, now time.Time) ([]entity.Entity, error) {
	probs := newProblems(f.lines)
	ws, msg := f.workspaceFor(workspace)
	if msg != "" {
		probs.add(path{"_workspace"}, msg)
		return nil, probs.err()
	}
	items := flatten(f)
	order := map[entity.Kind]int{}
	for i, k := range entity.Kinds {
		order[k] = i
	}
	// Parents before children and referenced kinds before referencing ones:
	// derived ids of children build on their parents' ids.
	sort.SliceStable(items, func(i, j int) bool { return order[items[i].e.Kind()] < order[items[j].e.Kind()] })

	assignIDs(items, probs)
	resolve(items, probs)

	var selectTags []string
	if f.Info != nil {
		selectTags = f.Info.SelectTags
	}
	ts := now.Unix()
	for _, it := range items {
		m := it.e.GetMeta()
		m.Workspace = ws
		if m.CreatedAt == 0 {
			m.CreatedAt = ts
		}
		if m.UpdatedAt == 0 {
			m.UpdatedAt = ts
		}
		for _, t := range selectTags {
			if !slices.Contains(m.Tags, t) {
				m.Tags = append(slices.Clip(m.Tags), t)
			}
		}
		normalize(it, plugins, probs)
	}
	checkUnique(items, probs)
	// Read top to bottom, as the file is: entities were visited by kind.
	sort.SliceStable(probs.list, func(i, j int) bool { return probs.list[i].line < probs.list[j].line })
	if err := probs.err(); err != nil {
		return nil, err
	}
	out := make([]entity.Entity, len(items))
	for i, it := range items {
		out[i] = it.e
	}
	return out, nil
}

// workspaceFor resolves the workspace a file is applied to; the message
// says why it cannot be.
func (f *File) workspaceFor(workspace string) (string, string) {
	switch {
	case f.Workspace == "":
	case workspace == "":
		workspace = f.Workspace
	case workspace != f.Workspace:
		return "", fmt.Sprintf("the file is for workspace '%s', not '%s'", f.Workspace, workspace)
	}
	if workspace == "" {
		workspace = entity.DefaultWorkspace
	}
	return workspace, ""
}

// flatten lists the entities of f, nested ones after their parent, each a
// copy that can be changed without changing f.
func flatten(f *File) []*item {
	fl := &flattener{}
	for i, s := range f.Certificates {
		fl.certificate(s, path{"certificates", i})
	}
	for i, s := range f.SNIs {
		fl.sni(s, path{"snis", i}, nil, "")
	}
	for i, s := range f.Services {
		fl.service(s, path{"services", i}, nil, "")
	}
	for i, r := range f.Routes {
		fl.route(r, path{"routes", i}, nil, "")
	}
	for i, c := range f.Consumers {
		fl.consumer(c, path{"consumers", i})
	}
	for i, u := range f.Upstreams {
		fl.upstream(u, path{"upstreams", i})
	}
	for i, t := range f.Targets {
		fl.target(t, path{"targets", i}, nil, "")
	}
	for i, k := range f.KeyAuthCredentials {
		fl.keyAuth(k, path{"keyauth_credentials", i}, nil, "")
	}
	for i, b := range f.BasicAuthCredentials {
		fl.basicAuth(b, path{"basicauth_credentials", i}, nil, "")
	}
	for i, a := range f.ACLs {
		fl.acl(a, path{"acls", i}, nil, "")
	}
	for i, p := range f.Plugins {
		fl.plugin(p, path{"plugins", i}, nil, "")
	}
	return fl.items
}

type flattener struct {
	items []*item
}

func (fl *flattener) add(e entity.Entity, at path, parent *item, parentField string, refs map[string]Reference) *item {
	for k, v := range refs {
		if v == "" {
			delete(refs, k)
		}
	}
	it := &item{e: e, at: at, parent: parent, parentField: parentField, refs: refs}
	fl.items = append(fl.items, it)
	return it
}

func (fl *flattener) certificate(c *Certificate, at path) {
	if c == nil {
		return
	}
	e := c.Certificate
	e.SNIs = nil
	it := fl.add(&e, at, nil, "", nil)
	for i, s := range c.SNIs {
		fl.sni(s, at.key("snis").index(i), it, "certificate")
	}
	for i, s := range c.Services {
		fl.service(s, at.key("services").index(i), it, "client_certificate")
	}
}

func (fl *flattener) sni(s *SNI, at path, parent *item, pf string) {
	if s == nil {
		return
	}
	e := s.SNI
	fl.add(&e, at, parent, pf, map[string]Reference{"certificate": s.Certificate})
}

func (fl *flattener) service(s *Service, at path, parent *item, pf string) {
	if s == nil {
		return
	}
	e := s.Service
	it := fl.add(&e, at, parent, pf, map[string]Reference{"client_certificate": s.ClientCertificate})
	for i, r := range s.Routes {
		fl.route(r, at.key("routes").index(i), it, "service")
	}
	for i, p := range s.Plugins {
		fl.plugin(p, at.key("plugins").index(i), it, "service")
	}
}

func (fl *flattener) route(r *Route, at path, parent *item, pf string) {
	if r == nil {
		return
	}
	e := r.Route
	it := fl.add(&e, at, parent, pf, map[string]Reference{"service": r.Service})
	for i, p := range r.Plugins {
		fl.plugin(p, at.key("plugins").index(i), it, "route")
	}
}

func (fl *flattener) consumer(c *Consumer, at path) {
	if c == nil {
		return
	}
	e := c.Consumer
	it := fl.add(&e, at, nil, "", nil)
	for i, p := range c.Plugins {
		fl.plugin(p, at.key("plugins").index(i), it, "consumer")
	}
	for i, k := range c.KeyAuthCredentials {
		fl.keyAuth(k, at.key("keyauth_credentials").index(i), it, "consumer")
	}
	for i, b := range c.BasicAuthCredentials {
		fl.basicAuth(b, at.key("basicauth_credentials").index(i), it, "consumer")
	}
	for i, a := range c.ACLs {
		fl.acl(a, at.key("acls").index(i), it, "consumer")
	}
}

func (fl *flattener) upstream(u *Upstream, at path) {
	if u == nil {
		return
	}
	e := u.Upstream
	it := fl.add(&e, at, nil, "", nil)
	for i, t := range u.Targets {
		fl.target(t, at.key("targets").index(i), it, "upstream")
	}
}

func (fl *flattener) target(t *Target, at path, parent *item, pf string) {
	if t == nil {
		return
	}
	e := t.Target
	fl.add(&e, at, parent, pf, map[string]Reference{"upstream": t.Upstream})
}

func (fl *flattener) keyAuth(k *KeyAuthCredential, at path, parent *item, pf string) {
	if k == nil {
		return
	}
	e := k.KeyAuthCredential
	fl.add(&e, at, parent, pf, map[string]Reference{"consumer": k.Consumer})
}

func (fl *flattener) basicAuth(b *BasicAuthCredential, at path, parent *item, pf string) {
	if b == nil {
		return
	}
	e := b.BasicAuthCredential
	fl.add(&e, at, parent, pf, map[string]Reference{"consumer": b.Consumer})
}

func (fl *flattener) acl(a *ACLGroup, at path, parent *item, pf string) {
	if a == nil {
		return
	}
	e := a.ACLGroup
	fl.add(&e, at, parent, pf, map[string]Reference{"consumer": a.Consumer})
}

func (fl *flattener) plugin(p *Plugin, at path, parent *item, pf string) {
	if p == nil {
		return
	}
	e := p.Plugin
	fl.add(&e, at, parent, pf, map[string]Reference{
		"service":  p.Service,
		"route":    p.Route,
		"consumer": p.Consumer,
	})
}

// kongNamespace is the namespace of the ids Kong derives for declarative
// entities (kong/db/schema/others/declarative_config.lua): ids are
// v5(v5(kongNamespace, kind), key).
func kongNamespace() uuid.UUID {
	return uuid.UUID{0xfd, 0x02, 0x80, 0x1f, 0x09, 0x57, 0x4a, 0x15, 0xa5, 0x5a, 0xc8, 0xd9, 0x60, 0x6f, 0x30, 0xb5}
}

func derivedID(kind entity.Kind, key string) string {
	ns := uuid.NewSHA1(kongNamespace(), []byte(kind))
	return uuid.NewSHA1(ns, []byte(key)).String()
}

// idKey is the key Kong derives an entity's id from, "" when it has none
// and gets a random id. Kong uses the endpoint key (name, username) where
// the kind has one and its cache key otherwise, with references as written
// in the file or, for the nesting parent, the parent's id. Key-auth
// credentials are the exception: Kong derives their id from the key
// itself, which Tollgate never keeps, so they get random ids.
func idKey(it *item) string {
	ref := func(field string) string {
		if it.parent != nil && it.parentField == field {
			return it.parent.e.GetMeta().ID
		}
		return string(it.refs[field])
	}
	switch e := it.e.(type) {
	case *entity.Service:
		return e.Name
	case *entity.Route:
		return e.Name
	case *entity.Upstream:
		return e.Name
	case *entity.SNI:
		return e.Name
	case *entity.Consumer:
		return e.Username
	case *entity.BasicAuthCredential:
		return e.Username
	case *entity.Target:
		// Target values are unique per upstream only.
		if e.Target == "" || ref("upstream") == "" {
			return ""
		}
		return e.Target + ":" + ref("upstream")
	case *entity.ACLGroup:
		if e.Group == "" || ref("consumer") == "" {
			return ""
		}
		return "acls:" + ref("consumer") + ":" + e.Group
	case *entity.Plugin:
		if e.InstanceName != "" {
			return e.InstanceName
		}
		if e.Name == "" {
			return ""
		}
		// name, route, service, consumer, consumer_group.
		return "plugins:" + e.Name + ":" + ref("route") + ":" + ref("service") + ":" + ref("consumer") + ":"
	}
	return ""
}

// assignIDs gives every entity without an id one, and checks given ids.
func assignIDs(items []*item, probs *problems) {
	for _, it := range items {
		m := it.e.GetMeta()
		if m.ID != "" {
			if !validUUID(m.ID) {
				probs.add(it.at.key("id"), "expected a valid UUID")
			}
			continue
		}
		if key := idKey(it); key != "" {
			m.ID = derivedID(it.e.Kind(), key)
		} else {
			m.ID = uuid.NewString()
		}
	}
}

// validUUID accepts the canonical 8-4-4-4-12 hex form, as Kong does.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// resolve sets every reference to the id of the entity it names: the
// nesting parent, or an entity of the file found by name, then by id, as
// Kong looks them up.
func resolve(items []*item, probs *problems) {
	byName := map[entity.Kind]map[string]*item{}
	byID := map[entity.Kind]map[string]*item{}
	for _, it := range items {
		k := it.e.Kind()
		if byID[k] == nil {
			byID[k], byName[k] = map[string]*item{}, map[string]*item{}
		}
		if id := it.e.GetMeta().ID; byID[k][id] == nil {
			byID[k][id] = it
		}
		if name := entityName(it.e); name != "" && byName[k][name] == nil {
			byName[k][name] = it
		}
	}
	specs := map[entity.Kind]*spec{}
	for _, it := range items {
		if it.parent != nil {
			setRef(it.e, it.parentField, it.parent.e.GetMeta().ID)
		}
		s := specs[it.e.Kind()]
		if s == nil {
			s = specFor(it.e.Kind())
			specs[it.e.Kind()] = s
		}
		fields := make([]string, 0, len(it.refs))
		for f := range it.refs {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, field := range fields {
			ref := string(it.refs[field])
			kind := s.refs[field]
			target := byName[kind][ref]
			if target == nil {
				target = byID[kind][ref]
			}
			if target == nil {
				probs.add(it.at.key(field), fmt.Sprintf("invalid reference '%s: %s' (no such entry in '%s')", field, ref, kind))
				if it.badRefs == nil {
					it.badRefs = map[string]bool{}
				}
				it.badRefs[field] = true
				continue
			}
			setRef(it.e, field, target.e.GetMeta().ID)
		}
	}
}

// entityName is the value by which the file may reference e.
func entityName(e entity.Entity) string {
	switch e := e.(type) {
	case *entity.Service:
		return e.Name
	case *entity.Route:
		return e.Name
	case *entity.Upstream:
		return e.Name
	case *entity.SNI:
		return e.Name
	case *entity.Consumer:
		return e.Username
	}
	return ""
}

func setRef(e entity.Entity, field, id string) {
	r := &entity.Ref{ID: id}
	switch e := e.(type) {
	case *entity.Service:
		e.ClientCertificate = r
	case *entity.Route:
		e.Service = r
	case *entity.Plugin:
		switch field {
		case "service":
			e.Service = r
		case "route":
			e.Route = r
		case "consumer":
			e.Consumer = r
		}
	case *entity.Target:
		e.Upstream = r
	case *entity.SNI:
		e.Certificate = r
	case *entity.KeyAuthCredential:
		e.Consumer = r
	case *entity.BasicAuthCredential:
		e.Consumer = r
	case *entity.ACLGroup:
		e.Consumer = r
	}
}

// normalize fills defaults, checks fields and hashes secrets of one entity.
func normalize(it *item, plugins *plugin.Registry, probs *problems) {
	unknownPlugin := false
	if p, ok := it.e.(*entity.Plugin); ok && p.Name != "" {
		known := false
		if plugins != nil {
			_, known = plugins.Lookup(p.Name)
		}
		if !known {
			unknownPlugin = true
			probs.add(it.at.key("name"), "plugin '"+p.Name+"' is "+msgUnsupported)
		}
	}
	fe := validate.Normalize(it.e, plugins)
	if unknownPlugin {
		// Said above, in the words of a file rather than of Kong's
		// configuration property.
		delete(fe, "name")
	}
	for field := range it.badRefs {
		// A reference that names nothing is unset: said above.
		delete(fe, field)
	}
	if len(fe) > 0 {
		probs.addFields(it.at, fe)
		return
	}
	if unknownPlugin {
		return
	}
	if _, err := validate.HashSecrets(it.e); err != nil {
		probs.add(it.at, err.Error())
	}
}

// checkUnique reports entities that share a unique key or an id with an
// earlier one, as Kong does: at the later entity.
func checkUnique(items []*item, probs *problems) {
	seen := map[entity.Kind]map[string]bool{}
	for _, it := range items {
		k := it.e.Kind()
		if seen[k] == nil {
			seen[k] = map[string]bool{}
		}
		keys := it.e.UniqueKeys()
		fields := make([]string, 0, len(keys))
		for f := range keys {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		dup := false
		for _, f := range fields {
			id := f + "\x00" + keys[f]
			if seen[k][id] {
				probs.add(it.at, uniqueMessage(it.e, f, keys[f]))
				dup = true
			}
			seen[k][id] = true
		}
		id := "id\x00" + it.e.GetMeta().ID
		if seen[k][id] && !dup {
			probs.add(it.at, fmt.Sprintf("uniqueness violation: '%s' entity with primary key set to '%s' already declared", k, it.e.GetMeta().ID))
		}
		seen[k][id] = true
	}
}

// uniqueMessage words a unique key violation as Kong does, for the
// composite keys naming the part that is the entity's own.
func uniqueMessage(e entity.Entity, field, val string) string {
	switch e := e.(type) {
	case *entity.Plugin:
		if field == "scope" {
			return fmt.Sprintf("uniqueness violation: '%s' entity with name set to '%s' already declared for the same route, service and consumer", e.Kind(), e.Name)
		}
	case *entity.KeyAuthCredential:
		// Never the key, nor its hash.
		return fmt.Sprintf("uniqueness violation: '%s' entity with key set to '%s…' already declared", e.Kind(), e.KeyPrefix)
	case *entity.Target, *entity.ACLGroup:
		// Unique per upstream, per consumer: "<parent id>|<value>".
		if _, own, ok := strings.Cut(val, "|"); ok {
			val = own
		}
	}
	return fmt.Sprintf("uniqueness violation: '%s' entity with %s set to '%s' already declared", e.Kind(), field, val)
}
