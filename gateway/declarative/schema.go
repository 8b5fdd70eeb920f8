package declarative

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/tollgate/tollgate/internal/entity"
)

// msgUnsupported is how a Kong feature Tollgate lacks is refused.
const msgUnsupported = "not supported by tollgate"

// collection is a list of entities: a top-level key of the file, or a key
// nesting entities in another one.
type collection struct {
	key  string
	kind entity.Kind
}

// topLevel lists the collections a file may hold, in the order Tollgate
// writes them.
func topLevel() []collection {
	return []collection{
		{"services", entity.KindService},
		{"routes", entity.KindRoute},
		{"consumers", entity.KindConsumer},
		{"plugins", entity.KindPlugin},
		{"upstreams", entity.KindUpstream},
		{"targets", entity.KindTarget},
		{"certificates", entity.KindCertificate},
		{"snis", entity.KindSNI},
		{"keyauth_credentials", entity.KindKeyAuth},
		{"basicauth_credentials", entity.KindBasicAuth},
		{"acls", entity.KindACL},
	}
}

// unsupportedTopLevel reports Kong 3.x (and decK) top-level keys for
// features Tollgate does not have. Like every unsupported key, they are
// accepted when empty, as Kong's own exports write them.
func unsupportedTopLevel(key string) bool {
	switch key {
	case "vaults", "ca_certificates", "consumer_groups", "consumer_group_consumers",
		"consumer_group_plugins", "jwt_secrets", "oauth2_credentials",
		"oauth2_authorization_codes", "oauth2_tokens", "hmacauth_credentials",
		"mtls_auth_credentials", "key_sets", "keys", "filter_chains", "workspaces",
		"parameters", "partials", "custom_plugins", "_plugin_configs":
		return true
	}
	return false
}

// harmless says whether a value of an unsupported Kong field leaves the
// feature unused, so that the field can be ignored.
type harmless func(v *value) bool

// empty accepts null, "", false, 0, [] and {}: Kong's "not set".
func empty(v *value) bool { return v.isEmpty() }

// emptyOr also accepts the given string, a Kong default that means "off".
func emptyOr(s string) harmless {
	return func(v *value) bool { return v.isEmpty() || (v.kind == kindString && v.text == s) }
}

// spec is the file schema of one entity kind.
type spec struct {
	kind entity.Kind
	// typ is the file type (Service, Route, ...), whose JSON fields are
	// the accepted keys.
	typ reflect.Type
	// refs are the fields that reference other entities by name or id.
	refs map[string]entity.Kind
	// children are the nested collections.
	children []collection
	// unsupported are Kong fields Tollgate lacks, by dotted path within
	// the entity ("healthchecks.active.headers"), with the values that
	// leave them unused.
	unsupported map[string]harmless
}

// specFor returns the file schema of kind k. The lists of unsupported
// fields follow Kong 3.x's entity schemas (kong/db/schema/entities/*.lua
// and the plugins' daos.lua).
func specFor(k entity.Kind) *spec {
	common := map[string]harmless{
		// Kong's own annotations, allowed on every entity record.
		"_comment": alwaysHarmless,
		"_ignore":  alwaysHarmless,
		// Kong's workspace id, present in some exports: entities go to the
		// workspace the file is applied to.
		"ws_id": alwaysHarmless,
	}
	s := &spec{kind: k, unsupported: common}
	add := func(m map[string]harmless) {
		for f, h := range m {
			s.unsupported[f] = h
		}
	}
	switch k {
	case entity.KindService:
		s.typ = reflect.TypeOf(Service{})
		s.refs = map[string]entity.Kind{"client_certificate": entity.KindCertificate}
		s.children = []collection{{"routes", entity.KindRoute}, {"plugins", entity.KindPlugin}}
		add(map[string]harmless{
			"tls_verify_depth": empty,
			"ca_certificates":  empty,
			"filter_chains":    empty,
		})
	case entity.KindRoute:
		s.typ = reflect.TypeOf(Route{})
		s.refs = map[string]entity.Kind{"service": entity.KindService}
		s.children = []collection{{"plugins", entity.KindPlugin}}
		add(map[string]harmless{
			// Stream routing (tcp, tls, udp).
			"sources":      empty,
			"destinations": empty,
			// The expressions router flavor.
			"expression":    empty,
			"priority":      empty,
			"filter_chains": empty,
		})
	case entity.KindConsumer:
		s.typ = reflect.TypeOf(Consumer{})
		s.children = []collection{
			{"plugins", entity.KindPlugin},
			{"keyauth_credentials", entity.KindKeyAuth},
			{"basicauth_credentials", entity.KindBasicAuth},
			{"acls", entity.KindACL},
		}
		add(map[string]harmless{
			"jwt_secrets":           empty,
			"hmacauth_credentials":  empty,
			"oauth2_credentials":    empty,
			"mtls_auth_credentials": empty,
			// decK's consumer-group membership.
			"groups": empty,
		})
	case entity.KindPlugin:
		s.typ = reflect.TypeOf(Plugin{})
		s.refs = map[string]entity.Kind{
			"service":  entity.KindService,
			"route":    entity.KindRoute,
			"consumer": entity.KindConsumer,
		}
		add(map[string]harmless{
			"consumer_group": empty,
			// Kong Enterprise's dynamic plugin ordering.
			"ordering": empty,
			// Kong 2.x hybrid mode; "first" was its default.
			"run_on": emptyOr("first"),
			// decK's shared plugin configurations.
			"_config": empty,
		})
	case entity.KindUpstream:
		s.typ = reflect.TypeOf(Upstream{})
		s.children = []collection{{"targets", entity.KindTarget}}
		add(map[string]harmless{
			"hash_on_query_arg":             empty,
			"hash_fallback_query_arg":       empty,
			"hash_on_uri_capture":           empty,
			"hash_fallback_uri_capture":     empty,
			"client_certificate":            empty,
			"use_srv_name":                  empty,
			"sticky_sessions_cookie":        empty,
			"sticky_sessions_cookie_path":   emptyOr("/"),
			"healthchecks.active.headers":   empty,
			"healthchecks.active.https_sni": empty,
		})
	case entity.KindTarget:
		s.typ = reflect.TypeOf(Target{})
		s.refs = map[string]entity.Kind{"upstream": entity.KindUpstream}
	case entity.KindCertificate:
		s.typ = reflect.TypeOf(Certificate{})
		s.children = []collection{{"snis", entity.KindSNI}, {"services", entity.KindService}}
		add(map[string]harmless{
			// A second certificate and key of another key type.
			"cert_alt": empty,
			"key_alt":  empty,
		})
	case entity.KindSNI:
		s.typ = reflect.TypeOf(SNI{})
		s.refs = map[string]entity.Kind{"certificate": entity.KindCertificate}
	case entity.KindKeyAuth:
		s.typ = reflect.TypeOf(KeyAuthCredential{})
		s.refs = map[string]entity.Kind{"consumer": entity.KindConsumer}
	case entity.KindBasicAuth:
		s.typ = reflect.TypeOf(BasicAuthCredential{})
		s.refs = map[string]entity.Kind{"consumer": entity.KindConsumer}
	case entity.KindACL:
		s.typ = reflect.TypeOf(ACLGroup{})
		s.refs = map[string]entity.Kind{"consumer": entity.KindConsumer}
	default:
		return nil
	}
	return s
}

func alwaysHarmless(*value) bool { return true }

// parentField returns the field of entities of kind child that references
// an entity of kind parent: what nesting the child in the parent sets.
func (s *spec) parentField(parent entity.Kind) string {
	for f, k := range s.refs {
		if k == parent {
			return f
		}
	}
	return ""
}

// jsonField is a field of a Go struct as encoding/json sees it.
type jsonField struct {
	typ   reflect.Type
	index []int
}

// jsonFields lists the JSON fields of struct type t with encoding/json's
// rules for embedded structs: a field at a shallower depth hides deeper
// ones of the same name.
func jsonFields(t reflect.Type) map[string]jsonField {
	out := map[string]jsonField{}
	depthOf := map[string]int{}
	var walk func(t reflect.Type, index []int, depth int)
	walk = func(t reflect.Type, index []int, depth int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			idx := append(append([]int(nil), index...), i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx, depth+1)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if d, ok := depthOf[name]; ok && d <= depth {
				continue
			}
			depthOf[name] = depth
			out[name] = jsonField{typ: f.Type, index: idx}
		}
	}
	walk(t, nil, 0)
	return out
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

// recordType returns the struct type of a field that is a nested record
// (upstream healthchecks), whose keys are checked too; nil for other fields.
func recordType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == rawMessageType {
		return nil
	}
	return t
}
