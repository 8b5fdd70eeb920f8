package logrecord

// Record describes one request. Ids are entity UUIDs; names are resolved by
// analytics from the config store, so renames do not rewrite history. It
// never carries secrets (no credential keys or passwords, no query string by
// default).
type Record struct {
	RequestID string // also returned to the client in X-Request-Id
	TraceID   string // from the incoming traceparent/correlation header, if any
	StartedAt int64  // unix milliseconds when the request arrived
	NodeID    string

	Workspace    string
	ServiceID    string
	RouteID      string
	RoutePath    string // the route path pattern that matched
	ConsumerID   string
	CredentialID string

	Method    string
	Protocol  string // http, https, ws, wss
	Host      string
	Path      string
	ClientIP  string // after trusted-proxy handling
	UserAgent string

	Status         int    // status sent to the client
	UpstreamStatus int    // 0 when no upstream answered
	Responder      string // "upstream" or "gateway"
	UpstreamTries  int
	UpstreamAddr   string

	LatencyTotalMs    float64
	LatencyGatewayMs  float64
	LatencyUpstreamMs float64

	RequestBytes  int64
	ResponseBytes int64

	AuthOutcome      string // "", "authenticated", "anonymous", "rejected"
	RateLimitOutcome string // "", "allowed", "limited"
	ErrorClass       string // "", "timeout", "connect", "no_healthy_target", "client_closed", "plugin", "route_not_found", ...

	Billable     bool
	BillingUnits int64
}
