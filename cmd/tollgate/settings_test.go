package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSettingsPrecedence(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "tollgate.conf")
	os.WriteFile(conf, []byte(`
# comments and blank lines are ignored
proxy_listen = 127.0.0.1:7000
admin_listen = 127.0.0.1:7001   # trailing comment
data_dir = "/from/file"
log_level = debug
`), 0o600)
	env := map[string]string{
		"TOLLGATE_ADMIN_LISTEN": "127.0.0.1:7101",
		"TOLLGATE_DATA_DIR":     "/from/env",
	}
	s := DefaultSettings()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c string
	s.registerFlags(fs, &c)
	if err := fs.Parse([]string{"--data-dir", "/from/flag", "--conf", conf}); err != nil {
		t.Fatal(err)
	}
	if err := s.load(fs, c, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"file over default", s.ProxyListen, "127.0.0.1:7000"},
		{"env over file", s.AdminListen, "127.0.0.1:7101"},
		{"flag over env", s.DataDir, "/from/flag"},
		{"file value", s.LogLevel, "debug"},
		{"default kept", s.StatusListen, "127.0.0.1:8100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestSettingsDefaults(t *testing.T) {
	s := DefaultSettings()
	if s.ProxyListen != "0.0.0.0:8000" || s.AdminListen != "127.0.0.1:8001" || s.StatusListen != "127.0.0.1:8100" ||
		s.AnalyticsListen != "0.0.0.0:8002" || s.DataDir != "./data" {
		t.Errorf("defaults differ from the documented ones: %+v", s)
	}
	if !s.adminIsLoopback() {
		t.Error("the Admin API must listen on loopback by default")
	}
	if err := s.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestSettingsRejected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Settings)
		want   string
	}{
		{"proxy listener without port", func(s *Settings) { s.ProxyListen = "0.0.0.0" }, "proxy_listen"},
		{"unknown listener option", func(s *Settings) { s.ProxyListen = "0.0.0.0:8443 http2" }, `unknown option "http2"`},
		{"bad admin listener", func(s *Settings) { s.AdminListen = "nope" }, "admin_listen"},
		{"bad analytics listener", func(s *Settings) { s.AnalyticsListen = "8002" }, "analytics_listen"},
		{"bad trusted ip", func(s *Settings) { s.TrustedIPs = "10.0.0.0/8, banana" }, `trusted_ips: "banana"`},
		{"bad log level", func(s *Settings) { s.LogLevel = "loud" }, "log_level"},
		{"empty data dir", func(s *Settings) { s.DataDir = "" }, "data_dir"},
		{"bad poll interval", func(s *Settings) { s.Cluster.DBUpdateFrequency = "soon" }, "db_update_frequency"},
		{"negative sync interval", func(s *Settings) { s.Cluster.RatelimitSyncInterval = "-1s" }, "ratelimit_sync_interval"},
		{"unknown consistency", func(s *Settings) { s.Cluster.CassandraConsistency = "MOSTLY" }, "cassandra_consistency"},
		{"bad keyspace", func(s *Settings) { s.Cluster.CassandraKeyspace = "toll-gate" }, "cassandra_keyspace"},
		{"no cassandra host", func(s *Settings) { s.Cluster.CassandraHosts = " , " }, "cassandra_hosts"},
		{"bad ssl switch", func(s *Settings) { s.Cluster.CassandraSSL = "maybe" }, "cassandra_ssl"},
		{"bad request log switch", func(s *Settings) { s.Pipeline.RequestLog = "sometimes" }, "request_log"},
		{"no kafka broker", func(s *Settings) { s.Pipeline.KafkaBrokers = "," }, "kafka_brokers"},
		{"empty kafka topic", func(s *Settings) { s.Pipeline.KafkaTopic = "" }, "kafka_topic"},
		{"unknown sasl mechanism", func(s *Settings) { s.Pipeline.KafkaSASLMechanism = "gssapi" }, "kafka_sasl_mechanism"},
		{"client cert without key", func(s *Settings) { s.Pipeline.KafkaTLSCert = "c.pem" }, "kafka_tls_key"},
		{"bad record batches switch", func(s *Settings) { s.Pipeline.KafkaRecordBatches = "some" }, "kafka_record_batches"},
		{"bad spool size", func(s *Settings) { s.Pipeline.LogSpoolMaxBytes = "1GB" }, "log_spool_max_bytes"},
		{"empty clickhouse database", func(s *Settings) { s.Pipeline.ClickHouseDatabase = "" }, "clickhouse_database"},
		{"bad retention", func(s *Settings) { s.Pipeline.ClickHouseRetention = "3h" }, "clickhouse_retention"},
		{"zero batch rows", func(s *Settings) { s.Pipeline.CollectorBatchRows = "0" }, "collector_batch_rows"},
		{"bad batch time", func(s *Settings) { s.Pipeline.CollectorBatchTime = "later" }, "collector_batch_time"},
		{"unknown insert compression", func(s *Settings) { s.Pipeline.CollectorInsertCompression = "zstd" }, "collector_insert_compression"},
		{"bad reconcile interval", func(s *Settings) { s.Pipeline.CollectorReconcileEvery = "daily" }, "collector_reconcile_every"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSettings()
			tc.mutate(&s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestConfigFileUnknownKey(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "tollgate.conf")
	os.WriteFile(conf, []byte("proxy_listen = 127.0.0.1:7000\nprxy_listen = x\n"), 0o600)
	s := DefaultSettings()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	err := s.load(fs, conf, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "unknown settings: prxy_listen") {
		t.Fatalf("got %v, want the unknown key named", err)
	}
}

func TestParseProxyListen(t *testing.T) {
	ls, err := ParseProxyListen("0.0.0.0:8000, 0.0.0.0:8443 ssl")
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0].TLS || !ls[1].TLS || ls[1].Addr != "0.0.0.0:8443" {
		t.Errorf("got %+v", ls)
	}
}

func FuzzParseConf(f *testing.F) {
	f.Add([]byte("proxy_listen = 0.0.0.0:8000\n# c\nadmin_token = \"a#b\"\n"))
	f.Add([]byte("=\n"))
	f.Add([]byte("k=v=w"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseConf(data)
		if err != nil {
			return
		}
		for k := range m {
			if k == "" || strings.ContainsAny(k, "\n") {
				t.Fatalf("bad key %q", k)
			}
		}
	})
}

func TestClusterIntervalsAcceptKongSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"100ms", 100 * time.Millisecond},
		{"0.1", 100 * time.Millisecond},
		{"5", 5 * time.Second},
	} {
		got, err := parseInterval(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseInterval(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestClickHouseRetention(t *testing.T) {
	tests := []struct {
		in   string
		days int
	}{
		{"off", 0},
		{"", 0},
		{"90d", 90},
		{"720h", 30},
		{"36h", 1},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p := DefaultPipelineSettings()
			p.ClickHouseRetention = tt.in
			days, err := p.retention()
			if err != nil || days != tt.days {
				t.Errorf("retention(%q) = %d, %v; want %d", tt.in, days, err, tt.days)
			}
		})
	}
}

// Validate takes the SASL mechanism in any case; the sink and the collector
// must then authenticate with it, not refuse it or connect without SASL.
func TestKafkaSASLMechanismAnyCase(t *testing.T) {
	s := DefaultSettings()
	s.Pipeline.KafkaSASLMechanism = "SCRAM-SHA-512"
	s.Pipeline.KafkaSASLUsername, s.Pipeline.KafkaSASLPassword = "node", "secret"
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	s.DataDir = t.TempDir()
	if err := kafkaSinkSettings(s).Validate(); err != nil {
		t.Errorf("sink settings: %v", err)
	}
	cfg, err := collectorConfig(s)
	if err != nil {
		t.Fatalf("collectorConfig: %v", err)
	}
	if cfg.KafkaSASL == nil {
		t.Error("collector connects without SASL")
	}
}

// Gateways write batches unless kafka_record_batches is off.
func TestKafkaRecordBatches(t *testing.T) {
	for _, tt := range []struct {
		value  string
		single bool
	}{{"on", false}, {"off", true}} {
		s := DefaultSettings()
		if tt.value != "on" {
			s.Pipeline.KafkaRecordBatches = tt.value
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Validate() = %v", err)
		}
		if got := kafkaSinkSettings(s).OneRecordPerMessage; got != tt.single {
			t.Errorf("kafka_record_batches=%s: OneRecordPerMessage = %v, want %v", tt.value, got, tt.single)
		}
	}
}
