package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
)

// Settings are the options every component reads. Each has a flag
// (--proxy-listen), a key in the optional config file (proxy_listen = …, in
// kong.conf's format) and an environment variable (TOLLGATE_PROXY_LISTEN), with
// precedence flag > environment > file > default.
type Settings struct {
	// ProxyListen is a comma-separated list of "host:port" with an optional
	// " ssl" suffix for TLS listeners, as Kong's proxy_listen.
	ProxyListen string
	// AdminListen is where the Admin API listens; loopback by default.
	AdminListen string
	// StatusListen serves /status, /ready and /metrics.
	StatusListen string
	// AnalyticsListen is where the analytics API and dashboard listen
	// ("off" serves neither).
	AnalyticsListen string
	// DataDir holds the embedded config store and, later, the log spool.
	DataDir string
	// AdminToken, when set, is required as a bearer token on every Admin API request.
	AdminToken string
	// NodeID names this node in logs, metrics and request log records.
	NodeID string
	// TrustedIPs lists the CIDRs whose X-Forwarded-* headers are believed.
	TrustedIPs string
	// RealIPHeader is the header the client address is read from when the
	// peer is trusted.
	RealIPHeader string
	// LogLevel is debug, info, warn or error.
	LogLevel string

	// Cluster holds the settings of `tollgate gateway` and `tollgate
	// migrate cassandra`: where Cassandra is and how the node syncs with it.
	Cluster ClusterSettings
	// Pipeline holds the settings of the request-log pipeline: the
	// gateway's Kafka sink, `tollgate collector` and `tollgate migrate
	// clickhouse`.
	Pipeline PipelineSettings
}

// DefaultSettings returns the settings a fresh install runs with.
func DefaultSettings() Settings {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "tollgate"
	}
	return Settings{
		ProxyListen:     "0.0.0.0:8000",
		AdminListen:     "127.0.0.1:8001",
		StatusListen:    "127.0.0.1:8100",
		AnalyticsListen: "0.0.0.0:8002",
		DataDir:         "./data",
		NodeID:          host,
		RealIPHeader:    "X-Forwarded-For",
		LogLevel:        "info",
		Cluster:         DefaultClusterSettings(),
		Pipeline:        DefaultPipelineSettings(),
	}
}

type setting struct {
	key   string // file key; the flag is key with - for _, the env var TOLLGATE_ + upper(key)
	usage string
	ptr   *string
}

func (s *Settings) table() []setting {
	return append([]setting{
		{"proxy_listen", "proxy listeners, comma-separated host:port with optional ' ssl'", &s.ProxyListen},
		{"admin_listen", "Admin API listener (keep it on loopback or set an admin token)", &s.AdminListen},
		{"status_listen", "listener for /status, /ready and /metrics", &s.StatusListen},
		{"analytics_listen", "analytics API and dashboard listener (off to disable)", &s.AnalyticsListen},
		{"data_dir", "directory for the embedded config store", &s.DataDir},
		{"admin_token", "bearer token required on every Admin API request", &s.AdminToken},
		{"node_id", "name of this node (default: hostname)", &s.NodeID},
		{"trusted_ips", "comma-separated CIDRs whose X-Forwarded-* headers are trusted", &s.TrustedIPs},
		{"real_ip_header", "header carrying the client address from trusted proxies", &s.RealIPHeader},
		{"log_level", "debug, info, warn or error", &s.LogLevel},
	}, append(s.Cluster.table(), s.Pipeline.table()...)...)
}

func envName(key string) string  { return "TOLLGATE_" + strings.ToUpper(key) }
func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// registerFlags adds a flag per setting (and --conf) to fs.
func (s *Settings) registerFlags(fs *flag.FlagSet, conf *string) {
	for _, st := range s.table() {
		fs.String(flagName(st.key), "", st.usage+" (env "+envName(st.key)+")")
	}
	fs.StringVar(conf, "conf", os.Getenv("TOLLGATE_CONF"), "optional config file of key = value lines (env TOLLGATE_CONF)")
}

// load applies file, environment and set flags over the defaults in s.
func (s *Settings) load(fs *flag.FlagSet, conf string, getenv func(string) string) error {
	if conf != "" {
		data, err := os.ReadFile(conf)
		if err != nil {
			return fmt.Errorf("read config file: %w", err)
		}
		values, err := parseConf(data)
		if err != nil {
			return fmt.Errorf("config file %s: %w", conf, err)
		}
		known := map[string]*string{}
		for _, st := range s.table() {
			known[st.key] = st.ptr
		}
		var unknown []string
		for k, v := range values {
			p, ok := known[k]
			if !ok {
				unknown = append(unknown, k)
				continue
			}
			*p = v
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return fmt.Errorf("config file %s: unknown settings: %s", conf, strings.Join(unknown, ", "))
		}
	}
	for _, st := range s.table() {
		if v := getenv(envName(st.key)); v != "" {
			*st.ptr = v
		}
	}
	byFlag := map[string]*string{}
	for _, st := range s.table() {
		byFlag[flagName(st.key)] = st.ptr
	}
	fs.Visit(func(f *flag.Flag) {
		if p, ok := byFlag[f.Name]; ok {
			*p = f.Value.String()
		}
	})
	return s.Validate()
}

// parseConf reads kong.conf's format: "key = value" lines, # comments, blank
// lines. Values may be quoted with double quotes.
func parseConf(data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if i := strings.Index(text, "#"); i >= 0 && !strings.Contains(text[:i], `"`) {
			text = strings.TrimSpace(text[:i])
		}
		if text == "" {
			continue
		}
		k, v, ok := strings.Cut(text, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: expected key = value", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			return nil, fmt.Errorf("line %d: missing key", line)
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		out[strings.ToLower(k)] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ProxyListener is one parsed proxy_listen entry.
type ProxyListener struct {
	Addr string
	TLS  bool
}

// ParseProxyListen parses "0.0.0.0:8000, 0.0.0.0:8443 ssl".
func ParseProxyListen(v string) ([]ProxyListener, error) {
	var out []ProxyListener
	for _, part := range strings.Split(v, ",") {
		fields := strings.Fields(part)
		if len(fields) == 0 {
			continue
		}
		l := ProxyListener{Addr: fields[0]}
		for _, f := range fields[1:] {
			switch f {
			case "ssl":
				l.TLS = true
			default:
				return nil, fmt.Errorf("proxy_listen %q: unknown option %q (only 'ssl' is supported)", part, f)
			}
		}
		if _, _, err := net.SplitHostPort(l.Addr); err != nil {
			return nil, fmt.Errorf("proxy_listen %q: %w", part, err)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, errors.New("proxy_listen: no listener given")
	}
	return out, nil
}

// ParseTrustedIPs parses a comma-separated list of IPs and CIDRs.
func ParseTrustedIPs(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("trusted_ips: %q is not an IP or CIDR", part)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("trusted_ips: %q is not an IP or CIDR", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Validate rejects settings that contradict each other or cannot work,
// naming each bad one.
func (s *Settings) Validate() error {
	var errs []error
	if _, err := ParseProxyListen(s.ProxyListen); err != nil {
		errs = append(errs, err)
	}
	for key, v := range map[string]string{"admin_listen": s.AdminListen, "status_listen": s.StatusListen, "analytics_listen": s.AnalyticsListen} {
		if v == "off" {
			continue
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", key, v, err))
		}
	}
	if _, err := ParseTrustedIPs(s.TrustedIPs); err != nil {
		errs = append(errs, err)
	}
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level %q: must be debug, info, warn or error", s.LogLevel))
	}
	if s.DataDir == "" {
		errs = append(errs, errors.New("data_dir: must not be empty"))
	}
	errs = append(errs, s.Cluster.validate()...)
	errs = append(errs, s.Pipeline.validate()...)
	return errors.Join(errs...)
}

// adminIsLoopback reports whether the Admin API listens only on loopback.
func (s *Settings) adminIsLoopback() bool {
	host, _, err := net.SplitHostPort(s.AdminListen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
