package entity

import "encoding/json"

// Workspace groups entities; every other entity belongs to exactly one.
// Kong Enterprise's model: the analytics service scopes providers by workspace.
type Workspace struct {
	Meta
	Name    string `json:"name"`
	Comment string `json:"comment,omitempty"`
}

func (*Workspace) Kind() Kind                      { return KindWorkspace }
func (e *Workspace) GetMeta() *Meta                { return &e.Meta }
func (e *Workspace) UniqueKeys() map[string]string { return nonEmpty("name", e.Name) }
func (e *Workspace) Refs() map[Kind]string         { return nil }

// Service is an upstream API: where matched requests are proxied to.
type Service struct {
	Meta
	Name string `json:"name,omitempty"`
	// URL is an input shorthand for protocol, host, port and path, as in
	// Kong; it is never stored.
	URL      string `json:"url,omitempty"`
	Protocol string `json:"protocol"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Path     string `json:"path,omitempty"`
	// Retries is a pointer so that an explicit 0 (no retries) is told
	// apart from "not given" (Kong's default, 5).
	Retries        *int  `json:"retries,omitempty"`
	ConnectTimeout int   `json:"connect_timeout"` // milliseconds
	WriteTimeout   int   `json:"write_timeout"`   // milliseconds
	ReadTimeout    int   `json:"read_timeout"`    // milliseconds
	Enabled        *bool `json:"enabled,omitempty"`
	TLSVerify      *bool `json:"tls_verify,omitempty"`
	// ClientCertificate is presented to the upstream for mutual TLS.
	ClientCertificate *Ref `json:"client_certificate,omitempty"`
}

func (*Service) Kind() Kind                      { return KindService }
func (e *Service) GetMeta() *Meta                { return &e.Meta }
func (e *Service) UniqueKeys() map[string]string { return nonEmpty("name", e.Name) }
func (e *Service) Refs() map[Kind]string {
	if e.ClientCertificate == nil {
		return nil
	}
	return map[Kind]string{KindCertificate: e.ClientCertificate.ID}
}

// DefaultRetries is Kong's default number of retries of a service.
const DefaultRetries = 5

// RetryCount returns the service's retries (DefaultRetries when unset).
func (e *Service) RetryCount() int {
	if e.Retries == nil {
		return DefaultRetries
	}
	return *e.Retries
}

// IsEnabled reports whether the service takes traffic (default true).
func (e *Service) IsEnabled() bool { return e.Enabled == nil || *e.Enabled }

// Route says which requests go to which service.
type Route struct {
	Meta
	Name                    string              `json:"name,omitempty"`
	Protocols               []string            `json:"protocols"`
	Methods                 []string            `json:"methods,omitempty"`
	Hosts                   []string            `json:"hosts,omitempty"`
	Paths                   []string            `json:"paths,omitempty"`
	Headers                 map[string][]string `json:"headers,omitempty"`
	SNIs                    []string            `json:"snis,omitempty"`
	HTTPSRedirectStatusCode int                 `json:"https_redirect_status_code"`
	RegexPriority           int                 `json:"regex_priority"`
	StripPath               *bool               `json:"strip_path,omitempty"`
	PathHandling            string              `json:"path_handling"`
	PreserveHost            bool                `json:"preserve_host"`
	RequestBuffering        *bool               `json:"request_buffering,omitempty"`
	ResponseBuffering       *bool               `json:"response_buffering,omitempty"`
	Service                 *Ref                `json:"service"`
}

func (*Route) Kind() Kind                      { return KindRoute }
func (e *Route) GetMeta() *Meta                { return &e.Meta }
func (e *Route) UniqueKeys() map[string]string { return nonEmpty("name", e.Name) }
func (e *Route) Refs() map[Kind]string {
	if e.Service == nil {
		return nil
	}
	return map[Kind]string{KindService: e.Service.ID}
}

// ShouldStripPath reports strip_path (default true, as in Kong).
func (e *Route) ShouldStripPath() bool { return e.StripPath == nil || *e.StripPath }

// Consumer is a client of the APIs, identified by its credentials.
type Consumer struct {
	Meta
	Username string `json:"username,omitempty"`
	CustomID string `json:"custom_id,omitempty"`
}

func (*Consumer) Kind() Kind       { return KindConsumer }
func (e *Consumer) GetMeta() *Meta { return &e.Meta }
func (e *Consumer) UniqueKeys() map[string]string {
	return nonEmpty("username", e.Username, "custom_id", e.CustomID)
}
func (e *Consumer) Refs() map[Kind]string { return nil }

// Plugin is one configured instance of a plugin, global or scoped to a
// service, a route, a consumer, or a combination of them.
type Plugin struct {
	Meta
	Name         string          `json:"name"`
	InstanceName string          `json:"instance_name,omitempty"`
	Config       json.RawMessage `json:"config"`
	Protocols    []string        `json:"protocols"`
	Enabled      *bool           `json:"enabled,omitempty"`
	Service      *Ref            `json:"service"`
	Route        *Ref            `json:"route"`
	Consumer     *Ref            `json:"consumer"`
}

func (*Plugin) Kind() Kind       { return KindPlugin }
func (e *Plugin) GetMeta() *Meta { return &e.Meta }

// UniqueKeys: one plugin of a name per scope, as Kong enforces.
func (e *Plugin) UniqueKeys() map[string]string {
	m := nonEmpty("instance_name", e.InstanceName)
	m["scope"] = e.Name + "|" + RefID(e.Route) + "|" + RefID(e.Service) + "|" + RefID(e.Consumer)
	return m
}
func (e *Plugin) Refs() map[Kind]string {
	m := map[Kind]string{}
	if e.Service != nil {
		m[KindService] = e.Service.ID
	}
	if e.Route != nil {
		m[KindRoute] = e.Route.ID
	}
	if e.Consumer != nil {
		m[KindConsumer] = e.Consumer.ID
	}
	return m
}

// IsEnabled reports whether the plugin runs (default true).
func (e *Plugin) IsEnabled() bool { return e.Enabled == nil || *e.Enabled }

// Upstream is a virtual host name balanced over targets.
type Upstream struct {
	Meta
	Name               string       `json:"name"`
	Algorithm          string       `json:"algorithm"` // round-robin, consistent-hashing, least-connections
	HashOn             string       `json:"hash_on"`   // none, consumer, ip, header, cookie
	HashFallback       string       `json:"hash_fallback"`
	HashOnHeader       string       `json:"hash_on_header,omitempty"`
	HashFallbackHeader string       `json:"hash_fallback_header,omitempty"`
	HashOnCookie       string       `json:"hash_on_cookie,omitempty"`
	HashOnCookiePath   string       `json:"hash_on_cookie_path"`
	Slots              int          `json:"slots"`
	Healthchecks       Healthchecks `json:"healthchecks"`
	HostHeader         string       `json:"host_header,omitempty"`
}

func (*Upstream) Kind() Kind                      { return KindUpstream }
func (e *Upstream) GetMeta() *Meta                { return &e.Meta }
func (e *Upstream) UniqueKeys() map[string]string { return nonEmpty("name", e.Name) }
func (e *Upstream) Refs() map[Kind]string         { return nil }

// Healthchecks configures active probes and passive circuit breaking, with
// Kong's field names. A zero threshold disables that check.
type Healthchecks struct {
	Active    ActiveHealthcheck  `json:"active"`
	Passive   PassiveHealthcheck `json:"passive"`
	Threshold float64            `json:"threshold"`
}

// ActiveHealthcheck probes every target periodically.
type ActiveHealthcheck struct {
	Type        string  `json:"type"` // http, https, tcp
	HTTPPath    string  `json:"http_path"`
	Timeout     float64 `json:"timeout"` // seconds
	Concurrency int     `json:"concurrency"`
	// HTTPSVerifyCertificate checks probed targets' certificates; a pointer
	// so that unset means Kong's default, true.
	HTTPSVerifyCertificate *bool         `json:"https_verify_certificate,omitempty"`
	Healthy                HealthyRule   `json:"healthy"`
	Unhealthy              UnhealthyRule `json:"unhealthy"`
}

// VerifiesCertificate reports https_verify_certificate (default true).
func (a *ActiveHealthcheck) VerifiesCertificate() bool {
	return a.HTTPSVerifyCertificate == nil || *a.HTTPSVerifyCertificate
}

// PassiveHealthcheck counts failures of proxied traffic.
type PassiveHealthcheck struct {
	Type      string        `json:"type"`
	Healthy   HealthyRule   `json:"healthy"`
	Unhealthy UnhealthyRule `json:"unhealthy"`
}

// HealthyRule says when a target counts as healthy again.
type HealthyRule struct {
	Interval     float64 `json:"interval,omitempty"` // seconds between probes; 0 disables active probing
	HTTPStatuses []int   `json:"http_statuses"`
	Successes    int     `json:"successes"`
}

// UnhealthyRule says when a target counts as unhealthy.
type UnhealthyRule struct {
	Interval     float64 `json:"interval,omitempty"`
	HTTPStatuses []int   `json:"http_statuses"`
	TCPFailures  int     `json:"tcp_failures"`
	Timeouts     int     `json:"timeouts"`
	HTTPFailures int     `json:"http_failures"`
}

// Target is one host:port of an upstream with its weight.
type Target struct {
	Meta
	Target string `json:"target"`
	// Weight is a pointer so that an explicit 0 (no traffic) is told apart
	// from "not given" (Kong's default, 100).
	Weight   *int `json:"weight,omitempty"`
	Upstream *Ref `json:"upstream"`
}

// DefaultTargetWeight is Kong's default weight of a target.
const DefaultTargetWeight = 100

// WeightValue returns the target's weight (DefaultTargetWeight when unset).
func (e *Target) WeightValue() int {
	if e.Weight == nil {
		return DefaultTargetWeight
	}
	return *e.Weight
}

func (*Target) Kind() Kind       { return KindTarget }
func (e *Target) GetMeta() *Meta { return &e.Meta }
func (e *Target) UniqueKeys() map[string]string {
	return map[string]string{"target": RefID(e.Upstream) + "|" + e.Target}
}
func (e *Target) Refs() map[Kind]string {
	if e.Upstream == nil {
		return nil
	}
	return map[Kind]string{KindUpstream: e.Upstream.ID}
}

// KeyAuthCredential is an API key of a consumer. The key itself is never
// stored: KeyHash holds its SHA-256 (hex) and KeyPrefix its first characters,
// so that a key can be recognised in listings without being revealed.
type KeyAuthCredential struct {
	Meta
	// Key is set only on input and in the response to the request that
	// created the credential.
	Key       string `json:"key,omitempty"`
	KeyHash   string `json:"key_hash,omitempty"`
	KeyPrefix string `json:"key_prefix,omitempty"`
	TTL       int    `json:"ttl,omitempty"`
	Consumer  *Ref   `json:"consumer"`
}

func (*KeyAuthCredential) Kind() Kind                      { return KindKeyAuth }
func (e *KeyAuthCredential) GetMeta() *Meta                { return &e.Meta }
func (e *KeyAuthCredential) UniqueKeys() map[string]string { return nonEmpty("key", e.KeyHash) }
func (e *KeyAuthCredential) Refs() map[Kind]string {
	if e.Consumer == nil {
		return nil
	}
	return map[Kind]string{KindConsumer: e.Consumer.ID}
}

// BasicAuthCredential is a username and password of a consumer. Password is
// set only on input; PasswordHash holds its bcrypt hash.
type BasicAuthCredential struct {
	Meta
	Username     string `json:"username"`
	Password     string `json:"password,omitempty"`
	PasswordHash string `json:"password_hash,omitempty"`
	Consumer     *Ref   `json:"consumer"`
}

func (*BasicAuthCredential) Kind() Kind       { return KindBasicAuth }
func (e *BasicAuthCredential) GetMeta() *Meta { return &e.Meta }
func (e *BasicAuthCredential) UniqueKeys() map[string]string {
	return nonEmpty("username", e.Username)
}
func (e *BasicAuthCredential) Refs() map[Kind]string {
	if e.Consumer == nil {
		return nil
	}
	return map[Kind]string{KindConsumer: e.Consumer.ID}
}

// ACLGroup puts a consumer in a group, for the acl plugin.
type ACLGroup struct {
	Meta
	Group    string `json:"group"`
	Consumer *Ref   `json:"consumer"`
}

func (*ACLGroup) Kind() Kind       { return KindACL }
func (e *ACLGroup) GetMeta() *Meta { return &e.Meta }
func (e *ACLGroup) UniqueKeys() map[string]string {
	return map[string]string{"group": RefID(e.Consumer) + "|" + e.Group}
}
func (e *ACLGroup) Refs() map[Kind]string {
	if e.Consumer == nil {
		return nil
	}
	return map[Kind]string{KindConsumer: e.Consumer.ID}
}

// Certificate is a PEM certificate chain and its private key, served on the
// TLS proxy listener for the SNIs that reference it.
type Certificate struct {
	Meta
	Cert string `json:"cert"`
	Key  string `json:"key"`
	// SNIs is accepted on input as a shorthand that creates SNI entities, as
	// in Kong; stores do not keep it.
	SNIs []string `json:"snis,omitempty"`
}

func (*Certificate) Kind() Kind                      { return KindCertificate }
func (e *Certificate) GetMeta() *Meta                { return &e.Meta }
func (e *Certificate) UniqueKeys() map[string]string { return nil }
func (e *Certificate) Refs() map[Kind]string         { return nil }

// SNI maps a server name (exact or with a leading/trailing wildcard) to a
// certificate.
type SNI struct {
	Meta
	Name        string `json:"name"`
	Certificate *Ref   `json:"certificate"`
}

func (*SNI) Kind() Kind                      { return KindSNI }
func (e *SNI) GetMeta() *Meta                { return &e.Meta }
func (e *SNI) UniqueKeys() map[string]string { return nonEmpty("name", e.Name) }
func (e *SNI) Refs() map[Kind]string {
	if e.Certificate == nil {
		return nil
	}
	return map[Kind]string{KindCertificate: e.Certificate.ID}
}

// AnalyticsToken lets its holder read the analytics service: the records of
// its workspace (an API provider's token) or, when Consumer is set, only
// that consumer's records in it (a token the provider hands its customer).
// As with key-auth keys, the secret itself is never stored: TokenHash holds
// its SHA-256 (hex), which is how the analytics service looks it up, and
// TokenPrefix its first characters, so that a token can be recognised in
// listings without being revealed.
//
// Analytics tokens are managed through the Admin API only: they are not
// part of declarative configuration.
type AnalyticsToken struct {
	Meta
	// Name is optional; when set it is unique in the workspace and
	// addresses the token in place of its id.
	Name string `json:"name,omitempty"`
	// Token is set only on input and in the response to the request that
	// created the token.
	Token       string `json:"token,omitempty"`
	TokenHash   string `json:"token_hash,omitempty"`
	TokenPrefix string `json:"token_prefix,omitempty"`
	// Consumer, when set, makes this a consumer token.
	Consumer *Ref `json:"consumer"`
	// ExpiresAt is when the token stops working, in Unix seconds; 0 never.
	ExpiresAt int64 `json:"expires_at,omitempty"`
}

func (*AnalyticsToken) Kind() Kind       { return KindAnalyticsToken }
func (e *AnalyticsToken) GetMeta() *Meta { return &e.Meta }
func (e *AnalyticsToken) UniqueKeys() map[string]string {
	return nonEmpty("name", e.Name, "token", e.TokenHash)
}
func (e *AnalyticsToken) Refs() map[Kind]string {
	if e.Consumer == nil {
		return nil
	}
	return map[Kind]string{KindConsumer: e.Consumer.ID}
}
