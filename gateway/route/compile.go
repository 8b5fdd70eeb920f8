package route

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/tollgate/tollgate/internal/entity"
)

// Errors a route can fail to compile with; each is wrapped in a *RouteError
// that names the route.
var (
	ErrNoRoute       = errors.New("nil route")
	ErrNoMatchFields = errors.New("must set at least one of 'methods', 'hosts', 'headers', 'paths' or 'snis'")
	ErrPath          = errors.New("invalid path")
	ErrHeader        = errors.New("invalid header")
	ErrHost          = errors.New("invalid host")
)

// RouteError reports a route that Compile left out of the table.
type RouteError struct {
	RouteID   string
	RouteName string
	Workspace string
	Err       error
}

func (e *RouteError) Error() string {
	who := e.RouteID
	if e.RouteName != "" {
		who = fmt.Sprintf("%s (%s)", e.RouteName, e.RouteID)
	}
	if e.Workspace != "" {
		who = e.Workspace + "/" + who
	}
	return "route " + who + ": " + e.Err.Error()
}

func (e *RouteError) Unwrap() error { return e.Err }

// maxHeaderCount caps the header count used for ordering, as Kong's
// MAX_HEADER_COUNT does (kong/router/transform.lua get_priority).
const maxHeaderCount = 255

// maxPrefixLen is the width of Kong's "max length" priority field
// (0x7FFFF, 19 bits).
const maxPrefixLen = 0x7FFFF

type pathKind uint8

const (
	pathNone pathKind = iota
	pathPrefix
	pathRegex
)

// sub is one matchable unit. Kong's traditional_compatible router splits a
// route into one route per group of paths — all regex paths together, and
// prefix paths grouped by length — and gives each its own priority
// (kong/router/transform.lua split_routes_and_services_by_path). A route
// without paths is a single sub.
type sub struct {
	entry *Entry
	order int // index of the entry given to Compile
	group int // index of the path group within the route
	rank  int // position in the total matching order; lower is tried first

	methods []string
	hosts   []routeHost
	headers []headerCond
	snis    []string

	kind       pathKind
	prefixes   []string // normalized, for pathPrefix
	origPaths  []string // as configured, parallel to prefixes or regexes
	regexes    []*regexp.Regexp
	regexLits  []string // literal prefix every match of regexes[i] starts with
	httpsOnly  bool
	weight     int
	plainHosts bool
	headerN    int
	regexPrio  int
	prefixLen  int
}

type headerCond struct {
	name  string // lower-case
	exact []string
	res   []*regexp.Regexp
}

// isHTTPRoute reports whether the route belongs to the HTTP router: Kong
// builds the HTTP router from http, https, grpc and grpcs routes and the
// stream router from the others. No protocols means Kong's default
// ["http", "https"].
func isHTTPRoute(r *entity.Route) bool {
	if len(r.Protocols) == 0 {
		return true
	}
	for _, p := range r.Protocols {
		switch strings.ToLower(p) {
		case "http", "https", "grpc", "grpcs":
			return true
		}
	}
	return false
}

// httpsOnly mirrors the check in Kong's runloop handler: a route whose
// protocols have https but not http answers plain-http requests with its
// https_redirect_status_code.
func httpsOnly(r *entity.Route) bool {
	https, http := false, false
	for _, p := range r.Protocols {
		switch strings.ToLower(p) {
		case "https":
			https = true
		case "http":
			http = true
		}
	}
	return https && !http
}

// compileRoute turns an entry into its subs.
func compileRoute(e *Entry, order int) ([]*sub, error) {
	r := e.Route
	base := sub{entry: e, order: order, httpsOnly: httpsOnly(r)}

	for _, m := range r.Methods {
		if m == "" {
			continue
		}
		base.methods = append(base.methods, strings.ToUpper(m))
	}

	var errs []error
	plain := len(r.Hosts) > 0
	for _, h := range r.Hosts {
		rh, err := parseRouteHost(h)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrHost, err))
			continue
		}
		if rh.kind != hostExact {
			plain = false
		}
		base.hosts = append(base.hosts, rh)
	}
	base.plainHosts = plain

	hc, err := compileHeaders(r.Headers)
	if err != nil {
		errs = append(errs, err)
	}
	base.headers = hc
	base.headerN = min(len(hc), maxHeaderCount)

	for _, s := range r.SNIs {
		if s = normalizeSNI(strings.TrimSpace(s)); s != "" {
			base.snis = append(base.snis, s)
		}
	}

	groups, err := groupPaths(r.Paths)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// Priority points: one for each of methods, hosts, headers, snis and
	// paths that the route sets (get_priority's match_weight).
	w := 0
	for _, set := range []bool{len(base.methods) > 0, len(base.hosts) > 0, len(base.headers) > 0, len(base.snis) > 0} {
		if set {
			w++
		}
	}
	if w == 0 && len(groups) == 0 {
		return nil, ErrNoMatchFields
	}
	if len(groups) > 0 {
		w++
	}
	base.weight = w

	if len(groups) == 0 {
		s := base
		return []*sub{&s}, nil
	}
	subs := make([]*sub, 0, len(groups))
	for gi, g := range groups {
		s := base
		s.group = gi
		s.kind = g.kind
		s.origPaths = g.orig
		if g.kind == pathRegex {
			s.regexes = g.res
			s.regexLits = g.lits
			s.regexPrio = r.RegexPriority
		} else {
			s.prefixes = g.prefixes
			s.prefixLen = min(len(g.prefixes[0]), maxPrefixLen)
		}
		subs = append(subs, &s)
	}
	return subs, nil
}

func compileHeaders(h map[string][]string) ([]headerCond, error) {
	if len(h) == 0 {
		return nil, nil
	}
	byName := make(map[string]*headerCond, len(h))
	var names []string
	var errs []error
	for name, values := range h {
		ln := strings.ToLower(strings.TrimSpace(name))
		switch {
		case ln == "":
			errs = append(errs, fmt.Errorf("%w: empty header name", ErrHeader))
			continue
		case ln == "host":
			// Kong's route schema: "cannot contain 'host' header, which
			// must be specified in the 'hosts' attribute".
			errs = append(errs, fmt.Errorf("%w: cannot contain 'host' header, which must be specified in the 'hosts' attribute", ErrHeader))
			continue
		case len(values) == 0:
			errs = append(errs, fmt.Errorf("%w: header %q has no values", ErrHeader, name))
			continue
		}
		c := byName[ln]
		if c == nil {
			c = &headerCond{name: ln}
			byName[ln] = c
			names = append(names, ln)
		}
		for _, v := range values {
			// "~*" starts a regex value (Kong 3.x, kong/router/transform.lua
			// get_expression): unanchored and case-insensitive.
			if strings.HasPrefix(v, "~*") {
				re, err := regexp.Compile("(?i)" + translateNamedGroups(v[2:]))
				if err != nil {
					errs = append(errs, fmt.Errorf("%w: header %q value %q: %w", ErrHeader, name, v, err))
					continue
				}
				c.res = append(c.res, re)
				continue
			}
			c.exact = append(c.exact, v)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// deterministic order: sort names so checks run the same way every time
	slices.Sort(names)
	out := make([]headerCond, 0, len(names))
	for _, n := range names {
		out = append(out, *byName[n])
	}
	return out, nil
}

type pathGroup struct {
	kind     pathKind
	orig     []string
	prefixes []string
	res      []*regexp.Regexp
	lits     []string
}

// groupPaths validates and compiles a route's paths and groups them as
// Kong's split_routes_and_services_by_path does: regex paths in one group,
// prefix paths by length, each group in order of first appearance.
func groupPaths(paths []string) ([]pathGroup, error) {
	var groups []pathGroup
	regexAt := -1
	lenAt := map[int]int{}
	var errs []error
	for _, p := range paths {
		switch {
		case strings.HasPrefix(p, "~"):
			re, err := compilePathRegex(p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if regexAt < 0 {
				regexAt = len(groups)
				groups = append(groups, pathGroup{kind: pathRegex})
			}
			g := &groups[regexAt]
			g.orig = append(g.orig, p)
			g.res = append(g.res, re)
			g.lits = append(g.lits, literalPrefix(p[1:]))
		case strings.HasPrefix(p, "/"):
			np := NormalizePath(p)
			at, ok := lenAt[len(np)]
			if !ok {
				at = len(groups)
				lenAt[len(np)] = at
				groups = append(groups, pathGroup{kind: pathPrefix})
			}
			g := &groups[at]
			g.orig = append(g.orig, p)
			g.prefixes = append(g.prefixes, np)
		default:
			// Kong 3.x route schema: "should start with: / (fixed path) or
			// ~/ (regex path)".
			errs = append(errs, fmt.Errorf("%w %q: should start with: / (fixed path) or ~/ (regex path)", ErrPath, p))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return groups, nil
}

// compilePathRegex compiles a Kong 3 regex path "~/…". Kong anchors regex
// paths at the start of the path; the pattern is wrapped in a group so the
// anchor covers every alternative (Kong's traditional router passes PCRE's
// anchored flag; the ATC translation prepends "^"). PCRE named groups
// (?<name>…) become Go's (?P<name>…) as the ATC translation does for Rust.
func compilePathRegex(p string) (*regexp.Regexp, error) {
	src := p[1:]
	if !strings.HasPrefix(src, "/") {
		return nil, fmt.Errorf("%w %q: should start with: / (fixed path) or ~/ (regex path)", ErrPath, p)
	}
	re, err := regexp.Compile("^(?:" + translateNamedGroups(src) + ")")
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrPath, p, err)
	}
	return re, nil
}

// literalPrefix returns the literal text every match of the regex source
// starts with ("/users/" for /users/(\d+)), so that a path without it is
// rejected without running the regex. It is "" when unsure.
func literalPrefix(src string) string {
	re, err := syntax.Parse(translateNamedGroups(src), syntax.Perl)
	if err != nil {
		return ""
	}
	re = re.Simplify()
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	var b strings.Builder
	for _, s := range subs {
		if s.Op != syntax.OpLiteral || s.Flags&syntax.FoldCase != 0 {
			break
		}
		b.WriteString(string(s.Rune))
	}
	return b.String()
}

// translateNamedGroups rewrites "(?<name>" to "(?P<name>" and leaves
// look-behind "(?<=" / "(?<!" alone (Go rejects those, which is reported).
func translateNamedGroups(s string) string {
	if !strings.Contains(s, "(?<") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			b.WriteByte(s[i])
			b.WriteByte(s[i+1])
			i++
			continue
		}
		if strings.HasPrefix(s[i:], "(?<") && i+3 < len(s) && s[i+3] != '=' && s[i+3] != '!' {
			b.WriteString("(?P<")
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// before reports whether a is tried before b. The order is Kong 3.x
// traditional_compatible's route priority (kong/router/transform.lua
// get_priority, most significant first): priority points, plain hosts
// only, header count, regex paths before prefix paths, then regex_priority
// among regex paths or prefix length among prefix paths. Kong leaves equal
// priorities unordered; Tollgate breaks ties as the traditional router
// did, oldest created_at first, then by id and input order so the result
// never depends on map or slice order.
func before(a, b *sub) bool {
	if a.weight != b.weight {
		return a.weight > b.weight
	}
	if a.plainHosts != b.plainHosts {
		return a.plainHosts
	}
	if a.headerN != b.headerN {
		return a.headerN > b.headerN
	}
	ar, br := a.kind == pathRegex, b.kind == pathRegex
	if ar != br {
		return ar
	}
	if ar && a.regexPrio != b.regexPrio {
		return a.regexPrio > b.regexPrio
	}
	if !ar && a.prefixLen != b.prefixLen {
		return a.prefixLen > b.prefixLen
	}
	ra, rb := a.entry.Route, b.entry.Route
	if ra.CreatedAt != rb.CreatedAt {
		return ra.CreatedAt < rb.CreatedAt
	}
	if ra.ID != rb.ID {
		return ra.ID < rb.ID
	}
	if a.order != b.order {
		return a.order < b.order
	}
	return a.group < b.group
}
