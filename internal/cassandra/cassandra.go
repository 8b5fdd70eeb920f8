// Package cassandra opens gocql sessions with Tollgate's settings: hosts,
// keyspace, consistency levels, credentials and TLS. The config store, the
// cluster rate-limit counters, the node registry and migrations all connect
// through it, so they agree on how a cluster is reached. It owns no state
// and never retries on its own; callers decide what an unreachable cluster
// means for them.
package cassandra

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gocql/gocql"
)

// Config says how to reach a Cassandra cluster.
type Config struct {
	// Hosts are contact points, host or host:port (default port 9042).
	Hosts []string
	// Keyspace is the keyspace sessions use ("" for none: migrations
	// create it first).
	Keyspace string
	// Consistency is the level of reads and writes (default LOCAL_QUORUM);
	// SerialConsistency that of lightweight transactions (default
	// LOCAL_SERIAL).
	Consistency       string
	SerialConsistency string
	// Username and Password authenticate with PasswordAuthenticator when set.
	Username, Password string
	// TLS, when non-nil, encrypts connections.
	TLS *tls.Config
	// Timeout bounds each query (default 2s); ConnectTimeout each dial
	// (default 2s).
	Timeout, ConnectTimeout time.Duration
	// LocalDC, when set, keeps queries in that datacenter (DC-aware
	// round-robin) and is what LOCAL_* consistency levels refer to.
	LocalDC string
	// Logger receives the driver's own messages at debug level (default:
	// discarded). Tollgate's components log what a failure means for them;
	// the driver's lines ("unable to dial control conn…") are detail.
	Logger *slog.Logger
}

// DefaultConfig returns the settings of a node with nothing configured.
func DefaultConfig() Config {
	return Config{
		Hosts:             []string{"127.0.0.1:9042"},
		Keyspace:          "tollgate",
		Consistency:       "LOCAL_QUORUM",
		SerialConsistency: "LOCAL_SERIAL",
		Timeout:           2 * time.Second,
		ConnectTimeout:    2 * time.Second,
	}
}

// Validate reports every bad field.
func (c Config) Validate() error {
	var errs []error
	if len(c.Hosts) == 0 {
		errs = append(errs, errors.New("cassandra_hosts: at least one host is required"))
	}
	for _, h := range c.Hosts {
		if _, _, err := splitHost(h); err != nil {
			errs = append(errs, fmt.Errorf("cassandra_hosts: %q: %w", h, err))
		}
	}
	if _, err := parseConsistency(c.Consistency); err != nil {
		errs = append(errs, fmt.Errorf("cassandra_consistency: %w", err))
	}
	if _, err := parseSerial(c.SerialConsistency); err != nil {
		errs = append(errs, fmt.Errorf("cassandra_serial_consistency: %w", err))
	}
	if c.Keyspace != "" && !validIdent(c.Keyspace) {
		errs = append(errs, fmt.Errorf("cassandra_keyspace: %q is not a valid keyspace name (letters, digits and _, at most 48)", c.Keyspace))
	}
	return errors.Join(errs...)
}

// validIdent reports whether s is an unquoted CQL identifier Cassandra
// accepts as a keyspace name.
func validIdent(s string) bool {
	if s == "" || len(s) > 48 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// ValidKeyspace reports whether name can be used as a keyspace name.
func ValidKeyspace(name string) bool { return validIdent(name) }

func splitHost(h string) (string, int, error) {
	if h == "" {
		return "", 0, errors.New("empty host")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return h, 9042, nil
		}
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port %q", port)
	}
	return host, p, nil
}

func parseConsistency(s string) (gocql.Consistency, error) {
	if s == "" {
		return gocql.LocalQuorum, nil
	}
	var c gocql.Consistency
	if err := c.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("unknown consistency level %q (ONE, QUORUM, LOCAL_QUORUM, ALL, LOCAL_ONE…)", s)
	}
	return c, nil
}

func parseSerial(s string) (gocql.SerialConsistency, error) {
	switch strings.ToUpper(s) {
	case "", "LOCAL_SERIAL":
		return gocql.LocalSerial, nil
	case "SERIAL":
		return gocql.Serial, nil
	}
	return 0, fmt.Errorf("unknown serial consistency %q (SERIAL or LOCAL_SERIAL)", s)
}

// Cluster returns the gocql configuration for c. Callers may adjust it
// before CreateSession; Connect does both.
func (c Config) Cluster() (*gocql.ClusterConfig, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cons, _ := parseConsistency(c.Consistency)
	serial, _ := parseSerial(c.SerialConsistency)
	hosts := make([]string, 0, len(c.Hosts))
	port := 9042
	for i, h := range c.Hosts {
		host, p, _ := splitHost(h)
		if i == 0 {
			port = p
		}
		// gocql takes one port for every contact point unless hosts carry
		// their own; keep host:port so mixed ports work.
		hosts = append(hosts, net.JoinHostPort(host, strconv.Itoa(p)))
	}
	cl := gocql.NewCluster(hosts...)
	cl.Port = port
	cl.ProtoVersion = 4
	cl.Keyspace = c.Keyspace
	cl.Consistency = cons
	cl.SerialConsistency = serial
	cl.Timeout = orDefault(c.Timeout, 2*time.Second)
	cl.ConnectTimeout = orDefault(c.ConnectTimeout, 2*time.Second)
	// Fail fast when the cluster is away: callers keep serving from memory
	// and retry on their own schedule.
	cl.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 1, Interval: 500 * time.Millisecond}
	cl.ReconnectInterval = time.Second
	if c.Username != "" {
		cl.Authenticator = gocql.PasswordAuthenticator{Username: c.Username, Password: c.Password}
	}
	if c.TLS != nil {
		cl.SslOpts = &gocql.SslOptions{Config: c.TLS, EnableHostVerification: !c.TLS.InsecureSkipVerify}
	}
	cl.Logger = driverLogger{c.Logger}
	if c.LocalDC != "" {
		cl.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.DCAwareRoundRobinPolicy(c.LocalDC))
	}
	return cl, nil
}

// Connect opens a session. ctx bounds only the wait for the first
// connection.
func Connect(ctx context.Context, c Config) (*gocql.Session, error) {
	cl, err := c.Cluster()
	if err != nil {
		return nil, err
	}
	type result struct {
		s   *gocql.Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := cl.CreateSession()
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("connect to cassandra %s: %w", strings.Join(c.Hosts, ","), r.err)
		}
		return r.s, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, fmt.Errorf("connect to cassandra %s: %w", strings.Join(c.Hosts, ","), ctx.Err())
	}
}

// driverLogger adapts slog to gocql's StdLogger.
type driverLogger struct{ log *slog.Logger }

func (d driverLogger) Print(v ...any) {
	if d.log != nil {
		d.log.Debug(strings.TrimSpace(fmt.Sprint(v...)))
	}
}

func (d driverLogger) Printf(format string, v ...any) {
	if d.log != nil {
		d.log.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
	}
}

func (d driverLogger) Println(v ...any) {
	if d.log != nil {
		d.log.Debug(strings.TrimSpace(fmt.Sprintln(v...)))
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
