package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/segmentio/kafka-go"
)

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if got := cfg.deadLetterTopic(); got != "tollgate.requests.dead" {
		t.Fatalf("dead-letter topic = %q; want tollgate.requests.dead", got)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		fields []string // every field the error must name
	}{
		{name: "no brokers", modify: func(c *Config) { c.Brokers = nil }, fields: []string{"brokers"}},
		{name: "broker without port", modify: func(c *Config) { c.Brokers = []string{"kafka"} }, fields: []string{"brokers"}},
		{name: "no topic", modify: func(c *Config) { c.Topic = ""; c.DeadLetterTopic = "x" }, fields: []string{"topic"}},
		{name: "no group", modify: func(c *Config) { c.GroupID = "" }, fields: []string{"group_id"}},
		{name: "dead letters into the topic", modify: func(c *Config) { c.DeadLetterTopic = c.Topic }, fields: []string{"dead_letter_topic"}},
		{name: "bad clickhouse address", modify: func(c *Config) { c.ClickHouseAddr = "clickhouse" }, fields: []string{"clickhouse_addr"}},
		{name: "bad database", modify: func(c *Config) { c.ClickHouseDatabase = "a-b" }, fields: []string{"clickhouse_database"}},
		{name: "zero batch", modify: func(c *Config) { c.BatchRows = 0; c.BatchInterval = 0 }, fields: []string{"batch_rows", "batch_interval"}},
		{name: "backoff above its maximum", modify: func(c *Config) { c.RetryBackoff = time.Minute }, fields: []string{"retry_backoff"}},
		{name: "heartbeat slower than session", modify: func(c *Config) { c.HeartbeatInterval = c.SessionTimeout }, fields: []string{"heartbeat_interval"}},
		{name: "drain outlasting the rebalance", modify: func(c *Config) { c.DrainTimeout = c.RebalanceTimeout }, fields: []string{"drain_timeout"}},
		{name: "insert outlasting the session", modify: func(c *Config) { c.InsertTimeout = c.SessionTimeout }, fields: []string{"insert_timeout"}},
		{name: "negative reconcile period", modify: func(c *Config) { c.ReconcileEvery = -time.Second }, fields: []string{"reconcile_every"}},
		{name: "reconciling nothing", modify: func(c *Config) { c.ReconcileEvery = time.Hour; c.ReconcileWindow = 0 }, fields: []string{"reconcile_window"}},
		{name: "negative settle time", modify: func(c *Config) { c.ReconcileSettle = -time.Second }, fields: []string{"reconcile_settle"}},
		{name: "unknown insert compression", modify: func(c *Config) { c.InsertCompression = "zstd" }, fields: []string{"insert_compression"}},
		{name: "no window", modify: func(c *Config) { c.MaxAge = 0; c.MaxFuture = -time.Second }, fields: []string{"max_age", "max_future"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.modify(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatal("Validate accepted the config")
			}
			for _, f := range tc.fields {
				if !strings.Contains(err.Error(), f+":") {
					t.Errorf("error %q does not name %s", err, f)
				}
			}
			if _, err := New(cfg, nil, Hooks{}); err == nil {
				t.Error("New accepted the config")
			}
		})
	}
}

func TestStartOffset(t *testing.T) {
	tests := []struct {
		name      string
		committed int64
		loaded    map[int]int64
		want      int64
	}{
		{name: "nothing committed or loaded", committed: kafka.FirstOffset, want: kafka.FirstOffset},
		{name: "committed only", committed: 10, want: 10},
		{name: "loaded only", committed: kafka.FirstOffset, loaded: map[int]int64{0: 41}, want: 42},
		{name: "loaded ahead of the commit", committed: 10, loaded: map[int]int64{0: 41}, want: 42},
		{name: "commit right after the loaded offset", committed: 42, loaded: map[int]int64{0: 41}, want: 42},
		{name: "commit ahead of the loaded offset", committed: 50, loaded: map[int]int64{0: 41}, want: 50},
		{name: "another partition loaded", committed: 7, loaded: map[int]int64{1: 41}, want: 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := startOffset(tc.committed, tc.loaded, 0); got != tc.want {
				t.Fatalf("startOffset = %d; want %d", got, tc.want)
			}
		})
	}
}

func TestRunAfterClose(t *testing.T) {
	c, err := New(DefaultConfig(), nil, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := c.Run(t.Context()); err != ErrClosed {
		t.Fatalf("Run after Close = %v; want ErrClosed", err)
	}
}

func TestInsertCompression(t *testing.T) {
	for _, tc := range []struct {
		setting, addr string
		want          ch.Compression
	}{
		{CompressionAuto, "127.0.0.1:9000", ch.CompressionDisabled},
		{CompressionAuto, "127.0.0.53:9000", ch.CompressionDisabled},
		{CompressionAuto, "[::1]:9000", ch.CompressionDisabled},
		{CompressionAuto, "localhost:9000", ch.CompressionDisabled},
		{CompressionAuto, "LocalHost:9000", ch.CompressionDisabled},
		{CompressionAuto, "clickhouse:9000", ch.CompressionLZ4},
		{CompressionAuto, "10.0.0.7:9000", ch.CompressionLZ4},
		{CompressionAuto, "[2001:db8::1]:9000", ch.CompressionLZ4},
		{CompressionLZ4, "127.0.0.1:9000", ch.CompressionLZ4},
		{CompressionNone, "clickhouse:9000", ch.CompressionDisabled},
	} {
		cfg := DefaultConfig()
		cfg.InsertCompression, cfg.ClickHouseAddr = tc.setting, tc.addr
		if got := cfg.insertOptions().Compression; got != tc.want {
			t.Errorf("%s to %s: compression %v; want %v", tc.setting, tc.addr, got, tc.want)
		}
	}
}
