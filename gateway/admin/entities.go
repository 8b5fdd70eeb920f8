package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/julienschmidt/httprouter"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
)

// Page sizes, as Kong's endpoints.lua sets them.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// scope says where an endpoint's entities live: a top-level collection, or
// a collection nested under a parent entity.
type scope struct {
	kind        entity.Kind
	parentKind  entity.Kind // "" for top-level collections
	parentField string      // the child's field that references the parent
	seg         string
}

// resolvedParent is the parent entity of a nested request.
type resolvedParent struct {
	id string
}

// writeMode distinguishes how a write combines the input with what is
// stored: POST creates, PUT replaces (or creates), PATCH merges.
type writeMode int

const (
	modeCreate writeMode = iota
	modeReplace
	modeMerge
)

// wsOf is the store workspace of kind: workspaces themselves live in none.
func wsOf(kind entity.Kind, ws string) string {
	if kind == entity.KindWorkspace {
		return ""
	}
	return ws
}

// find looks an entity up by id or by the key its endpoints accept in
// place of the id (Kong's endpoint_key): a name, a username, a key-auth
// key, an ACL group or a target's address under their parent, a plugin's
// instance name, or one of a certificate's SNIs. It returns an error
// matching store.ErrNotFound when there is none.
func (s *server) find(ctx context.Context, ws string, kind entity.Kind, key, parentID string) (entity.Entity, error) {
	ws = wsOf(kind, ws)
	if kind == entity.KindWorkspace {
		if err := s.ensureDefault(ctx); err != nil {
			return nil, err
		}
	}
	if isUUID(key) {
		return s.store.Get(ctx, kind, ws, key)
	}
	if key == "" {
		return nil, store.ErrNotFound
	}
	switch kind {
	case entity.KindKeyAuth:
		return s.store.GetByKey(ctx, kind, ws, "key", validate.HashKey(key))
	case entity.KindACL:
		if parentID == "" {
			return nil, store.ErrNotFound
		}
		return s.store.GetByKey(ctx, kind, ws, "group", parentID+"|"+key)
	case entity.KindTarget:
		if parentID == "" {
			return nil, store.ErrNotFound
		}
		e, err := s.store.GetByKey(ctx, kind, ws, "target", parentID+"|"+key)
		if errors.Is(err, store.ErrNotFound) {
			// Kong stores targets with a port, 8000 when none was given.
			if _, _, perr := net.SplitHostPort(key); perr != nil {
				return s.store.GetByKey(ctx, kind, ws, "target", parentID+"|"+net.JoinHostPort(strings.Trim(key, "[]"), "8000"))
			}
		}
		return e, err
	case entity.KindPlugin:
		return s.store.GetByKey(ctx, kind, ws, "instance_name", key)
	case entity.KindCertificate:
		sni, err := s.store.GetByKey(ctx, entity.KindSNI, ws, "name", key)
		if err != nil {
			return nil, err
		}
		ref := sni.(*entity.SNI).Certificate
		if ref == nil {
			return nil, store.ErrNotFound
		}
		return s.store.Get(ctx, kind, ws, ref.ID)
	}
	nf := entity.NameField(kind)
	if nf == "" {
		return nil, store.ErrNotFound
	}
	return s.store.GetByKey(ctx, kind, ws, nf, key)
}

// findIn finds an entity of sc, checking that it belongs to the parent
// when sc is nested.
func (s *server) findIn(ctx context.Context, ws string, sc scope, par *resolvedParent, key string) (entity.Entity, error) {
	parentID := ""
	if par != nil {
		parentID = par.id
	}
	e, err := s.find(ctx, ws, sc.kind, key, parentID)
	if err != nil {
		return nil, err
	}
	if par != nil {
		if ref := refField(e, sc.parentField); ref == nil || ref.ID != par.id {
			return nil, store.ErrNotFound
		}
	}
	return e, nil
}

// parent resolves the parent of a nested request; a missing parent is 404.
func (s *server) parent(ctx context.Context, ws string, sc scope, ps httprouter.Params, param string) (*resolvedParent, error) {
	if sc.parentKind == "" {
		return nil, nil
	}
	p, err := s.find(ctx, ws, sc.parentKind, ps.ByName(param), "")
	if err != nil {
		return nil, err
	}
	return &resolvedParent{id: p.GetMeta().ID}, nil
}

// ensureDefault makes sure the default workspace has an entity in the
// store, so that it is listed and addressable like any other. Its id is
// derived from its name, so nodes that race to create it agree.
func (s *server) ensureDefault(ctx context.Context) error {
	if s.defaultReady.Load() {
		return nil
	}
	_, err := s.store.GetByKey(ctx, entity.KindWorkspace, "", "name", entity.DefaultWorkspace)
	if errors.Is(err, store.ErrNotFound) {
		now := s.now().Unix()
		ws := &entity.Workspace{Name: entity.DefaultWorkspace}
		ws.ID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("tollgate:workspace:default")).String()
		ws.CreatedAt, ws.UpdatedAt = now, now
		err = s.store.Create(ctx, ws)
		if errors.Is(err, store.ErrConflict) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("ensure default workspace: %w", err)
	}
	s.defaultReady.Store(true)
	return nil
}

func (s *server) listHandler(sc scope, parentParam string) handler {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		ctx := r.Context()
		ri := info(r)
		par, err := s.parent(ctx, ri.ws, sc, ps, parentParam)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		opts := store.ListOptions{Size: defaultPageSize, Offset: q.Get("offset")}
		if v, ok := q["size"]; ok {
			n, err := strconv.Atoi(v[0])
			if err != nil {
				return errCoded(http.StatusBadRequest, codeInvalidSize, "size must be a number", nil)
			}
			if n < 1 || n > maxPageSize {
				return errCoded(http.StatusBadRequest, codeInvalidSize,
					fmt.Sprintf("size must be an integer between 1 and %d", maxPageSize), nil)
			}
			opts.Size = n
		}
		if v := q.Get("tags"); v != "" {
			tags, anyOf, ok := parseTags(v)
			if !ok {
				return &apiError{status: http.StatusBadRequest, body: map[string]any{
					"code": codeInvalidOptions, "name": codeNames[codeInvalidOptions],
					"message": "invalid option (tags: invalid filter syntax)",
					"options": map[string]any{"tags": "invalid filter syntax"},
				}}
			}
			opts.Tags, opts.TagsAny = tags, anyOf
		}
		if par != nil {
			opts.RefKind, opts.RefID = sc.parentKind, par.id
		}
		if sc.kind == entity.KindWorkspace {
			if err := s.ensureDefault(ctx); err != nil {
				return err
			}
		}
		if sc.kind == entity.KindConsumer && q.Has("custom_id") {
			// Kong's consumers endpoint filters by custom_id.
			return s.listOne(w, r, ri.ws, q.Get("custom_id"))
		}
		page, err := s.store.List(ctx, sc.kind, wsOf(sc.kind, ri.ws), opts)
		if err != nil {
			if opts.Offset != "" && !errors.Is(err, store.ErrClosed) {
				return errCoded(http.StatusBadRequest, codeInvalidOffset,
					fmt.Sprintf("'%s' is not a valid offset: %v", opts.Offset, err), nil)
			}
			return fmt.Errorf("list %s: %w", sc.kind, err)
		}
		data := make([]any, 0, len(page.Entities))
		for _, e := range page.Entities {
			out, err := s.output(ctx, e)
			if err != nil {
				return err
			}
			data = append(data, out)
		}
		resp := map[string]any{"data": data, "next": nil}
		if page.Next != "" {
			next := ri.prefix + r.URL.Path + "?offset=" + url.QueryEscape(page.Next)
			if v := q.Get("tags"); v != "" {
				next += "&tags=" + url.QueryEscape(v)
			}
			if v := q.Get("size"); v != "" {
				next += "&size=" + url.QueryEscape(v)
			}
			resp["offset"] = page.Next
			resp["next"] = next
		}
		writeJSON(w, http.StatusOK, resp)
		return nil
	}
}

func (s *server) listOne(w http.ResponseWriter, r *http.Request, ws, customID string) error {
	data := []any{}
	e, err := s.store.GetByKey(r.Context(), entity.KindConsumer, ws, "custom_id", customID)
	switch {
	case err == nil:
		out, err := s.output(r.Context(), e)
		if err != nil {
			return err
		}
		data = append(data, out)
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("find consumer by custom_id: %w", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "next": nil})
	return nil
}

// parseTags reads Kong's tag filter: "a,b" (every tag) or "a/b" (any tag).
func parseTags(v string) ([]string, bool, bool) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c == 0x7f || (c > 0xf4 && c >= 0x80) {
			return nil, false, false
		}
	}
	hasAnd, hasOr := strings.Contains(v, ","), strings.Contains(v, "/")
	if hasAnd && hasOr {
		return nil, false, false
	}
	sep := ","
	if hasOr {
		sep = "/"
	}
	var tags []string
	for _, t := range strings.Split(v, sep) {
		if t == "" {
			return nil, false, false
		}
		tags = append(tags, t)
	}
	return tags, hasOr, true
}

func (s *server) getHandler(sc scope, parentParam, keyParam string) handler {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		ctx := r.Context()
		ri := info(r)
		key := ps.ByName(keyParam)
		if sc.kind == entity.KindPlugin && sc.parentKind == "" && key == "enabled" {
			// GET /plugins/enabled, Kong's list of the plugins this node
			// can run.
			writeJSON(w, http.StatusOK, map[string]any{"enabled_plugins": s.pluginNames()})
			return nil
		}
		par, err := s.parent(ctx, ri.ws, sc, ps, parentParam)
		if err != nil {
			return err
		}
		e, err := s.findIn(ctx, ri.ws, sc, par, key)
		if err != nil {
			return err
		}
		out, err := s.output(ctx, e)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

func (s *server) createHandler(sc scope, parentParam string) handler {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		ctx := r.Context()
		ri := info(r)
		par, err := s.parent(ctx, ri.ws, sc, ps, parentParam)
		if err != nil {
			return err
		}
		in, isForm, err := readInput(w, r)
		if err != nil {
			return err
		}
		e, err := s.prepare(ctx, ri.ws, sc, par, nil, in, isForm)
		if err != nil {
			return err
		}
		plain, err := s.persist(ctx, ri.ws, e, nil, in, modeCreate)
		if err != nil {
			return err
		}
		return s.writeEntity(w, r, http.StatusCreated, e, plain)
	}
}

func (s *server) upsertHandler(sc scope, parentParam, keyParam string) handler {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		ctx := r.Context()
		ri := info(r)
		par, err := s.parent(ctx, ri.ws, sc, ps, parentParam)
		if err != nil {
			return err
		}
		key := ps.ByName(keyParam)
		old, err := s.findIn(ctx, ri.ws, sc, par, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		in, isForm, err := readInput(w, r)
		if err != nil {
			return err
		}
		// The URL names the entity: its id or endpoint key win over the
		// body's, as in Kong's upsert_by_<key>.
		if isUUID(key) {
			in["id"] = key
		} else if field := putKeyField(sc.kind); field != "" {
			if field == "snis" {
				in["snis"] = appendUnique(in["snis"], key)
			} else {
				in[field] = key
			}
		} else {
			return errNotFound
		}
		if old != nil {
			in["id"] = old.GetMeta().ID
		}
		e, err := s.prepare(ctx, ri.ws, sc, par, nil, in, isForm)
		if err != nil {
			return err
		}
		plain, err := s.persist(ctx, ri.ws, e, old, in, modeReplace)
		if err != nil {
			return err
		}
		return s.writeEntity(w, r, http.StatusOK, e, plain)
	}
}

// putKeyField is the field a PUT by key sets from the URL.
func putKeyField(k entity.Kind) string {
	switch k {
	case entity.KindKeyAuth:
		return "key"
	case entity.KindACL:
		return "group"
	case entity.KindTarget:
		return "target"
	case entity.KindPlugin:
		return "instance_name"
	case entity.KindCertificate:
		return "snis"
	}
	return entity.NameField(k)
}

func appendUnique(v any, s string) []any {
	arr, _ := v.([]any)
	for _, e := range arr {
		if e == s {
			return arr
		}
	}
	return append(arr, s)
}

func (s *server) patchHandler(sc scope, parentParam, keyParam string) handler {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		ctx := r.Context()
		ri := info(r)
		par, err := s.parent(ctx, ri.ws, sc, ps, parentParam)
		if err != nil {
			return err
		}
		old, err := s.findIn(ctx, ri.ws, sc, par, ps.ByName(keyParam))
		if err != nil {
			return err
		}
		return s.patch(w, r, sc, par, old)
	}
}

func (s *server) patch(w http.ResponseWriter, r *http.Request, sc scope, par *resolvedParent, old entity.Entity) error {
	ctx := r.Context()
	ri := info(r)
	in, isForm, err := readInput(w, r)
	if err != nil {
		return err
	}
	e, err := s.prepare(ctx, ri.ws, sc, par, old, in, isForm)
	if err != nil {
		return err
	}
	plain, err := s.persist(ctx, ri.ws, e, old, in, modeMerge)
	if err != nil {
		return err
	}
	return s.writeEntity(w, r, http.StatusOK, e, plain)
}

func (s *server) deleteHandler(sc scope, parentParam, keyParam string) handler {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		ctx := r.Context()
		ri := info(r)
		par, err := s.parent(ctx, ri.ws, sc, ps, parentParam)
		if err != nil {
			return err
		}
		e, err := s.findIn(ctx, ri.ws, sc, par, ps.ByName(keyParam))
		if errors.Is(err, store.ErrNotFound) && par == nil {
			// Deleting what does not exist succeeds, as in Kong.
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.remove(ctx, ri.ws, e); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (s *server) foreignGetHandler(kind entity.Kind, ff foreignField) handler {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		target, err := s.foreign(r, kind, ff, ps)
		if err != nil {
			return err
		}
		out, err := s.output(r.Context(), target)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

func (s *server) foreignPatchHandler(kind entity.Kind, ff foreignField) handler {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		target, err := s.foreign(r, kind, ff, ps)
		if err != nil {
			return err
		}
		return s.patch(w, r, scope{kind: ff.kind}, nil, target)
	}
}

// foreign returns the entity that field ff of the addressed entity
// references (GET /routes/{route}/service).
func (s *server) foreign(r *http.Request, kind entity.Kind, ff foreignField, ps httprouter.Params) (entity.Entity, error) {
	ctx := r.Context()
	ws := info(r).ws
	e, err := s.find(ctx, ws, kind, ps.ByName("id"), "")
	if err != nil {
		return nil, err
	}
	ref := refField(e, ff.field)
	if ref == nil || ref.ID == "" {
		return nil, store.ErrNotFound
	}
	return s.store.Get(ctx, ff.kind, ws, ref.ID)
}

// writeEntity writes e as a response: redacted, with the SNIs of a
// certificate, and with a key-auth key or analytics token in plaintext when
// this request set it (plain), the one time it is ever shown.
func (s *server) writeEntity(w http.ResponseWriter, r *http.Request, status int, e entity.Entity, plain string) error {
	out, err := s.output(r.Context(), e)
	if err != nil {
		return err
	}
	if plain != "" {
		switch c := out.(type) {
		case *entity.KeyAuthCredential:
			c.Key = plain
		case *entity.AnalyticsToken:
			c.Token = plain
		}
	}
	writeJSON(w, status, out)
	return nil
}

// output prepares a stored entity for a response.
func (s *server) output(ctx context.Context, e entity.Entity) (entity.Entity, error) {
	if c, ok := e.(*entity.Certificate); ok {
		snis, err := s.listAll(ctx, entity.KindSNI, c.Workspace, entity.KindCertificate, c.ID)
		if err != nil {
			return nil, err
		}
		c.SNIs = make([]string, 0, len(snis))
		for _, sn := range snis {
			c.SNIs = append(c.SNIs, sn.(*entity.SNI).Name)
		}
		sort.Strings(c.SNIs)
	}
	validate.Redact(e)
	return e, nil
}

// listAll returns every entity of kind in ws referencing (refKind, refID).
func (s *server) listAll(ctx context.Context, kind entity.Kind, ws string, refKind entity.Kind, refID string) ([]entity.Entity, error) {
	var out []entity.Entity
	opts := store.ListOptions{RefKind: refKind, RefID: refID, Size: maxPageSize}
	for {
		page, err := s.store.List(ctx, kind, ws, opts)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", kind, err)
		}
		out = append(out, page.Entities...)
		if page.Next == "" {
			return out, nil
		}
		opts.Offset = page.Next
	}
}

// defaults returns a new entity of kind with Kong's defaults filled in, the
// base that POST and PUT decode their input over (see package validate on
// why zero values need it).
func (s *server) defaults(kind entity.Kind) (entity.Entity, error) {
	e, err := entity.New(kind)
	if err != nil {
		return nil, err
	}
	_ = validate.Normalize(e, s.plugins) // only to fill defaults
	if p, ok := e.(*entity.Plugin); ok {
		// The config defaults depend on the plugin, known only from input.
		p.Config = nil
	}
	return e, nil
}

// clone deep-copies e through its JSON form.
func clone(e entity.Entity) (entity.Entity, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", e.Kind(), err)
	}
	c, err := entity.Decode(e.Kind(), b)
	if err != nil {
		return nil, err
	}
	c.GetMeta().Workspace = e.GetMeta().Workspace
	return c, nil
}

// prepare builds the entity a write stores: base (the stored entity for
// PATCH, Kong's defaults otherwise) with the input decoded over it, then
// normalized. Every bad field is reported at once.
func (s *server) prepare(ctx context.Context, ws string, sc scope, par *resolvedParent, base entity.Entity, in map[string]any, isForm bool) (entity.Entity, error) {
	if par != nil {
		// Creating under a parent sets the reference; a PATCH there may
		// still move the entity elsewhere, as in Kong.
		if _, given := in[sc.parentField]; !given || base == nil {
			in[sc.parentField] = map[string]any{"id": par.id}
		}
	}
	var (
		e   entity.Entity
		err error
	)
	if base != nil {
		e, err = clone(base)
	} else {
		e, err = s.defaults(sc.kind)
	}
	if err != nil {
		return nil, err
	}
	if isForm {
		inferForm(in, reflect.TypeOf(e), s.pluginConfigType(e, in))
	}
	if err := s.resolveRefs(ctx, ws, sc.kind, in); err != nil {
		return nil, err
	}
	errs := entity.FieldErrors{}
	decodeInto(reflect.ValueOf(e).Elem(), in, "", errs)
	if id := e.GetMeta().ID; id != "" && !isUUID(id) {
		errs.Add("id", msgUUID)
	}
	mergeMissing(errs, validate.Normalize(e, s.plugins))
	s.extraChecks(e, base, errs)
	if len(errs) > 0 {
		return nil, errSchema(errs)
	}
	return e, nil
}

// mergeMissing adds the errors of src that dst does not have: a type error
// found while decoding says more than what validation made of the default
// left in its place.
func mergeMissing(dst, src entity.FieldErrors) {
	for k, v := range src {
		prev, ok := dst[k]
		if !ok {
			dst[k] = v
			continue
		}
		if ps, ok := prev.(entity.FieldErrors); ok {
			if vs, ok := v.(entity.FieldErrors); ok {
				mergeMissing(ps, vs)
			}
		}
	}
}

// extraChecks are the rules that belong to the API rather than to the
// entity: workspace names must not shadow the API's own paths, and a
// workspace keeps its name (its entities are filed under it).
func (s *server) extraChecks(e, base entity.Entity, errs entity.FieldErrors) {
	switch e := e.(type) {
	case *entity.Workspace:
		// validate reserves Kong's top-level names; this API has a few more
		// (key-auths, basic-auths, acls, endpoints).
		if _, reported := errs["name"]; !reported && topLevel[e.Name] {
			errs.Add("name", fmt.Sprintf("'%s' is a reserved name", e.Name))
		}
		if b, ok := base.(*entity.Workspace); ok && b.Name != e.Name {
			errs.Add("name", "a workspace cannot be renamed")
		}
	case *entity.Certificate:
		for _, name := range e.SNIs {
			probe := &entity.SNI{Name: name, Certificate: &entity.Ref{ID: uuid.Nil.String()}}
			if ferrs := validate.Normalize(probe, s.plugins); ferrs != nil {
				if msg, ok := ferrs["name"].(string); ok {
					errs.Add("snis", msg)
					return
				}
			}
		}
		e.SNIs = dedupe(e.SNIs)
	}
}

func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// pluginConfigType is the config type of the plugin e (or the input) names,
// for converting form values; nil when unknown.
func (s *server) pluginConfigType(e entity.Entity, in map[string]any) reflect.Type {
	p, ok := e.(*entity.Plugin)
	if !ok {
		return nil
	}
	name := p.Name
	if n, ok := in["name"].(string); ok {
		name = n
	}
	f, ok := s.plugins.Lookup(name)
	if !ok || f.NewConfig == nil {
		return nil
	}
	return reflect.TypeOf(f.NewConfig())
}

// resolveRefs turns references given by endpoint key ({"service":
// {"name": "x"}}) into references by id, as Kong resolves them.
func (s *server) resolveRefs(ctx context.Context, ws string, kind entity.Kind, in map[string]any) error {
	for _, ff := range foreignFields(kind) {
		v, ok := in[ff.field].(map[string]any)
		if !ok {
			continue
		}
		if _, hasID := v["id"]; hasID {
			continue
		}
		ek := endpointKey(ff.kind)
		name, ok := v[ek].(string)
		if ek == "" || !ok {
			continue
		}
		target, err := s.store.GetByKey(ctx, ff.kind, ws, ek, name)
		if errors.Is(err, store.ErrNotFound) {
			return errUnresolved(ff.field, ek, name, ff.kind)
		}
		if err != nil {
			return fmt.Errorf("resolve %s: %w", ff.field, err)
		}
		in[ff.field] = map[string]any{"id": target.GetMeta().ID}
	}
	return nil
}

// persist completes e's metadata, checks what needs other entities, hashes
// secrets and writes e. It returns a key-auth key or analytics token in
// plaintext when the write set one.
func (s *server) persist(ctx context.Context, ws string, e, old entity.Entity, in map[string]any, mode writeMode) (string, error) {
	now := s.now().Unix()
	m := e.GetMeta()
	m.Workspace = wsOf(e.Kind(), ws)
	if old != nil {
		om := old.GetMeta()
		m.ID, m.CreatedAt = om.ID, om.CreatedAt
	} else {
		if m.ID == "" {
			m.ID = uuid.NewString()
		}
		m.CreatedAt = now
	}
	m.UpdatedAt = now

	if err := s.checkRefs(ctx, ws, e); err != nil {
		return "", err
	}
	plain, err := s.secrets(e, old, in, mode)
	if err != nil {
		return "", err
	}
	var (
		cert     *entity.Certificate
		snis     []string
		syncSNIs bool
	)
	if c, ok := e.(*entity.Certificate); ok {
		cert, snis = c, c.SNIs
		_, given := in["snis"]
		syncSNIs = given || old == nil
		c.SNIs = nil // stored as SNI entities
		if syncSNIs {
			if err := s.checkSNIs(ctx, ws, c.ID, snis); err != nil {
				return "", err
			}
		}
	}
	if old == nil {
		err = s.store.Create(ctx, e)
	} else {
		err = s.store.Update(ctx, e)
	}
	if err != nil {
		return "", s.storeErr(e, err, plain)
	}
	if syncSNIs {
		if err := s.syncSNIs(ctx, ws, cert, snis); err != nil {
			return "", err
		}
	}
	return plain, nil
}

// checkRefs checks that every entity e references exists: Kong's foreign
// key violation otherwise.
func (s *server) checkRefs(ctx context.Context, ws string, e entity.Entity) error {
	for _, ff := range foreignFields(e.Kind()) {
		ref := refField(e, ff.field)
		if ref == nil || ref.ID == "" {
			continue
		}
		_, err := s.store.Get(ctx, ff.kind, ws, ref.ID)
		if errors.Is(err, store.ErrNotFound) {
			return errForeignKey(ff.field, ff.kind, ref.ID)
		}
		if err != nil {
			return fmt.Errorf("check %s reference: %w", ff.field, err)
		}
	}
	return nil
}

// secrets hashes the secrets a write sets. A PATCH that does not set a
// key or password keeps the stored hash; a PUT replaces the credential
// whole, so a key-auth credential without a key gets a new one, as in Kong.
// An analytics token keeps its secret through PATCH and PUT alike unless
// the input gives a token: handing a new secret to every reader of the
// analytics is never a side effect of editing a name or an expiry.
func (s *server) secrets(e, old entity.Entity, in map[string]any, mode writeMode) (string, error) {
	switch c := e.(type) {
	case *entity.AnalyticsToken:
		if o, ok := old.(*entity.AnalyticsToken); ok && in["token"] == nil {
			c.Token, c.TokenHash, c.TokenPrefix = "", o.TokenHash, o.TokenPrefix
			return "", nil
		}
		// The hash and prefix are derived here, never taken from input:
		// a client cannot install a hash whose secret skipped validation.
		c.TokenHash, c.TokenPrefix = "", ""
		plain, err := validate.HashSecrets(c)
		if err != nil {
			return "", errSchema(entity.FieldErrors{"token": err.Error()})
		}
		return plain, nil
	case *entity.KeyAuthCredential:
		if o, ok := old.(*entity.KeyAuthCredential); ok && mode == modeMerge && in["key"] == nil {
			c.Key, c.KeyHash, c.KeyPrefix = "", o.KeyHash, o.KeyPrefix
			return "", nil
		}
		plain, err := validate.HashSecrets(c)
		if err != nil {
			return "", errSchema(entity.FieldErrors{"key": err.Error()})
		}
		return plain, nil
	case *entity.BasicAuthCredential:
		if o, ok := old.(*entity.BasicAuthCredential); ok && in["password"] == nil {
			c.Password, c.PasswordHash = "", o.PasswordHash
			return "", nil
		}
		if _, err := validate.HashSecrets(c); err != nil {
			return "", errSchema(entity.FieldErrors{"password": err.Error()})
		}
	}
	return "", nil
}

// storeErr maps a store write error to Kong's response.
func (s *server) storeErr(e entity.Entity, err error, plainKey string) error {
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound
		}
		return fmt.Errorf("write %s: %w", e.Kind(), err)
	}
	return conflictErr(e, ce, plainKey)
}

// conflictErr is Kong's error for a taken key of e: 400 for an id, 409
// with the unique key's fields otherwise.
func conflictErr(e entity.Entity, ce *store.ConflictError, plainKey string) error {
	refOrNull := func(r *entity.Ref) any {
		if r == nil {
			return nil
		}
		return map[string]any{"id": r.ID}
	}
	switch {
	case ce.Field == "id":
		return errPrimaryKey(e.GetMeta().ID)
	case ce.Field == "key":
		if k, ok := e.(*entity.KeyAuthCredential); ok {
			v := plainKey
			if v == "" {
				v = k.KeyPrefix + "..."
			}
			return errUnique(map[string]any{"key": v})
		}
	case ce.Field == "token":
		if a, ok := e.(*entity.AnalyticsToken); ok {
			v := plainKey
			if v == "" {
				v = a.TokenPrefix + "..."
			}
			return errUnique(map[string]any{"token": v})
		}
	case ce.Field == "scope":
		if p, ok := e.(*entity.Plugin); ok {
			return errUnique(map[string]any{
				"name": p.Name, "service": refOrNull(p.Service),
				"route": refOrNull(p.Route), "consumer": refOrNull(p.Consumer),
			})
		}
	case ce.Field == "target":
		if t, ok := e.(*entity.Target); ok {
			return errUnique(map[string]any{"target": t.Target, "upstream": refOrNull(t.Upstream)})
		}
	case ce.Field == "group":
		if a, ok := e.(*entity.ACLGroup); ok {
			return errUnique(map[string]any{"group": a.Group, "consumer": refOrNull(a.Consumer)})
		}
	}
	return errUnique(map[string]any{ce.Field: ce.Value})
}

// checkSNIs refuses SNIs that another certificate already has, as Kong's
// certificates endpoint does.
func (s *server) checkSNIs(ctx context.Context, ws, certID string, names []string) error {
	for _, name := range names {
		e, err := s.store.GetByKey(ctx, entity.KindSNI, ws, "name", name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check sni %q: %w", name, err)
		}
		if ref := e.(*entity.SNI).Certificate; ref != nil && ref.ID != certID {
			return errSchema(entity.FieldErrors{"snis": fmt.Sprintf("%s already associated with existing certificate '%s'", name, ref.ID)})
		}
	}
	return nil
}

// syncSNIs makes the SNI entities of cert exactly names.
func (s *server) syncSNIs(ctx context.Context, ws string, cert *entity.Certificate, names []string) error {
	existing, err := s.listAll(ctx, entity.KindSNI, ws, entity.KindCertificate, cert.ID)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	for _, e := range existing {
		sn := e.(*entity.SNI)
		if want[sn.Name] {
			delete(want, sn.Name)
			continue
		}
		if err := s.store.Delete(ctx, entity.KindSNI, ws, sn.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("delete sni %q: %w", sn.Name, err)
		}
	}
	now := s.now().Unix()
	for _, n := range names {
		if !want[n] {
			continue
		}
		sn := &entity.SNI{Name: n, Certificate: &entity.Ref{ID: cert.ID}}
		validate.Normalize(sn, s.plugins)
		sn.ID, sn.CreatedAt, sn.UpdatedAt, sn.Workspace = uuid.NewString(), now, now, ws
		sn.Tags = cert.Tags
		if err := s.store.Create(ctx, sn); err != nil {
			return s.storeErr(sn, err, "")
		}
	}
	return nil
}

// remove deletes e with Kong's cascades: a service still used by routes is
// refused; plugins go with their service, route or consumer; credentials,
// ACL groups and analytics tokens with their consumer; targets with their upstream; SNIs
// with their certificate.
func (s *server) remove(ctx context.Context, ws string, e entity.Entity) error {
	id := e.GetMeta().ID
	type dep struct {
		kind     entity.Kind
		restrict bool
	}
	var deps []dep
	switch e.Kind() {
	case entity.KindService:
		deps = []dep{{entity.KindRoute, true}, {entity.KindPlugin, false}}
	case entity.KindRoute:
		deps = []dep{{entity.KindPlugin, false}}
	case entity.KindConsumer:
		deps = []dep{{entity.KindKeyAuth, false}, {entity.KindBasicAuth, false}, {entity.KindACL, false},
			{entity.KindAnalyticsToken, false}, {entity.KindPlugin, false}}
	case entity.KindUpstream:
		deps = []dep{{entity.KindTarget, false}}
	case entity.KindCertificate:
		deps = []dep{{entity.KindService, true}, {entity.KindSNI, false}}
	case entity.KindWorkspace:
		return s.removeWorkspace(ctx, e.(*entity.Workspace))
	}
	for _, d := range deps {
		if !d.restrict {
			continue
		}
		page, err := s.store.List(ctx, d.kind, ws, store.ListOptions{RefKind: e.Kind(), RefID: id, Size: 1})
		if err != nil {
			return fmt.Errorf("list %s: %w", d.kind, err)
		}
		if len(page.Entities) > 0 {
			return errReferenced(e.Kind(), d.kind)
		}
	}
	for _, d := range deps {
		if d.restrict {
			continue
		}
		children, err := s.listAll(ctx, d.kind, ws, e.Kind(), id)
		if err != nil {
			return err
		}
		for _, c := range children {
			if err := s.store.Delete(ctx, d.kind, ws, c.GetMeta().ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("delete %s %s: %w", d.kind, c.GetMeta().ID, err)
			}
		}
	}
	err := s.store.Delete(ctx, e.Kind(), wsOf(e.Kind(), ws), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete %s %s: %w", e.Kind(), id, err)
	}
	return nil
}

// removeWorkspace deletes an empty workspace other than the default one.
func (s *server) removeWorkspace(ctx context.Context, ws *entity.Workspace) error {
	if ws.Name == entity.DefaultWorkspace {
		return errMessage(http.StatusBadRequest, "Cannot delete default workspace")
	}
	for _, k := range entity.Kinds {
		if k == entity.KindWorkspace {
			continue
		}
		page, err := s.store.List(ctx, k, ws.Name, store.ListOptions{Size: 1})
		if err != nil {
			return fmt.Errorf("list %s: %w", k, err)
		}
		if len(page.Entities) > 0 {
			return errMessage(http.StatusBadRequest, "Workspace is not empty")
		}
	}
	err := s.store.Delete(ctx, entity.KindWorkspace, "", ws.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete workspace %s: %w", ws.Name, err)
	}
	return nil
}

func (s *server) pluginNames() []string {
	return s.plugins.Names()
}

// upstreamHealth is GET /upstreams/{upstream}/health: the upstream's
// targets with the health the node's balancer sees.
func (s *server) upstreamHealth(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	ctx := r.Context()
	ws := info(r).ws
	u, err := s.find(ctx, ws, entity.KindUpstream, ps.ByName("id"), "")
	if err != nil {
		return err
	}
	up := u.(*entity.Upstream)
	targets, err := s.listAll(ctx, entity.KindTarget, ws, entity.KindUpstream, up.ID)
	if err != nil {
		return err
	}
	health := map[string]string{}
	if s.cfg.Health != nil {
		for _, th := range s.cfg.Health(ws, up.Name) {
			health[th.Target] = th.Health
		}
	}
	data := make([]any, 0, len(targets))
	for _, t := range targets {
		out, err := s.output(ctx, t)
		if err != nil {
			return err
		}
		m, err := toMap(out)
		if err != nil {
			return err
		}
		h, ok := health[t.(*entity.Target).Target]
		if !ok {
			h = "HEALTHCHECKS_OFF"
		}
		m["health"] = h
		data = append(data, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"total": len(data), "node_id": s.cfg.NodeID, "data": data, "next": nil,
	})
	return nil
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}
