package route

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/internal/entity"
)

// Entry is a route together with the workspace it belongs to.
type Entry struct {
	Route     *entity.Route
	Workspace string
}

// Request is what the router looks at in an incoming request.
type Request struct {
	Protocol string // "http" or "https" as received
	Method   string
	Host     string       // Host header as received, may include :port
	Path     string       // request path without query, as received (still percent-encoded)
	SNI      string       // TLS server name, "" on plain http
	Header   HeaderSource // may be nil when no route has headers
}

// HeaderSource gives the values of a request header. The router asks with
// lower-case names; implementations must match names case-insensitively
// (net/http's Header.Values and fasthttp's header lookups both do). The
// returned slice is only read, and not kept after Match returns.
type HeaderSource interface {
	HeaderValues(name string) []string
}

// Match is the outcome of a successful lookup.
type Match struct {
	Entry *Entry
	// Path is the route path (a prefix, or "~regex") that matched, as
	// configured; "" when the route has no paths.
	Path string
	// Prefix is the part of the normalized request path that Path matched:
	// the prefix itself, or the whole regex match. strip_path removes it.
	Prefix string
	// Captures holds a regex path's named captures by name and its
	// unnamed ones by group number ("1", "2", …); nil when there are none.
	Captures map[string]string
	// RedirectHTTPS is set when the route only accepts https and the
	// request came over plain http: answer with the route's
	// https_redirect_status_code (426 by default) instead of proxying.
	RedirectHTTPS bool
}

// Table is a compiled, immutable routing table. It is safe for concurrent
// use by any number of goroutines; a config change builds a new Table.
type Table struct {
	entries []Entry
	subs    []*sub // every sub, in matching order
	routes  int

	// Buckets are map values, not pointers, so a host lookup lands on the
	// bucket without another memory load.
	anyHost bucket            // routes without hosts
	hasAny  bool              // whether anyHost holds any
	exact   map[string]bucket // "example.com", "example.com:8000"
	suffix  map[string]bucket // ".example.com" for *.example.com (with ":port" when set)
	prefix  map[string]bucket // "example." for example.* (with ":port" when set)
	// lengths of the keys of each map: a request host substring of
	// another length cannot be a key, so its lookup is skipped
	exactLens, suffixLens, prefixLens lenSet
	// whether any key of each map names a port, so lookups with the
	// request port are needed at all
	exactPorts, suffixPorts, prefixPorts bool

	nodes  []node   // radix trees of all buckets
	labels string   // their edge labels
	pents  []pentry // their route paths
	paths  []string // prefix paths as configured, by pentry.pathID
	lists  []*sub   // regex and path-less subs of all buckets
}

// bucket holds the routes reachable through one host key.
type bucket struct {
	root    int32  // radix tree of prefix-path subs, -1 if none
	minRank int32  // rank of the bucket's best sub: a bucket is skipped when a better match is known
	listOff uint32 // regex-path subs are lists[listOff : listOff+regexN], then
	regexN  uint32 // come the path-less subs; both in rank order
	nopathN uint32
}

// bucketBuilder collects a bucket's subs while compiling.
type bucketBuilder struct {
	minRank int // subs arrive in rank order: the first one's
	n       int
	tree    *buildNode
	regex   []*sub
	nopath  []*sub
}

// lenSet is a set of key lengths; lengths of 256 and more are all "in".
type lenSet [4]uint64

func (s *lenSet) add(n int) {
	if n < 256 {
		s[n>>6] |= 1 << (n & 63)
	}
}

func (s *lenSet) has(n int) bool {
	return n >= 256 || s[n>>6]&(1<<(n&63)) != 0
}

// Compile builds a table. Routes that cannot be compiled (bad regex etc.)
// are left out and reported in the returned error (errors.Join of
// *RouteError, each naming the route id/name); the table of the others is
// still returned. Routes of stream protocols only (tcp, tls, udp,
// tls_passthrough) belong to no HTTP router and are skipped without error.
// The table keeps the *entity.Route pointers: callers must not modify the
// routes afterwards.
func Compile(entries []Entry) (*Table, error) {
	t := &Table{entries: slices.Clone(entries)}
	var errs []error
	for i := range t.entries {
		e := &t.entries[i]
		if e.Route == nil {
			errs = append(errs, &RouteError{Workspace: e.Workspace, Err: ErrNoRoute})
			continue
		}
		if !isHTTPRoute(e.Route) {
			continue
		}
		subs, err := compileRoute(e, i)
		if err != nil {
			errs = append(errs, &RouteError{RouteID: e.Route.ID, RouteName: e.Route.Name, Workspace: e.Workspace, Err: err})
			continue
		}
		t.routes++
		t.subs = append(t.subs, subs...)
	}
	slices.SortStableFunc(t.subs, func(a, b *sub) int {
		switch {
		case before(a, b):
			return -1
		case before(b, a):
			return 1
		}
		return 0
	})
	ix := indexer{exact: map[string]int32{}, suffix: map[string]int32{}, prefix: map[string]int32{}, anyHost: -1}
	for i, s := range t.subs {
		s.rank = i
		ix.add(t, s)
	}
	t.freeze(&ix)
	return t, errors.Join(errs...)
}

// indexer collects the buckets while compiling.
type indexer struct {
	bbs                   []*bucketBuilder
	exact, suffix, prefix map[string]int32 // host key to index in bbs
	anyHost               int
}

// add adds s to the bucket of each of its hosts (or to the any-host
// bucket). Subs arrive in rank order, so the bucket lists stay sorted.
func (ix *indexer) add(t *Table, s *sub) {
	bucketOf := func(m map[string]int32, key string) *bucketBuilder {
		bi, ok := m[key]
		if !ok {
			bi = int32(len(ix.bbs))
			m[key] = bi
			ix.bbs = append(ix.bbs, &bucketBuilder{})
		}
		return ix.bbs[bi]
	}
	if len(s.hosts) == 0 {
		if ix.anyHost < 0 {
			ix.anyHost = len(ix.bbs)
			ix.bbs = append(ix.bbs, &bucketBuilder{})
		}
		ix.bbs[ix.anyHost].add(t, s)
		return
	}
	seen := make(map[*bucketBuilder]bool, len(s.hosts))
	for _, h := range s.hosts {
		k := hostMapKey(h)
		var bb *bucketBuilder
		switch h.kind {
		case hostExact:
			bb = bucketOf(ix.exact, k)
			t.exactLens.add(len(k))
			t.exactPorts = t.exactPorts || h.port != 0
		case hostSuffix:
			bb = bucketOf(ix.suffix, k)
			t.suffixLens.add(len(k))
			t.suffixPorts = t.suffixPorts || h.port != 0
		case hostPrefix:
			bb = bucketOf(ix.prefix, k)
			t.prefixLens.add(len(k))
			t.prefixPorts = t.prefixPorts || h.port != 0
		}
		if !seen[bb] { // a route listing the same host twice is indexed once
			seen[bb] = true
			bb.add(t, s)
		}
	}
}

func (bb *bucketBuilder) add(t *Table, s *sub) {
	if bb.n == 0 {
		bb.minRank = s.rank
	}
	bb.n++
	switch s.kind {
	case pathNone:
		bb.nopath = append(bb.nopath, s)
	case pathRegex:
		bb.regex = append(bb.regex, s)
	case pathPrefix:
		if bb.tree == nil {
			bb.tree = &buildNode{}
		}
		var flags uint8
		if len(s.methods) > 0 || len(s.headers) > 0 || len(s.snis) > 0 {
			flags |= peFields
		}
		if s.httpsOnly {
			flags |= peHTTPSOnly
		}
		for i, p := range s.prefixes {
			pe := pentry{rank: int32(s.rank), pathID: uint32(len(t.paths)), entry: uint32(s.order), flags: flags}
			t.paths = append(t.paths, s.origPaths[i])
			bb.tree.insert(p, pe)
		}
	}
}

// freeze lays the buckets out in the table's flat arrays.
func (t *Table) freeze(ix *indexer) {
	var f freezer
	buckets := make([]bucket, len(ix.bbs))
	for i, bb := range ix.bbs {
		bk := bucket{root: -1, minRank: int32(bb.minRank)}
		if bb.tree != nil {
			bk.root = int32(f.freeze(bb.tree))
		}
		bk.listOff, bk.regexN, bk.nopathN = uint32(len(t.lists)), uint32(len(bb.regex)), uint32(len(bb.nopath))
		t.lists = append(t.lists, bb.regex...)
		t.lists = append(t.lists, bb.nopath...)
		buckets[i] = bk
	}
	f.finish()
	t.nodes, t.labels, t.pents = f.nodes, string(f.labels), f.pents
	if ix.anyHost >= 0 {
		t.anyHost, t.hasAny = buckets[ix.anyHost], true
	}
	// The map keys are copied into one string so that their bytes, which
	// every lookup compares, sit together in memory.
	n := 0
	for _, m := range []map[string]int32{ix.exact, ix.suffix, ix.prefix} {
		for k := range m {
			n += len(k)
		}
	}
	arena := make([]byte, 0, n)
	type keyAt struct{ off, i int32 }
	at := make([]map[string]keyAt, 3)
	for j, m := range []map[string]int32{ix.exact, ix.suffix, ix.prefix} {
		at[j] = make(map[string]keyAt, len(m))
		for k, i := range m {
			at[j][k] = keyAt{int32(len(arena)), i}
			arena = append(arena, k...)
		}
	}
	keys := string(arena)
	bucketMap := func(j int) map[string]bucket {
		out := make(map[string]bucket, len(at[j]))
		for k, a := range at[j] {
			out[keys[a.off:int(a.off)+len(k)]] = buckets[a.i]
		}
		return out
	}
	t.exact, t.suffix, t.prefix = bucketMap(0), bucketMap(1), bucketMap(2)
}

// Len is the number of routes in the table.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return t.routes
}

// state is one lookup's view of the request.
type state struct {
	req   *Request
	path  string // normalized
	https bool
	sni   string // without a final dot
}

// best is the highest-ranked match found so far: a prefix path (pe) or a
// regex or path-less sub (sub).
type best struct {
	pe      *pentry
	sub     *sub
	pathIdx int // index of the regex that matched in sub.regexes
	prefix  int // length of the matched prefix, for pe
	rank    int
}

// Match finds the route for r, trying routes in Kong's priority order (see
// the package documentation). It allocates nothing unless the path needs
// normalizing or a regex path matches.
func (t *Table) Match(r *Request) (Match, bool) {
	if t == nil || r == nil || len(t.subs) == 0 {
		return Match{}, false
	}
	st := state{req: r, path: NormalizePath(r.Path), https: strings.EqualFold(r.Protocol, "https")}
	if st.path == "" {
		st.path = "/"
	}
	st.sni = r.SNI
	if n := len(st.sni); n > 1 && st.sni[n-1] == '.' {
		st.sni = st.sni[:n-1]
	}
	b := best{rank: math.MaxInt}

	if len(t.exact)+len(t.suffix)+len(t.prefix) > 0 && r.Host != "" {
		t.searchHosts(&st, &b)
	}
	if t.hasAny {
		t.search(&t.anyHost, &st, &b)
	}
	if b.pe == nil && b.sub == nil {
		return Match{}, false
	}
	return t.result(&st, &b), true
}

// searchHosts looks the request host up in the exact and wildcard maps
// without allocating: a host with upper-case letters is lowered into a
// stack buffer, and map lookups with string(bytes) keys do not copy.
func (t *Table) searchHosts(st *state, b *best) {
	name, portStr, hasPort := splitHostPort(st.req.Host)
	port := 80
	switch {
	case hasPort:
		port = parseRequestPort(portStr)
	case st.https:
		port = 443
	}
	if !hasUpper(name) {
		searchHost(t, name, port, st, b)
		return
	}
	var buf [96]byte
	searchHost(t, appendLower(buf[:0], name), port, st, b)
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// searchHost searches the buckets of a lower-case host name.
func searchHost[H string | []byte](t *Table, h H, port int, st *state, b *best) {
	if t.exactLens.has(len(h)) {
		if bk, ok := t.exact[string(h)]; ok {
			t.search(&bk, st, b)
		}
	}
	if t.exactPorts && port != 0 {
		searchPortKey(t, t.exact, &t.exactLens, h, port, st, b)
	}
	if len(t.suffix) == 0 && len(t.prefix) == 0 {
		return
	}
	for i := 0; i < len(h); i++ {
		if h[i] != '.' {
			continue
		}
		if len(t.suffix) > 0 {
			if t.suffixLens.has(len(h) - i) {
				if bk, ok := t.suffix[string(h[i:])]; ok {
					t.search(&bk, st, b)
				}
			}
			if t.suffixPorts && port != 0 {
				searchPortKey(t, t.suffix, &t.suffixLens, h[i:], port, st, b)
			}
		}
		if len(t.prefix) > 0 {
			if t.prefixLens.has(i + 1) {
				if bk, ok := t.prefix[string(h[:i+1])]; ok {
					t.search(&bk, st, b)
				}
			}
			if t.prefixPorts && port != 0 {
				searchPortKey(t, t.prefix, &t.prefixLens, h[:i+1], port, st, b)
			}
		}
	}
}

// searchPortKey looks up "key:port"; it is kept apart so that its buffer
// is only set up for tables with hosts that name a port.
func searchPortKey[H string | []byte](t *Table, m map[string]bucket, lens *lenSet, key H, port int, st *state, b *best) {
	var buf [104]byte
	k := appendPortKey(append(buf[:0], key...), port)
	if !lens.has(len(k)) {
		return
	}
	if bk, ok := m[string(k)]; ok {
		t.search(&bk, st, b)
	}
}

// search finds, within one bucket, the best sub that beats b. Each list is
// in rank order, so its scan ends at the first full match or at the first
// sub ranked below the best so far.
func (t *Table) search(bk *bucket, st *state, b *best) {
	if int(bk.minRank) >= b.rank {
		return
	}
	if bk.root >= 0 {
		t.searchTree(uint32(bk.root), st, b)
	}
	regexEnd := bk.listOff + bk.regexN
	for _, s := range t.lists[bk.listOff:regexEnd] {
		if s.rank >= b.rank {
			break
		}
		if !s.matchFields(st) {
			continue
		}
		for i, re := range s.regexes {
			if strings.HasPrefix(st.path, s.regexLits[i]) && re.MatchString(st.path) {
				*b = best{sub: s, pathIdx: i, rank: s.rank}
				break
			}
		}
		if b.sub == s {
			break
		}
	}
	for _, s := range t.lists[regexEnd : regexEnd+bk.nopathN] {
		if s.rank >= b.rank {
			break
		}
		if s.matchFields(st) {
			*b = best{sub: s, rank: s.rank}
			break
		}
	}
}

// searchTree walks a bucket's radix tree down the request path.
func (t *Table) searchTree(ni uint32, st *state, b *best) {
	path := st.path
	depth := 0 // bytes of path consumed
	for {
		n, next := &t.nodes[ni], &t.nodes[ni+1]
		ents := t.pents[n.entOff:next.entOff]
		for k := range ents {
			e := &ents[k]
			if int(e.rank) >= b.rank {
				break
			}
			if e.flags&peFields == 0 || t.subs[e.rank].matchFields(st) {
				b.pe, b.sub, b.prefix, b.rank = e, nil, depth, int(e.rank)
				break
			}
		}
		if depth == len(path) || n.childN == 0 {
			return
		}
		firsts := next.labelOff - uint32(n.childN)
		k := strings.IndexByte(t.labels[firsts:next.labelOff], path[depth])
		if k < 0 {
			return
		}
		ni = n.childOff + uint32(k)
		c, after := &t.nodes[ni], &t.nodes[ni+1]
		label := t.labels[c.labelOff : after.labelOff-uint32(c.childN)]
		if !strings.HasPrefix(path[depth:], label) {
			return
		}
		depth += len(label)
	}
}

// matchFields checks everything but hosts (settled by the bucket) and
// paths (settled by the caller): methods, SNIs and headers.
func (s *sub) matchFields(st *state) bool {
	if len(s.methods) > 0 {
		ok := false
		for _, m := range s.methods {
			if m == st.req.Method {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	// SNIs only constrain https requests: Kong's expression is
	// net.protocol != "https" || tls.sni == … (Kong issue #6425).
	if len(s.snis) > 0 && st.https {
		ok := false
		for _, v := range s.snis {
			if strings.EqualFold(v, st.sni) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(s.headers) > 0 {
		if st.req.Header == nil {
			return false
		}
		for i := range s.headers {
			if !s.headers[i].match(st.req.Header.HeaderValues(s.headers[i].name)) {
				return false
			}
		}
	}
	return true
}

// match reports whether any of the request's values of the header equals
// a configured value (case-insensitively) or matches a "~*" regex: Kong's
// any(lower(http.headers.x)) == lower(v) || … ~ ….
func (h *headerCond) match(values []string) bool {
	for _, v := range values {
		for _, want := range h.exact {
			if strings.EqualFold(v, want) {
				return true
			}
		}
		for _, re := range h.res {
			if re.MatchString(v) {
				return true
			}
		}
	}
	return false
}

func (t *Table) result(st *state, b *best) Match {
	if e := b.pe; e != nil {
		return Match{
			Entry:         &t.entries[e.entry],
			Path:          t.paths[e.pathID],
			Prefix:        st.path[:b.prefix],
			RedirectHTTPS: e.flags&peHTTPSOnly != 0 && !st.https,
		}
	}
	s := b.sub
	m := Match{Entry: s.entry, RedirectHTTPS: s.httpsOnly && !st.https}
	if s.kind != pathRegex {
		return m
	}
	m.Path = s.origPaths[b.pathIdx]
	re := s.regexes[b.pathIdx]
	if re.NumSubexp() == 0 {
		if loc := re.FindStringIndex(st.path); loc != nil {
			m.Prefix = st.path[:loc[1]]
		}
		return m
	}
	if loc := re.FindStringSubmatchIndex(st.path); loc != nil {
		m.Prefix = st.path[:loc[1]]
		m.Captures = captures(re, st.path, loc)
	}
	return m
}

func captures(re interface{ SubexpNames() []string }, path string, loc []int) map[string]string {
	names := re.SubexpNames()
	var c map[string]string
	for g := 1; g < len(names) && 2*g+1 < len(loc); g++ {
		if loc[2*g] < 0 {
			continue // an optional group that did not take part
		}
		if c == nil {
			c = make(map[string]string, len(names)-1)
		}
		k := names[g]
		if k == "" {
			k = strconv.Itoa(g)
		}
		c[k] = path[loc[2*g]:loc[2*g+1]]
	}
	return c
}
