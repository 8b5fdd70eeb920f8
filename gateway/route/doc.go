// Package route is the gateway's router: it compiles routes into an
// immutable Table and matches requests against it with the semantics of
// Kong 3.x's HTTP router in its default flavor, traditional_compatible.
//
// It owns the matching rules, their precedence, request path
// normalization and the upstream path computation (strip_path,
// path_handling). It must never do I/O, keep per-request state, or change
// a Table once compiled: the proxy swaps whole tables (atomic.Pointer) on
// each config change, and any number of goroutines may match concurrently.
//
// # Matching (a request matches a route when all of these hold)
//
// Sources: Kong docs "Routing in Kong Gateway" / "Proxy reference";
// kong/router/transform.lua get_expression (the traditional_compatible
// translation of a route into an ATC expression); kong/router/atc.lua.
//
//   - Protocols do not filter within the HTTP router. Routes whose
//     protocols include none of http, https, grpc or grpcs belong to the
//     stream router and are skipped. A route with https but not http
//     matches plain-http requests and sets Match.RedirectHTTPS, as Kong's
//     runloop answers those with https_redirect_status_code (426 by
//     default). A route with only http still serves https requests
//     (Kong issue #8073).
//   - Hosts: any configured host matches, case-insensitively. A host
//     without a port ignores the request's port; "host:port" needs that
//     port, taken from the Host header or, when the header has none, the
//     default port of the request protocol (Kong compares net.dst.port,
//     the listening port, which the router is not given). Wildcards are a
//     leading "*." (*.example.com matches a.example.com and a.b.example.com,
//     not example.com) or a trailing ".*" (example.* matches example.org).
//   - Paths: the request path is normalized first (see NormalizePath).
//     A path without "~" is a byte prefix, compared with the normalized
//     route path. A path "~/…" is a regular expression anchored at the
//     start of the path (Kong: "^" .. regex); Tollgate anchors it as
//     ^(?:regex) so the anchor covers every alternative, as the
//     traditional router's anchored PCRE flag did. PCRE named groups
//     (?<name>…) are translated to Go's (?P<name>…), as Kong translates them
//     for Rust's regex. Go's RE2 syntax applies otherwise (no look-around,
//     no back-references); such paths fail to compile and are reported.
//     Among several paths of one regex group the first that matches, in
//     configured order, is the matched path. As in Kong 3's schema, prefix
//     paths start with "/" and regex paths with "~/".
//   - Methods: any configured method, compared exactly (RFC 9110 §9.1:
//     methods are case-sensitive); configured methods are upper-cased.
//   - Headers: for every configured header name, one of the request's
//     values for it equals one configured value case-insensitively, or
//     matches a "~*" value as an unanchored, case-insensitive regex. Kong
//     lower-cases the value and the pattern; Tollgate compiles the pattern
//     with (?i) instead, which differs only for escapes such as \D or \W
//     that lower-casing would break. A "host" header is rejected, as in
//     Kong's schema.
//   - SNIs: only constrain https requests; on plain http they are ignored
//     (Kong: net.protocol != "https" || tls.sni == …, Kong issue #6425).
//     A final dot is dropped on both sides.
//
// # Precedence (the first matching route in this order wins)
//
// Kong's traditional_compatible flavor splits each route into one route
// per group of paths — all its regex paths together, and its prefix paths
// grouped by length — each with its own priority
// (split_routes_and_services_by_path), and orders them by a 64-bit priority
// (kong/router/transform.lua get_priority), most significant first:
//
//  1. Priority points: one for each of methods, hosts, headers, snis and
//     paths the route sets; more points first. (Kong's docs list methods,
//     hosts, headers and snis; the code counts paths too, and so does
//     Tollgate.)
//  2. Plain hosts: routes whose hosts are all plain (no wildcard) before
//     the others, including routes without hosts.
//  3. Header count: more distinct header names first (capped at 255).
//  4. Regex paths before prefix paths.
//  5. Among regex paths, higher regex_priority first; among prefix paths,
//     longer first.
//  6. Kong leaves equal priorities unordered ("it is not defined which of
//     the matching routes will be used"); Tollgate orders them as the
//     traditional router did, older created_at first, then by route id
//     and input order, so matching is deterministic.
//
// regex_priority is compared as a signed number; Kong shifts it into an
// unsigned field, where a negative value would corrupt the higher fields.
//
// # Path normalization
//
// Before matching, percent-encoded unreserved characters are decoded and
// other triplets upper-cased, dot segments are removed and slashes merged
// (Kong docs, "Normalization behavior"; kong/tools/uri.lua normalize with
// merge_slashes). Unlike Kong, decoding repeats until it changes nothing,
// so normalization is idempotent and "/%%34%31" is routed as "/A", the
// path the upstream would see, not as "/%41". Prefix route paths are normalized the same way at
// compile time; regex paths must be written against normalized paths.
//
// # Upstream path
//
// UpstreamPath follows kong/router/utils.lua get_upstream_uri for
// path_handling "v0" and kong/router/traditional.lua for "v1", checked
// against the Admin API reference's table. Kong 3's traditional_compatible
// flavor ignores "v1" (with a deprecation warning) and always applies v0;
// Tollgate honours the field, as the traditional flavor does.
//
// # Cost
//
// Routes are indexed by host: an exact-host map, maps keyed by the
// wildcard suffix or prefix (looked up once per dot in the request host),
// and one bucket of host-less routes. In each bucket prefix paths sit in a
// radix tree walked once along the request path, and regex and path-less
// routes sit in lists in priority order. Every list is scanned only until
// its first full match or until its next route ranks below the best match
// found so far, and a whole bucket is skipped when its best route ranks
// below it, so lookup cost follows the request (host labels, path length,
// competing routes for the same host and path), not the size of the table.
// A regex is only run on paths that start with its literal prefix
// ("/users/" for ~/users/(?<id>\d+)).
// The trees of all buckets are frozen into a few flat arrays (16-byte
// nodes, 16-byte path entries, one string of labels and one of host keys)
// so that a lookup in a table of ten thousand routes touches a handful of
// cache lines; BenchmarkMatch and BenchmarkMatchScaling measure it. Match
// allocates only when the request path needs normalizing or a regex path
// matches (the index slice of the match, and the captures map).
package route
