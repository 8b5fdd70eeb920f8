package validate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// Messages shared by several kinds, worded as Kong's schema library words
// them (kong/db/schema/init.lua, validation_errors).
const (
	msgRequired = "required field missing"
	// entityField is where Kong reports checks that involve several fields.
	entityField = "@entity"
)

// maxTimeout is Kong's upper bound for timeouts (typedefs.timeout).
const maxTimeout = math.MaxInt32 - 1

// Normalize fills Kong 3.x defaults in place and checks every field of e,
// returning all problems (nil when valid). plugins validates plugin names and
// configs (Registry.Validate, whose normalized config replaces Plugin.Config;
// its field errors go under "config"). It does not check that referenced
// entities exist (callers do) and does not touch Meta.
func Normalize(e entity.Entity, plugins *plugin.Registry) entity.FieldErrors {
	errs := entity.FieldErrors{}
	if e == nil {
		errs.Add(entityField, "no entity")
		return errs
	}
	checkTags(e.GetMeta().Tags, errs)
	switch e := e.(type) {
	case *entity.Workspace:
		normalizeWorkspace(e, errs)
	case *entity.Service:
		normalizeService(e, errs)
	case *entity.Route:
		normalizeRoute(e, errs)
	case *entity.Consumer:
		normalizeConsumer(e, errs)
	case *entity.Plugin:
		normalizePlugin(e, plugins, errs)
	case *entity.Upstream:
		normalizeUpstream(e, errs)
	case *entity.Target:
		normalizeTarget(e, errs)
	case *entity.KeyAuthCredential:
		normalizeKeyAuth(e, errs)
	case *entity.BasicAuthCredential:
		normalizeBasicAuth(e, errs)
	case *entity.ACLGroup:
		normalizeACL(e, errs)
	case *entity.Certificate:
		normalizeCertificate(e, errs)
	case *entity.SNI:
		normalizeSNI(e, errs)
	case *entity.AnalyticsToken:
		normalizeAnalyticsToken(e, errs)
	default:
		errs.Add(entityField, fmt.Sprintf("unknown entity kind %q", e.Kind()))
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// between reports Kong's range error for v outside [lo, hi].
func between(errs entity.FieldErrors, field string, v, lo, hi int) {
	if v < lo || v > hi {
		errs.Add(field, "value should be between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi))
	}
}

func betweenFloat(errs entity.FieldErrors, field string, v, lo, hi float64) {
	if math.IsNaN(v) || v < lo || v > hi {
		errs.Add(field, "value should be between "+fmtNum(lo)+" and "+fmtNum(hi))
	}
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// oneOf reports Kong's one_of error when v is not among allowed.
func oneOf(errs entity.FieldErrors, field, v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	errs.Add(field, "expected one of: "+strings.Join(allowed, ", "))
	return false
}

// requireRef checks a mandatory foreign key.
func requireRef(errs entity.FieldErrors, field string, r *entity.Ref) {
	if r == nil {
		errs.Add(field, msgRequired)
		return
	}
	checkRef(errs, field, r)
}

// checkRef checks an optional foreign key: when present it must carry an id.
func checkRef(errs entity.FieldErrors, field string, r *entity.Ref) {
	if r != nil && r.ID == "" {
		errs.Add(field+".id", msgRequired)
	}
}

// checkName applies Kong's typedefs.utf8_name to names of services, routes,
// plugin instances: ASCII letters, digits and ".-_~", or any non-ASCII
// UTF-8 character.
func checkName(errs entity.FieldErrors, field, name string) {
	if name == "" {
		return
	}
	if !utf8.ValidString(name) {
		errs.Add(field, "invalid utf-8")
		return
	}
	for _, r := range name {
		if r < utf8.RuneSelf && !isUnreserved(byte(r)) {
			errs.Add(field, "invalid value '"+name+"': the only accepted ascii characters are alphanumerics or ., -, _, and ~")
			return
		}
	}
}

// isUnreserved reports RFC 3986 unreserved characters (ALPHA DIGIT - . _ ~).
func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// checkTags applies Kong's typedefs.tag: printable ASCII other than ',' and
// '/', or valid UTF-8.
func checkTags(tags []string, errs entity.FieldErrors) {
	for _, t := range tags {
		if t == "" {
			errs.Add("tags", "length must be at least 1")
			return
		}
		bad := !utf8.ValidString(t)
		for _, r := range t {
			if r < utf8.RuneSelf && (r < 0x21 || r > 0x7e || r == ',' || r == '/') {
				bad = true
			}
		}
		if bad {
			errs.Add("tags", "invalid tag '"+t+"': expected printable ascii (except `,` and `/`) or valid utf-8 sequences")
			return
		}
	}
}

func boolPtr(b bool) *bool { return &b }

// dedupe removes repeated values keeping the first occurrence: Kong's "set"
// fields (protocols, methods) behave so.
func dedupe(s []string) []string {
	if len(s) < 2 {
		return s
	}
	out := s[:0:0]
	seen := make(map[string]bool, len(s))
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
