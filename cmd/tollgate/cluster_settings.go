package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/gateway/logship"
	"github.com/tollgate/tollgate/internal/cassandra"
)

// ClusterSettings configure cluster mode. The cassandra_* names are Kong's
// (kong.conf), so a Kong operator's settings carry over.
type ClusterSettings struct {
	// CassandraHosts are comma-separated contact points, host or host:port.
	CassandraHosts string
	// CassandraKeyspace is the keyspace Tollgate's tables live in.
	CassandraKeyspace string
	// CassandraConsistency is the consistency level of reads and writes;
	// CassandraSerialConsistency that of lightweight transactions.
	CassandraConsistency       string
	CassandraSerialConsistency string
	// CassandraUsername and CassandraPassword authenticate, when set.
	CassandraUsername, CassandraPassword string
	// CassandraLocalDatacenter keeps queries in one datacenter.
	CassandraLocalDatacenter string
	// CassandraTimeout bounds each query.
	CassandraTimeout string
	// CassandraSSL ("on"/"off") encrypts connections; CassandraSSLVerify
	// checks the server's certificate against CassandraSSLCA (a PEM file)
	// or the system roots.
	CassandraSSL, CassandraSSLVerify, CassandraSSLCA string
	// CassandraReplStrategy (SimpleStrategy or NetworkTopologyStrategy),
	// CassandraReplFactor and CassandraDataCenters ("dc1:3,dc2:2") are the
	// keyspace's replication, used by `tollgate migrate cassandra up`.
	CassandraReplStrategy, CassandraReplFactor, CassandraDataCenters string
	// ClusterName separates clusters sharing one keyspace's node registry.
	ClusterName string
	// DBUpdateFrequency is how often a node polls for config changes: a Go
	// duration ("100ms") or seconds as in Kong ("0.1").
	DBUpdateFrequency string
	// RatelimitSyncInterval is how often cluster rate-limit counters sync.
	RatelimitSyncInterval string
}

// DefaultClusterSettings returns the defaults of ARCHITECTURE.md's table.
func DefaultClusterSettings() ClusterSettings {
	return ClusterSettings{
		CassandraHosts:             "127.0.0.1:9042",
		CassandraKeyspace:          "tollgate",
		CassandraConsistency:       "LOCAL_QUORUM",
		CassandraSerialConsistency: "LOCAL_SERIAL",
		CassandraTimeout:           "2s",
		CassandraSSL:               "off",
		CassandraSSLVerify:         "on",
		CassandraReplStrategy:      "SimpleStrategy",
		CassandraReplFactor:        "1",
		ClusterName:                "default",
		DBUpdateFrequency:          "100ms",
		RatelimitSyncInterval:      "100ms",
	}
}

func (c *ClusterSettings) table() []setting {
	return []setting{
		{"cassandra_hosts", "Cassandra contact points, comma-separated host[:port]", &c.CassandraHosts},
		{"cassandra_keyspace", "keyspace holding Tollgate's tables", &c.CassandraKeyspace},
		{"cassandra_consistency", "consistency level of reads and writes", &c.CassandraConsistency},
		{"cassandra_serial_consistency", "consistency level of lightweight transactions (SERIAL or LOCAL_SERIAL)", &c.CassandraSerialConsistency},
		{"cassandra_username", "Cassandra user (PasswordAuthenticator)", &c.CassandraUsername},
		{"cassandra_password", "Cassandra password", &c.CassandraPassword},
		{"cassandra_local_datacenter", "datacenter this node queries (DC-aware routing)", &c.CassandraLocalDatacenter},
		{"cassandra_timeout", "timeout of each Cassandra query", &c.CassandraTimeout},
		{"cassandra_ssl", "on to connect to Cassandra with TLS", &c.CassandraSSL},
		{"cassandra_ssl_verify", "on to verify Cassandra's certificate", &c.CassandraSSLVerify},
		{"cassandra_ssl_ca", "PEM file of CAs trusted for Cassandra's certificate (default: system roots)", &c.CassandraSSLCA},
		{"cassandra_repl_strategy", "keyspace replication for migrate: SimpleStrategy or NetworkTopologyStrategy", &c.CassandraReplStrategy},
		{"cassandra_repl_factor", "replication factor with SimpleStrategy", &c.CassandraReplFactor},
		{"cassandra_data_centers", "per-datacenter factors with NetworkTopologyStrategy, e.g. dc1:3,dc2:2", &c.CassandraDataCenters},
		{"cluster_name", "name of this cluster in the node registry", &c.ClusterName},
		{"db_update_frequency", "how often a node polls Cassandra for config changes (100ms, or seconds: 0.1)", &c.DBUpdateFrequency},
		{"ratelimit_sync_interval", "how often cluster rate-limit counters are synced", &c.RatelimitSyncInterval},
	}
}

// parseInterval reads a Go duration or a number of seconds.
func parseInterval(v string) (time.Duration, error) {
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return 0, errors.New("must be positive")
		}
		return d, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a duration (100ms) nor a number of seconds", v)
	}
	if f <= 0 {
		return 0, errors.New("must be positive")
	}
	return time.Duration(f * float64(time.Second)), nil
}

func parseOnOff(key, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("%s %q: must be on or off", key, v)
}

func (c *ClusterSettings) validate() []error {
	var errs []error
	for key, v := range map[string]string{
		"db_update_frequency":     c.DBUpdateFrequency,
		"ratelimit_sync_interval": c.RatelimitSyncInterval,
		"cassandra_timeout":       c.CassandraTimeout,
	} {
		if _, err := parseInterval(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	for key, v := range map[string]string{"cassandra_ssl": c.CassandraSSL, "cassandra_ssl_verify": c.CassandraSSLVerify} {
		if _, err := parseOnOff(key, v); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ClusterName == "" {
		errs = append(errs, errors.New("cluster_name: must not be empty"))
	}
	cfg, err := c.cassandraConfig(false)
	if err != nil {
		errs = append(errs, err)
	} else if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// cassandraConfig returns the connection settings; withCA reads the CA
// file (validate does not touch the file system).
func (c *ClusterSettings) cassandraConfig(withCA bool) (cassandra.Config, error) {
	cfg := cassandra.DefaultConfig()
	cfg.Hosts = nil
	for _, h := range strings.Split(c.CassandraHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.Hosts = append(cfg.Hosts, h)
		}
	}
	cfg.Keyspace = c.CassandraKeyspace
	cfg.Consistency = c.CassandraConsistency
	cfg.SerialConsistency = c.CassandraSerialConsistency
	cfg.Username, cfg.Password = c.CassandraUsername, c.CassandraPassword
	cfg.LocalDC = c.CassandraLocalDatacenter
	if d, err := parseInterval(c.CassandraTimeout); err == nil {
		cfg.Timeout = d
	}
	if ssl, _ := parseOnOff("cassandra_ssl", c.CassandraSSL); ssl {
		verify, _ := parseOnOff("cassandra_ssl_verify", c.CassandraSSLVerify)
		// The same loading as the Kafka connections'.
		t := logship.TLSSettings{Enabled: true, InsecureSkipVerify: !verify}
		if withCA {
			t.CAFile = c.CassandraSSLCA
		}
		tlsCfg, err := t.Config()
		if err != nil {
			return cfg, fmt.Errorf("cassandra_ssl_ca: %w", err)
		}
		cfg.TLS = tlsCfg
	}
	return cfg, nil
}

func (c *ClusterSettings) pollInterval() time.Duration {
	d, _ := parseInterval(c.DBUpdateFrequency)
	return d
}

func (c *ClusterSettings) syncInterval() time.Duration {
	d, _ := parseInterval(c.RatelimitSyncInterval)
	return d
}
