package validate

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tollgate/tollgate/internal/testcert"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// testRegistry offers two plugins: "limits", whose config has a required
// positive "minute", and "auth", which cannot be scoped to a consumer.
func testRegistry() *plugin.Registry {
	type limitsConfig struct {
		Minute int    `json:"minute"`
		Policy string `json:"policy"`
	}
	return plugin.NewRegistry(&plugin.Factory{
		Name:       "auth",
		NoConsumer: true,
		NewConfig:  func() any { return &struct{}{} },
		New:        func(any, plugin.Env) (any, error) { return struct{}{}, nil },
	}, &plugin.Factory{
		Name:      "limits",
		Priority:  910,
		NewConfig: func() any { return &limitsConfig{Policy: "local"} },
		New: func(cfg any, _ plugin.Env) (any, error) {
			c := cfg.(*limitsConfig)
			if c.Minute <= 0 {
				return nil, entity.FieldErrors{"minute": "must be greater than 0"}.Err()
			}
			return struct{}{}, nil
		},
	})
}

func ref(id string) *entity.Ref { return &entity.Ref{ID: id} }

const (
	id1 = "6f1f8a0e-4d0c-4b38-9a52-7a4bd2d0b0a1"
	id2 = "0b9c8c1e-35a0-4a5e-8f1b-0d8b2b8c9d10"
)

type testCert struct{ cert, key string }

func newTestCert(t *testing.T, cn string) testCert {
	cert, key := testcert.PEM(t, cn, cn)
	return testCert{cert: cert, key: key}
}

func TestNormalizeErrors(t *testing.T) {
	certA := newTestCert(t, "a.example.com")
	certB := newTestCert(t, "b.example.com")
	tests := []struct {
		name string
		in   entity.Entity
		want entity.FieldErrors
	}{
		// services
		{"service without host", &entity.Service{},
			entity.FieldErrors{"host": "required field missing"}},
		{"service bad protocol and port", &entity.Service{Host: "example.com", Protocol: "grpc", Port: 70000},
			entity.FieldErrors{"protocol": "expected one of: http, https", "port": "value should be between 0 and 65535"}},
		{"service host with port", &entity.Service{Host: "example.com:80"},
			entity.FieldErrors{"host": "must not have a port"}},
		{"service bad host", &entity.Service{Host: "exa mple"},
			entity.FieldErrors{"host": "invalid value: exa mple"}},
		{"service bad path", &entity.Service{Host: "a", Path: "foo"},
			entity.FieldErrors{"path": "should start with: /"}},
		{"service empty segment", &entity.Service{Host: "a", Path: "/a//b"},
			entity.FieldErrors{"path": "must not have empty segments"}},
		{"service path bad chars", &entity.Service{Host: "a", Path: "/a b"},
			entity.FieldErrors{"path": "invalid path: '/a b' (characters outside of the reserved list of RFC 3986 found)"}},
		{"service path bad escape", &entity.Service{Host: "a", Path: "/a%zz"},
			entity.FieldErrors{"path": "invalid url-encoded value: '%zz'"}},
		{"service timeouts and retries", &entity.Service{Host: "a", Retries: new(-1), ConnectTimeout: -5, ReadTimeout: 1 << 31, WriteTimeout: 1},
			entity.FieldErrors{
				"retries":         "value should be between 0 and 32767",
				"connect_timeout": "value should be between 1 and 2147483646",
				"read_timeout":    "value should be between 1 and 2147483646",
			}},
		{"service url without scheme", &entity.Service{URL: "example.com/x"},
			entity.FieldErrors{"url": "missing scheme in url", "host": "required field missing"}},
		{"service url unsupported scheme", &entity.Service{URL: "ftp://example.com"},
			entity.FieldErrors{"protocol": "expected one of: http, https"}},
		{"service bad name", &entity.Service{Name: "my service", Host: "a"},
			entity.FieldErrors{"name": "invalid value 'my service': the only accepted ascii characters are alphanumerics or ., -, _, and ~"}},
		{"service client cert over http", &entity.Service{Host: "a", ClientCertificate: ref(id1)},
			entity.FieldErrors{"client_certificate": "value must be null"}},
		{"service bad tag", &entity.Service{Host: "a", Meta: entity.Meta{Tags: []string{"a,b"}}},
			entity.FieldErrors{"tags": "invalid tag 'a,b': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"}},

		// routes
		{"route matching nothing", &entity.Route{},
			entity.FieldErrors{"@entity": "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"}},
		{"http route matching nothing", &entity.Route{Protocols: []string{"http"}},
			entity.FieldErrors{"@entity": "must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'"}},
		{"route snis over http", &entity.Route{Protocols: []string{"http"}, Paths: []string{"/"}, SNIs: []string{"a.example.com"}},
			entity.FieldErrors{"snis": "'snis' can only be set when 'protocols' is 'https'"}},
		{"route bad protocol", &entity.Route{Protocols: []string{"tcp"}, Paths: []string{"/"}},
			entity.FieldErrors{"protocols": "expected one of: http, https"}},
		{"route empty protocols", &entity.Route{Protocols: []string{}, Paths: []string{"/"}},
			entity.FieldErrors{"protocols": "length must be at least 1"}},
		{"route lowercase method", &entity.Route{Methods: []string{"GET", "post"}},
			entity.FieldErrors{"methods": "invalid value: post"}},
		{"route wildcard in the middle", &entity.Route{Hosts: []string{"a.*.com"}},
			entity.FieldErrors{"hosts": "invalid wildcard: must be placed at leftmost or rightmost label"}},
		{"route two wildcards", &entity.Route{Hosts: []string{"*.example.*"}},
			entity.FieldErrors{"hosts": "invalid wildcard: must have at most one wildcard"}},
		{"route host bad port", &entity.Route{Hosts: []string{"example.com:99999"}},
			entity.FieldErrors{"hosts": "invalid port number"}},
		{"route bad path start", &entity.Route{Paths: []string{"foo"}},
			entity.FieldErrors{"paths": "should start with: / (fixed path) or ~/ (regex path)"}},
		{"route bad regex", &entity.Route{Paths: []string{"~/a(b"}},
			entity.FieldErrors{"paths": "invalid regex: '/a(b' (error parsing regexp: missing closing ): `/a(b`)"}},
		{"route non-normalized path", &entity.Route{Paths: []string{"/a/../b"}},
			entity.FieldErrors{"paths": "non-normalized path, consider use '/b' instead"}},
		{"route escaped unreserved", &entity.Route{Paths: []string{"/%61pi"}},
			entity.FieldErrors{"paths": "non-normalized path, consider use '/api' instead"}},
		{"route empty segments", &entity.Route{Paths: []string{"/a//b"}},
			entity.FieldErrors{"paths": "must not have empty segments"}},
		{"route host header", &entity.Route{Headers: map[string][]string{"Host": {"a"}}},
			entity.FieldErrors{"headers": "cannot contain 'host' header, which must be specified in the 'hosts' attribute"}},
		{"route bad header name", &entity.Route{Headers: map[string][]string{"x y": {"a"}}},
			entity.FieldErrors{"headers": "bad header name 'x y', allowed characters are A-Z, a-z, 0-9, '_', and '-'"}},
		{"route header without values", &entity.Route{Headers: map[string][]string{"x-a": {}}},
			entity.FieldErrors{"headers": "length must be at least 1"}},
		{"route redirect code", &entity.Route{Paths: []string{"/"}, HTTPSRedirectStatusCode: 303},
			entity.FieldErrors{"https_redirect_status_code": "expected one of: 426, 301, 302, 307, 308"}},
		{"route path handling", &entity.Route{Paths: []string{"/"}, PathHandling: "v2"},
			entity.FieldErrors{"path_handling": "expected one of: v0, v1"}},
		{"route service without id", &entity.Route{Paths: []string{"/"}, Service: &entity.Ref{}},
			entity.FieldErrors{"service": entity.FieldErrors{"id": "required field missing"}}},
		{"route sni with port", &entity.Route{SNIs: []string{"a.example.com:443"}},
			entity.FieldErrors{"snis": "must not have a port"}},

		// consumers and credentials
		{"consumer without identity", &entity.Consumer{},
			entity.FieldErrors{"@entity": "at least one of these fields must be non-empty: 'custom_id', 'username'"}},
		{"key-auth without consumer", &entity.KeyAuthCredential{Key: "k"},
			entity.FieldErrors{"consumer": "required field missing"}},
		{"key-auth bad hash and ttl", &entity.KeyAuthCredential{KeyHash: "xyz", TTL: -1, Consumer: ref(id1)},
			entity.FieldErrors{"key_hash": "expected a hex SHA-256 digest", "ttl": "value should be between 0 and 100000000"}},
		{"basic-auth empty", &entity.BasicAuthCredential{},
			entity.FieldErrors{"consumer": "required field missing", "username": "required field missing", "password": "required field missing"}},
		{"basic-auth long password", &entity.BasicAuthCredential{Username: "u", Password: string(make([]byte, 73)), Consumer: ref(id1)},
			entity.FieldErrors{"password": "length must be at most 72"}},
		{"basic-auth bad hash", &entity.BasicAuthCredential{Username: "u", PasswordHash: "plain", Consumer: ref(id1)},
			entity.FieldErrors{"password_hash": "expected a bcrypt hash"}},
		{"acl without group", &entity.ACLGroup{Consumer: ref(id1)},
			entity.FieldErrors{"group": "required field missing"}},

		// plugins
		{"plugin without name", &entity.Plugin{},
			entity.FieldErrors{"name": "required field missing"}},
		{"plugin unknown", &entity.Plugin{Name: "nope"},
			entity.FieldErrors{"name": "plugin 'nope' not enabled; add it to 'plugins' configuration property"}},
		{"plugin bad protocol", &entity.Plugin{Name: "nope", Protocols: []string{"udp"}},
			entity.FieldErrors{"protocols": "expected one of: grpc, grpcs, http, https", "name": "plugin 'nope' not enabled; add it to 'plugins' configuration property"}},
		{"plugin bad instance name", &entity.Plugin{Name: "nope", InstanceName: "a/b"},
			entity.FieldErrors{"instance_name": "invalid value 'a/b': the only accepted ascii characters are alphanumerics or ., -, _, and ~", "name": "plugin 'nope' not enabled; add it to 'plugins' configuration property"}},

		{"plugin config unknown field", &entity.Plugin{Name: "limits", Config: json.RawMessage(`{"minute":5,"hour":1}`)},
			entity.FieldErrors{"config": entity.FieldErrors{"hour": "unknown field"}}},
		{"plugin config wrong type", &entity.Plugin{Name: "limits", Config: json.RawMessage(`{"minute":"five"}`)},
			entity.FieldErrors{"config": entity.FieldErrors{"minute": "expected an integer"}}},
		{"plugin config rejected by constructor", &entity.Plugin{Name: "limits"},
			entity.FieldErrors{"config": entity.FieldErrors{"minute": "must be greater than 0"}}},
		{"plugin config not an object", &entity.Plugin{Name: "limits", Config: json.RawMessage(`[1]`)},
			entity.FieldErrors{"config": entity.FieldErrors{"@entity": "expected a record"}}},
		{"plugin on consumer not allowed", &entity.Plugin{Name: "auth", Consumer: ref(id1)},
			entity.FieldErrors{"consumer": "value must be null"}},

		// upstreams and targets
		{"upstream without name", &entity.Upstream{},
			entity.FieldErrors{"name": "required field missing"}},
		{"upstream ip name", &entity.Upstream{Name: "10.0.0.1"},
			entity.FieldErrors{"name": "Invalid name ('10.0.0.1'); no ip addresses allowed"}},
		{"upstream name with port", &entity.Upstream{Name: "svc:80"},
			entity.FieldErrors{"name": "Invalid name ('svc:80'); no port allowed"}},
		{"upstream bad name", &entity.Upstream{Name: "a b"},
			entity.FieldErrors{"name": "Invalid name ('a b'); must be a valid hostname"}},
		{"upstream bad algorithm and slots", &entity.Upstream{Name: "u", Algorithm: "random", Slots: 5},
			entity.FieldErrors{"algorithm": "expected one of: round-robin, consistent-hashing, least-connections", "slots": "value should be between 10 and 65536"}},
		{"upstream hash on header without header", &entity.Upstream{Name: "u", HashOn: "header"},
			entity.FieldErrors{"hash_on_header": "required field missing"}},
		{"upstream hash on cookie without cookie", &entity.Upstream{Name: "u", HashOn: "cookie"},
			entity.FieldErrors{"hash_on_cookie": "required field missing"}},
		{"upstream fallback without hashing", &entity.Upstream{Name: "u", HashFallback: "ip"},
			entity.FieldErrors{"hash_fallback": "expected one of: none"}},
		{"upstream fallback after cookie", &entity.Upstream{Name: "u", HashOn: "cookie", HashOnCookie: "c", HashFallback: "ip"},
			entity.FieldErrors{"hash_fallback": "expected one of: none"}},
		{"upstream same hash and fallback", &entity.Upstream{Name: "u", HashOn: "ip", HashFallback: "ip"},
			entity.FieldErrors{"@entity": "values of these fields must be distinct: 'hash_on', 'hash_fallback'"}},
		{"upstream same headers", &entity.Upstream{Name: "u", HashOn: "header", HashOnHeader: "X-A", HashFallback: "header", HashFallbackHeader: "x-a"},
			entity.FieldErrors{"@entity": "values of these fields must be distinct: 'hash_on_header', 'hash_fallback_header'"}},
		{"upstream bad hash_on", &entity.Upstream{Name: "u", HashOn: "path"},
			entity.FieldErrors{"hash_on": "expected one of: none, consumer, ip, header, cookie"}},
		{"upstream bad header name", &entity.Upstream{Name: "u", HashOn: "header", HashOnHeader: "a:b"},
			entity.FieldErrors{"hash_on_header": "bad header name 'a:b', allowed characters are A-Z, a-z, 0-9, '_', and '-'"}},
		{"upstream bad healthchecks", &entity.Upstream{Name: "u", Healthchecks: entity.Healthchecks{
			Active: entity.ActiveHealthcheck{Type: "udp", HTTPPath: "x", Concurrency: -1,
				Healthy:   entity.HealthyRule{HTTPStatuses: []int{99}, Successes: 256},
				Unhealthy: entity.UnhealthyRule{TCPFailures: 300, Interval: -1}},
			Passive:   entity.PassiveHealthcheck{Unhealthy: entity.UnhealthyRule{Timeouts: -1}},
			Threshold: 101,
		}}, entity.FieldErrors{"healthchecks": entity.FieldErrors{
			"active": entity.FieldErrors{
				"type":        "expected one of: tcp, http, https",
				"http_path":   "should start with: /",
				"concurrency": "value should be between 1 and 2147483647",
				"healthy": entity.FieldErrors{
					"http_statuses": "value should be between 100 and 999",
					"successes":     "value should be between 0 and 255",
				},
				"unhealthy": entity.FieldErrors{
					"tcp_failures": "value should be between 0 and 255",
					"interval":     "value should be between 0 and 65535",
				},
			},
			"passive":   entity.FieldErrors{"unhealthy": entity.FieldErrors{"timeouts": "value should be between 0 and 255"}},
			"threshold": "value should be between 0 and 100",
		}}},
		{"target empty", &entity.Target{},
			entity.FieldErrors{"target": "required field missing", "upstream": "required field missing"}},
		{"target bad", &entity.Target{Target: "a b:80", Upstream: ref(id1)},
			entity.FieldErrors{"target": "Invalid target ('a b:80'); not a valid hostname or ip address"}},
		{"target bad port", &entity.Target{Target: "a:99999", Upstream: ref(id1)},
			entity.FieldErrors{"target": "Invalid target ('a:99999'); not a valid hostname or ip address"}},
		{"target weight", &entity.Target{Target: "a", Weight: new(70000), Upstream: ref(id1)},
			entity.FieldErrors{"weight": "value should be between 0 and 65535"}},

		// certificates and SNIs
		{"certificate empty", &entity.Certificate{},
			entity.FieldErrors{"cert": "required field missing", "key": "required field missing"}},
		{"certificate not pem", &entity.Certificate{Cert: "nope", Key: "nope"},
			entity.FieldErrors{"cert": "invalid certificate: no PEM certificate found", "key": "invalid key: no PEM private key found"}},
		{"certificate mismatched key", &entity.Certificate{Cert: certA.cert, Key: certB.key},
			entity.FieldErrors{"@entity": "certificate does not match key"}},
		{"certificate key as cert", &entity.Certificate{Cert: certA.key, Key: certA.cert},
			entity.FieldErrors{"cert": "invalid certificate: no PEM certificate found", "key": "invalid key: no PEM private key found"}},
		{"certificate bad sni shorthand", &entity.Certificate{Cert: certA.cert, Key: certA.key, SNIs: []string{"1.2.3.4"}},
			entity.FieldErrors{"snis": "must not be an IP"}},
		{"sni empty", &entity.SNI{},
			entity.FieldErrors{"name": "required field missing", "certificate": "required field missing"}},
		{"sni with port", &entity.SNI{Name: "a.example.com:443", Certificate: ref(id1)},
			entity.FieldErrors{"name": "must not have a port"}},
		{"sni ip", &entity.SNI{Name: "10.0.0.1", Certificate: ref(id1)},
			entity.FieldErrors{"name": "must not be an IP"}},
		{"sni middle wildcard", &entity.SNI{Name: "a.*.com", Certificate: ref(id1)},
			entity.FieldErrors{"name": "invalid wildcard: must be placed at leftmost or rightmost label"}},

		// workspaces
		{"workspace without name", &entity.Workspace{},
			entity.FieldErrors{"name": "required field missing"}},
		{"workspace bad name", &entity.Workspace{Name: "a/b"},
			entity.FieldErrors{"name": "invalid value 'a/b': it must only contain alphanumeric and '., -, _, ~' characters"}},
		{"workspace reserved name", &entity.Workspace{Name: "services"},
			entity.FieldErrors{"name": "'services' is a reserved name"}},

		// analytics tokens
		{"analytics token short, negative expiry, bad name", &entity.AnalyticsToken{Name: "a b", Token: "tga_short", ExpiresAt: -1},
			entity.FieldErrors{
				"name":       "invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~",
				"token":      "length must be at least 20",
				"expires_at": "value must be greater than or equal to 0",
			}},
		{"analytics token not a bearer token", &entity.AnalyticsToken{Token: "tga_0123456789 abcdefghij"},
			entity.FieldErrors{"token": "invalid value: the only accepted characters are alphanumerics and -, ., _, ~, +, / (then optional trailing =)"}},
		{"analytics token padding inside", &entity.AnalyticsToken{Token: "tga_0123456789=abcdefghij"},
			entity.FieldErrors{"token": "invalid value: the only accepted characters are alphanumerics and -, ., _, ~, +, / (then optional trailing =)"}},
		{"analytics token consumer without id", &entity.AnalyticsToken{Consumer: &entity.Ref{}},
			entity.FieldErrors{"consumer": entity.FieldErrors{"id": "required field missing"}}},
	}
	reg := testRegistry()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Normalize(tt.in, reg)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Normalize() =\n  %#v\nwant\n  %#v", got, tt.want)
			}
			if got.Err() == nil {
				t.Error("Err() = nil for invalid entity")
			}
		})
	}
}

func TestNormalizeValid(t *testing.T) {
	cert := newTestCert(t, "a.example.com")
	tests := []struct {
		name string
		in   entity.Entity
	}{
		{"service ipv6 host", &entity.Service{Host: "::1"}},
		{"service bracketed ipv6", &entity.Service{Host: "[::1]"}},
		{"service path with sub-delims", &entity.Service{Host: "a", Path: "/a;b=c/%20x"}},
		{"route pcre named group", &entity.Route{Paths: []string{`~/users/(?<id>\d+)$`}}},
		{"route pcre quoted named group", &entity.Route{Paths: []string{`~/users/(?'id'\d+)$`}}},
		{"route case-insensitive regex", &entity.Route{Paths: []string{`~/(?i)api`}}},
		{"route escaped paren is not a group", &entity.Route{Paths: []string{`~/a\(?<b`}}},
		{"route hosts", &entity.Route{Hosts: []string{"*.example.com", "example.*", "example.com:8000", "[::1]:80", "10.0.0.1"}}},
		{"route headers", &entity.Route{Headers: map[string][]string{"X-Version": {"1", "2"}}}},
		{"route methods only", &entity.Route{Methods: []string{"GET"}}},
		{"https route snis only", &entity.Route{Protocols: []string{"https"}, SNIs: []string{"*.example.com"}}},
		{"consumer custom id", &entity.Consumer{CustomID: "c1"}},
		{"key-auth generated", &entity.KeyAuthCredential{Consumer: ref(id1)}},
		{"key-auth imported hash", &entity.KeyAuthCredential{KeyHash: HashKey("k"), KeyPrefix: "k", Consumer: ref(id1)}},
		{"upstream hash on header with fallback", &entity.Upstream{Name: "u.internal", Algorithm: "consistent-hashing", HashOn: "header", HashOnHeader: "X-A", HashFallback: "ip"}},
		{"certificate", &entity.Certificate{Cert: cert.cert, Key: cert.key, SNIs: []string{"a.example.com", "*.example.org"}}},
		{"sni", &entity.SNI{Name: "*.example.com", Certificate: ref(id1)}},
		{"workspace", &entity.Workspace{Name: "team-a.prod~1"}},
		{"analytics token generated", &entity.AnalyticsToken{}},
		{"analytics token given, named, expiring", &entity.AnalyticsToken{Name: "grafana", Token: "abcdefghijklmnop/+_-.~==", ExpiresAt: 1700000000}},
		{"consumer analytics token", &entity.AnalyticsToken{Token: "01234567890123456789", Consumer: ref(id1)}},
		{"unicode tag", &entity.Consumer{Username: "u", Meta: entity.Meta{Tags: []string{"équipe", "a:b"}}}},
	}
	reg := testRegistry()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Normalize(tt.in, reg); got != nil {
				t.Errorf("Normalize() = %#v, want nil", got)
			}
		})
	}
}

func TestNormalizeDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   entity.Entity
		want entity.Entity
	}{
		{"service", &entity.Service{Host: "example.com"}, &entity.Service{
			Host: "example.com", Protocol: "http", Port: 80, Retries: new(5),
			ConnectTimeout: 60000, ReadTimeout: 60000, WriteTimeout: 60000, Enabled: boolPtr(true),
		}},
		{"https service", &entity.Service{Host: "example.com", Protocol: "https"}, &entity.Service{
			Host: "example.com", Protocol: "https", Port: 443, Retries: new(5),
			ConnectTimeout: 60000, ReadTimeout: 60000, WriteTimeout: 60000, Enabled: boolPtr(true),
		}},
		{"service url", &entity.Service{URL: "https://api.example.com/v1/a%20b", Retries: new(2)}, &entity.Service{
			Host: "api.example.com", Protocol: "https", Port: 443, Path: "/v1/a%20b", Retries: new(2),
			ConnectTimeout: 60000, ReadTimeout: 60000, WriteTimeout: 60000, Enabled: boolPtr(true),
		}},
		{"explicit zero retries are kept", &entity.Service{Host: "example.com", Retries: new(0)}, &entity.Service{
			Host: "example.com", Protocol: "http", Port: 80, Retries: new(0),
			ConnectTimeout: 60000, ReadTimeout: 60000, WriteTimeout: 60000, Enabled: boolPtr(true),
		}},
		{"explicit zero weight is kept", &entity.Target{Target: "example.com", Weight: new(0), Upstream: ref(id1)}, &entity.Target{
			Target: "example.com:8000", Weight: new(0), Upstream: ref(id1),
		}},
		{"service url with port", &entity.Service{URL: "http://[::1]:8080"}, &entity.Service{
			Host: "::1", Protocol: "http", Port: 8080, Retries: new(5),
			ConnectTimeout: 60000, ReadTimeout: 60000, WriteTimeout: 60000, Enabled: boolPtr(true),
		}},
		{"plugin config defaults", &entity.Plugin{Name: "limits", Config: json.RawMessage(`{"minute": 5}`), Route: ref(id2)}, &entity.Plugin{
			Name: "limits", Config: json.RawMessage(`{"minute":5,"policy":"local"}`), Route: ref(id2),
			Protocols: []string{"grpc", "grpcs", "http", "https"}, Enabled: boolPtr(true),
		}},
		{"plugin keeps protocols and enabled", &entity.Plugin{Name: "auth", Protocols: []string{"https"}, Enabled: boolPtr(false)}, &entity.Plugin{
			Name: "auth", Config: json.RawMessage(`{}`), Protocols: []string{"https"}, Enabled: boolPtr(false),
		}},
		{"route", &entity.Route{Paths: []string{"/a"}, Methods: []string{"GET", "GET"}}, &entity.Route{
			Paths: []string{"/a"}, Methods: []string{"GET"}, Protocols: []string{"http", "https"},
			HTTPSRedirectStatusCode: 426, StripPath: boolPtr(true), PathHandling: "v0",
			RequestBuffering: boolPtr(true), ResponseBuffering: boolPtr(true),
		}},
		{"route keeps explicit values", &entity.Route{Paths: []string{"/a"}, Protocols: []string{"https"}, StripPath: boolPtr(false),
			PathHandling: "v1", HTTPSRedirectStatusCode: 301, RegexPriority: 7, PreserveHost: true}, &entity.Route{
			Paths: []string{"/a"}, Protocols: []string{"https"}, HTTPSRedirectStatusCode: 301, RegexPriority: 7,
			StripPath: boolPtr(false), PathHandling: "v1", PreserveHost: true,
			RequestBuffering: boolPtr(true), ResponseBuffering: boolPtr(true),
		}},
		{"target", &entity.Target{Target: "example.com", Upstream: ref(id1)}, &entity.Target{
			Target: "example.com:8000", Weight: new(100), Upstream: ref(id1),
		}},
		{"ipv6 target", &entity.Target{Target: "[::1]:81", Weight: new(5), Upstream: ref(id1)}, &entity.Target{
			Target: "[::1]:81", Weight: new(5), Upstream: ref(id1),
		}},
		{"upstream", &entity.Upstream{Name: "backend"}, &entity.Upstream{
			Name: "backend", Algorithm: "round-robin", HashOn: "none", HashFallback: "none",
			HashOnCookiePath: "/", Slots: 10000,
			Healthchecks: entity.Healthchecks{
				Active: entity.ActiveHealthcheck{
					Type: "http", HTTPPath: "/", Timeout: 1, Concurrency: 10, HTTPSVerifyCertificate: new(true),
					Healthy:   entity.HealthyRule{HTTPStatuses: []int{200, 302}},
					Unhealthy: entity.UnhealthyRule{HTTPStatuses: []int{429, 404, 500, 501, 502, 503, 504, 505}},
				},
				Passive: entity.PassiveHealthcheck{
					Type: "http",
					Healthy: entity.HealthyRule{HTTPStatuses: []int{200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
						300, 301, 302, 303, 304, 305, 306, 307, 308}},
					Unhealthy: entity.UnhealthyRule{HTTPStatuses: []int{429, 500, 503}},
				},
			},
		}},
	}
	reg := testRegistry()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if errs := Normalize(tt.in, reg); errs != nil {
				t.Fatalf("Normalize() = %#v", errs)
			}
			if !reflect.DeepEqual(tt.in, tt.want) {
				got, _ := json.Marshal(tt.in)
				want, _ := json.Marshal(tt.want)
				t.Errorf("after Normalize:\n  %s\nwant\n  %s", got, want)
			}
		})
	}
}

func TestNormalizeFillsDefaultsDespiteErrors(t *testing.T) {
	p := &entity.Plugin{Name: "nope"}
	if errs := Normalize(p, testRegistry()); errs == nil {
		t.Fatal("Normalize() = nil for an unknown plugin")
	}
	want := &entity.Plugin{Name: "nope", Protocols: []string{"grpc", "grpcs", "http", "https"}, Enabled: boolPtr(true)}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("after Normalize: %+v, want %+v", p, want)
	}
}

func TestNormalizeNilRegistry(t *testing.T) {
	got := Normalize(&entity.Plugin{Name: "limits"}, nil)
	want := entity.FieldErrors{"name": "plugin 'limits' not enabled; add it to 'plugins' configuration property"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Normalize() = %#v, want %#v", got, want)
	}
}

func TestTranslateRegex(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", `/a/b`, `/a/b`},
		{"named group", `/(?<id>\d+)`, `/(?P<id>\d+)`},
		{"quoted named group", `/(?'id'\d+)`, `/(?P<id>\d+)`},
		{"go named group", `/(?P<id>\d+)`, `/(?P<id>\d+)`},
		{"lookbehind untouched", `(?<=a)b`, `(?<=a)b`},
		{"negative lookbehind untouched", `(?<!a)b`, `(?<!a)b`},
		{"escaped paren", `\(?<x>`, `\(?<x>`},
		{"in class", `[(?<x>]`, `[(?<x>]`},
		{"class with bracket", `[]](?<x>a)`, `[]](?P<x>a)`},
		{"flags", `(?i)/a`, `(?i)/a`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := translateRegex(tt.in); got != tt.want {
				t.Errorf("translateRegex(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
