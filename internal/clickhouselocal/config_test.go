package clickhouselocal

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serverXML is the part of config.xml the tests look at.
type serverXML struct {
	XMLName xml.Name `xml:"yandex"`
	Logger  struct {
		Level    string `xml:"level"`
		Log      string `xml:"log"`
		ErrorLog string `xml:"errorlog"`
	} `xml:"logger"`
	ListenHost            string `xml:"listen_host"`
	TCPPort               int    `xml:"tcp_port"`
	HTTPPort              int    `xml:"http_port"`
	Path                  string `xml:"path"`
	TmpPath               string `xml:"tmp_path"`
	UserFilesPath         string `xml:"user_files_path"`
	FormatSchemaPath      string `xml:"format_schema_path"`
	UsersConfig           string `xml:"users_config"`
	MarkCacheSize         int64  `xml:"mark_cache_size"`
	UncompressedCacheSize int64  `xml:"uncompressed_cache_size"`
	MaxServerMemoryUsage  *int64 `xml:"max_server_memory_usage"`
	MergeTree             *struct {
		PartsToDelayInsert int `xml:"parts_to_delay_insert"`
		PartsToThrowInsert int `xml:"parts_to_throw_insert"`
	} `xml:"merge_tree"`
}

// usersFileXML is the part of users.xml the tests look at.
type usersFileXML struct {
	XMLName xml.Name `xml:"yandex"`
	Profile struct {
		MaxMemoryUsage int64 `xml:"max_memory_usage"`
		MaxThreads     int   `xml:"max_threads"`
	} `xml:"profiles>default"`
	Networks []string `xml:"users>default>networks>ip"`
}

func TestWriteConfig(t *testing.T) {
	bench := Config{
		TCPPort: 40001, HTTPPort: 40002,
		LogLevel:              "warning",
		MarkCacheSize:         256 << 20,
		UncompressedCacheSize: 256 << 20,
		MaxMemoryUsage:        4_000_000_000,
	}
	tests := []struct {
		name string
		sub  string // directory under the test's, with characters XML escapes
		cfg  Config
	}{
		{name: "default", sub: "ch", cfg: withPorts(DefaultConfig(), 9000, 8123)},
		{name: "no server limit or merge_tree", sub: "bench/clickhouse", cfg: bench},
		{name: "directory needing escapes", sub: "a&b<c>", cfg: withPorts(DefaultConfig(), 1, 65535)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tt.sub)
			cfg := tt.cfg
			cfg.Dir = dir
			if err := WriteConfig(cfg); err != nil {
				t.Fatal(err)
			}

			var got serverXML
			decode(t, filepath.Join(dir, ConfigFile), &got)
			for _, c := range []struct{ what, got, want string }{
				{"level", got.Logger.Level, cfg.LogLevel},
				{"log", got.Logger.Log, dir + "/" + ServerLog},
				{"errorlog", got.Logger.ErrorLog, dir + "/" + ServerErrLog},
				{"listen_host", got.ListenHost, "127.0.0.1"},
				{"path", got.Path, dir + "/data/"},
				{"tmp_path", got.TmpPath, dir + "/tmp/"},
				{"user_files_path", got.UserFilesPath, dir + "/user_files/"},
				{"format_schema_path", got.FormatSchemaPath, dir + "/format_schemas/"},
				{"users_config", got.UsersConfig, UsersFile},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
			if got.TCPPort != cfg.TCPPort || got.HTTPPort != cfg.HTTPPort {
				t.Errorf("ports = %d, %d, want %d, %d", got.TCPPort, got.HTTPPort, cfg.TCPPort, cfg.HTTPPort)
			}
			if got.MarkCacheSize != cfg.MarkCacheSize || got.UncompressedCacheSize != cfg.UncompressedCacheSize {
				t.Errorf("caches = %d, %d, want %d, %d", got.MarkCacheSize, got.UncompressedCacheSize, cfg.MarkCacheSize, cfg.UncompressedCacheSize)
			}
			switch {
			case cfg.MaxServerMemoryUsage == 0 && got.MaxServerMemoryUsage != nil:
				t.Errorf("max_server_memory_usage = %d, want none", *got.MaxServerMemoryUsage)
			case cfg.MaxServerMemoryUsage != 0 && (got.MaxServerMemoryUsage == nil || *got.MaxServerMemoryUsage != cfg.MaxServerMemoryUsage):
				t.Errorf("max_server_memory_usage = %v, want %d", got.MaxServerMemoryUsage, cfg.MaxServerMemoryUsage)
			}
			switch {
			case cfg.PartsToDelayInsert == 0 && got.MergeTree != nil:
				t.Errorf("merge_tree = %+v, want none", *got.MergeTree)
			case cfg.PartsToDelayInsert != 0 && (got.MergeTree == nil ||
				got.MergeTree.PartsToDelayInsert != cfg.PartsToDelayInsert ||
				got.MergeTree.PartsToThrowInsert != cfg.PartsToThrowInsert):
				t.Errorf("merge_tree = %+v, want %d, %d", got.MergeTree, cfg.PartsToDelayInsert, cfg.PartsToThrowInsert)
			}

			var users usersFileXML
			decode(t, filepath.Join(dir, UsersFile), &users)
			if users.Profile.MaxMemoryUsage != cfg.MaxMemoryUsage {
				t.Errorf("max_memory_usage = %d, want %d", users.Profile.MaxMemoryUsage, cfg.MaxMemoryUsage)
			}
			if users.Profile.MaxThreads != 2 {
				t.Errorf("max_threads = %d, want 2", users.Profile.MaxThreads)
			}
			if strings.Join(users.Networks, ",") != "127.0.0.1,::1" {
				t.Errorf("networks = %q, want loopback only", users.Networks)
			}
		})
	}
}

func TestWriteConfigRelativeDir(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg := withPorts(DefaultConfig(), 9000, 8123)
	cfg.Dir = "ch"
	if err := WriteConfig(cfg); err != nil {
		t.Fatal(err)
	}
	var got serverXML
	decode(t, filepath.Join("ch", ConfigFile), &got)
	if !filepath.IsAbs(got.Path) {
		t.Errorf("path = %q, want an absolute path", got.Path)
	}
}

func TestConfigValidate(t *testing.T) {
	valid := withPorts(DefaultConfig(), 9000, 8123)
	valid.Dir = "/tmp/ch"
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // every part of the error; none for a valid config
	}{
		{name: "valid", modify: func(*Config) {}},
		{name: "no limits beyond a query", modify: func(c *Config) {
			c.MaxServerMemoryUsage, c.PartsToDelayInsert, c.PartsToThrowInsert = 0, 0, 0
		}},
		{name: "missing dir and ports", modify: func(c *Config) {
			c.Dir, c.TCPPort, c.HTTPPort = "", 0, 70000
		}, want: []string{"Dir: required", "TCPPort: 0 is not a port", "HTTPPort: 70000 is not a port"}},
		{name: "same port twice", modify: func(c *Config) { c.HTTPPort = c.TCPPort },
			want: []string{"HTTPPort: 9000 is TCPPort too"}},
		{name: "unknown log level", modify: func(c *Config) { c.LogLevel = "info" },
			want: []string{`LogLevel: unknown level "info"`}},
		{name: "sizes not positive", modify: func(c *Config) {
			c.MarkCacheSize, c.UncompressedCacheSize, c.MaxMemoryUsage = 0, -1, 0
		}, want: []string{"MarkCacheSize: must be positive", "UncompressedCacheSize: must be positive", "MaxMemoryUsage: must be positive"}},
		{name: "query above server", modify: func(c *Config) { c.MaxMemoryUsage = 3_000_000_000 },
			want: []string{"MaxMemoryUsage: 3000000000 is more than MaxServerMemoryUsage 2000000000"}},
		{name: "server limit negative", modify: func(c *Config) { c.MaxServerMemoryUsage = -1 },
			want: []string{"MaxServerMemoryUsage: must not be negative"}},
		{name: "one part threshold", modify: func(c *Config) { c.PartsToThrowInsert = 0 },
			want: []string{"set both or neither"}},
		{name: "part thresholds reversed", modify: func(c *Config) { c.PartsToThrowInsert = 300 },
			want: []string{"PartsToThrowInsert: 300 is not above PartsToDelayInsert 300"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.modify(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to say %q", err, w)
				}
			}
			if WriteConfig(c) == nil {
				t.Error("WriteConfig accepted a config Validate rejects")
			}
		})
	}
}

func withPorts(c Config, tcp, http int) Config {
	c.TCPPort, c.HTTPPort = tcp, http
	return c
}

func decode(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(string(b)))
	d.Strict = true
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s is not well-formed: %v\n%s", path, err, b)
	}
}
