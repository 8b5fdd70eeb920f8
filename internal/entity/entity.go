package entity

import (
	"encoding/json"
	"fmt"
)

// Kind names a collection of entities; it is the path segment the Admin API
// uses for it (as in Kong: /services, /routes, /key-auths under consumers is
// keyauth_credentials in declarative config).
type Kind string

// The kinds of entity Tollgate stores.
const (
	KindWorkspace   Kind = "workspaces"
	KindService     Kind = "services"
	KindRoute       Kind = "routes"
	KindConsumer    Kind = "consumers"
	KindPlugin      Kind = "plugins"
	KindUpstream    Kind = "upstreams"
	KindTarget      Kind = "targets"
	KindKeyAuth     Kind = "keyauth_credentials"
	KindBasicAuth   Kind = "basicauth_credentials"
	KindACL         Kind = "acls"
	KindCertificate Kind = "certificates"
	KindSNI         Kind = "snis"
	// KindAnalyticsToken is not Kong's: the tokens with which API
	// providers and their consumers read the analytics service.
	KindAnalyticsToken Kind = "analytics_tokens"
)

// Kinds lists every kind in dependency order: an entity only references
// entities of kinds that come before its own. Importers create in this order
// and delete in reverse.
var Kinds = []Kind{
	KindWorkspace, KindCertificate, KindSNI, KindService, KindRoute, KindConsumer,
	KindUpstream, KindTarget, KindKeyAuth, KindBasicAuth, KindACL, KindAnalyticsToken,
	KindPlugin,
}

// DefaultWorkspace is the workspace of every entity whose workspace is not named.
const DefaultWorkspace = "default"

// Meta is what every entity carries.
type Meta struct {
	ID        string   `json:"id"`
	CreatedAt int64    `json:"created_at"`
	UpdatedAt int64    `json:"updated_at"`
	Tags      []string `json:"tags"`
	// Workspace is the name of the workspace the entity belongs to. Stores
	// keep it beside the entity and set it on every entity they return;
	// workspaces themselves have Workspace "".
	Workspace string `json:"-"`
}

// Entity is implemented by every entity type.
type Entity interface {
	Kind() Kind
	GetMeta() *Meta
	// UniqueKeys lists the values that must be unique among entities of the
	// same kind in the same workspace, by field name (e.g. "name"). Empty values
	// are left out. Composite keys join their parts with "|".
	UniqueKeys() map[string]string
	// Refs lists the entities this one references, by kind, e.g. a route's
	// service. Absent references are left out.
	Refs() map[Kind]string
}

// Ref is a reference to another entity, shaped as Kong shapes it: {"id": "…"}.
type Ref struct {
	ID string `json:"id"`
}

// RefID returns r's id, or "" for a nil reference.
func RefID(r *Ref) string {
	if r == nil {
		return ""
	}
	return r.ID
}

// New returns a new, zero entity of kind k.
func New(k Kind) (Entity, error) {
	switch k {
	case KindWorkspace:
		return &Workspace{}, nil
	case KindService:
		return &Service{}, nil
	case KindRoute:
		return &Route{}, nil
	case KindConsumer:
		return &Consumer{}, nil
	case KindPlugin:
		return &Plugin{}, nil
	case KindUpstream:
		return &Upstream{}, nil
	case KindTarget:
		return &Target{}, nil
	case KindKeyAuth:
		return &KeyAuthCredential{}, nil
	case KindBasicAuth:
		return &BasicAuthCredential{}, nil
	case KindACL:
		return &ACLGroup{}, nil
	case KindCertificate:
		return &Certificate{}, nil
	case KindSNI:
		return &SNI{}, nil
	case KindAnalyticsToken:
		return &AnalyticsToken{}, nil
	}
	return nil, fmt.Errorf("unknown entity kind %q", k)
}

// Decode decodes the JSON form of an entity of kind k.
func Decode(k Kind, data []byte) (Entity, error) {
	e, err := New(k)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("decode %s: %w", k, err)
	}
	return e, nil
}

// NameField is the field by which entities of kind k can be addressed besides
// their id ("name", or "username" for consumers); "" when there is none.
func NameField(k Kind) string {
	switch k {
	case KindWorkspace, KindService, KindRoute, KindUpstream, KindSNI, KindAnalyticsToken:
		return "name"
	case KindConsumer:
		return "username"
	case KindKeyAuth:
		return "key"
	case KindBasicAuth:
		return "username"
	}
	return ""
}

func nonEmpty(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}
