package admin

import (
	"github.com/tollgate/tollgate/internal/entity"
)

// collection is a top-level collection of the API.
type collection struct {
	path string // path segment, e.g. "key-auths"
	kind entity.Kind
}

// collections lists the top-level collections. Targets have none: Kong
// disables /targets and serves them under their upstream only.
func collections() []collection {
	return []collection{
		{"services", entity.KindService},
		{"routes", entity.KindRoute},
		{"consumers", entity.KindConsumer},
		{"plugins", entity.KindPlugin},
		{"upstreams", entity.KindUpstream},
		{"certificates", entity.KindCertificate},
		{"snis", entity.KindSNI},
		{"workspaces", entity.KindWorkspace},
		{"key-auths", entity.KindKeyAuth},
		{"basic-auths", entity.KindBasicAuth},
		{"acls", entity.KindACL},
		{"analytics-tokens", entity.KindAnalyticsToken},
	}
}

// nested is a collection served under a parent entity, e.g.
// /consumers/{consumer}/key-auth. Entities created there reference the
// parent through field.
type nested struct {
	parent entity.Kind
	seg    string
	child  entity.Kind
	field  string
}

func nestedCollections() []nested {
	return []nested{
		{entity.KindService, "routes", entity.KindRoute, "service"},
		{entity.KindService, "plugins", entity.KindPlugin, "service"},
		{entity.KindRoute, "plugins", entity.KindPlugin, "route"},
		{entity.KindConsumer, "plugins", entity.KindPlugin, "consumer"},
		{entity.KindConsumer, "key-auth", entity.KindKeyAuth, "consumer"},
		{entity.KindConsumer, "basic-auth", entity.KindBasicAuth, "consumer"},
		{entity.KindConsumer, "acls", entity.KindACL, "consumer"},
		{entity.KindConsumer, "analytics-tokens", entity.KindAnalyticsToken, "consumer"},
		{entity.KindUpstream, "targets", entity.KindTarget, "upstream"},
		{entity.KindCertificate, "snis", entity.KindSNI, "certificate"},
	}
}

// adminPath is the top-level path segment of a kind.
func adminPath(k entity.Kind) string {
	switch k {
	case entity.KindKeyAuth:
		return "key-auths"
	case entity.KindBasicAuth:
		return "basic-auths"
	case entity.KindAnalyticsToken:
		return "analytics-tokens"
	}
	return string(k)
}

// foreignField is a field of an entity that references another entity.
type foreignField struct {
	field string
	kind  entity.Kind
}

// foreignFields lists the references of a kind, in the order their errors
// are reported.
func foreignFields(k entity.Kind) []foreignField {
	switch k {
	case entity.KindService:
		return []foreignField{{"client_certificate", entity.KindCertificate}}
	case entity.KindRoute:
		return []foreignField{{"service", entity.KindService}}
	case entity.KindPlugin:
		return []foreignField{{"service", entity.KindService}, {"route", entity.KindRoute}, {"consumer", entity.KindConsumer}}
	case entity.KindTarget:
		return []foreignField{{"upstream", entity.KindUpstream}}
	case entity.KindKeyAuth, entity.KindBasicAuth, entity.KindACL, entity.KindAnalyticsToken:
		return []foreignField{{"consumer", entity.KindConsumer}}
	case entity.KindSNI:
		return []foreignField{{"certificate", entity.KindCertificate}}
	}
	return nil
}

// refField returns the reference held in field of e (nil when absent).
func refField(e entity.Entity, field string) *entity.Ref {
	switch e := e.(type) {
	case *entity.Service:
		if field == "client_certificate" {
			return e.ClientCertificate
		}
	case *entity.Route:
		if field == "service" {
			return e.Service
		}
	case *entity.Plugin:
		switch field {
		case "service":
			return e.Service
		case "route":
			return e.Route
		case "consumer":
			return e.Consumer
		}
	case *entity.Target:
		if field == "upstream" {
			return e.Upstream
		}
	case *entity.KeyAuthCredential:
		if field == "consumer" {
			return e.Consumer
		}
	case *entity.BasicAuthCredential:
		if field == "consumer" {
			return e.Consumer
		}
	case *entity.ACLGroup:
		if field == "consumer" {
			return e.Consumer
		}
	case *entity.SNI:
		if field == "certificate" {
			return e.Certificate
		}
	case *entity.AnalyticsToken:
		if field == "consumer" {
			return e.Consumer
		}
	}
	return nil
}

// endpointKey is the field by which a reference can name an entity instead
// of by id ({"service": {"name": "x"}}), Kong's schema endpoint_key.
func endpointKey(k entity.Kind) string {
	switch k {
	case entity.KindService, entity.KindRoute, entity.KindUpstream, entity.KindWorkspace:
		return "name"
	case entity.KindConsumer:
		return "username"
	}
	return ""
}
