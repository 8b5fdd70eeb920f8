package clickhouselocal

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
)

// Files WriteConfig writes into, and the server writes into, the
// directory.
const (
	ConfigFile   = "config.xml"
	UsersFile    = "users.xml"
	ServerLog    = "server.log"
	ServerErrLog = "server.err.log"
)

// Config is what differs between the servers Tollgate runs locally; the
// rest of the configuration is fixed: loopback only, UTC, 64 concurrent
// queries, two threads per query, four background merge threads, and a
// default user without a password, from loopback only.
type Config struct {
	// Dir holds the configuration, data, temporary files and logs. It
	// must exist or be creatable; WriteConfig makes it absolute.
	Dir string
	// TCPPort and HTTPPort are the native protocol and HTTP ports on
	// 127.0.0.1.
	TCPPort, HTTPPort int
	// LogLevel is the server log's level (trace, debug, information,
	// notice, warning, error, critical, fatal).
	LogLevel string
	// MarkCacheSize and UncompressedCacheSize are in bytes. 18.16's
	// defaults (5 GiB and 8 GiB) are sized for a dedicated server.
	MarkCacheSize, UncompressedCacheSize int64
	// MaxMemoryUsage bounds one query, in bytes (the default profile's
	// max_memory_usage).
	MaxMemoryUsage int64
	// MaxServerMemoryUsage bounds the whole server, in bytes; 0 leaves it
	// out.
	MaxServerMemoryUsage int64
	// PartsToDelayInsert and PartsToThrowInsert are the merge_tree
	// thresholds of active parts in a partition; 0 leaves both out and
	// the server's defaults (150 and 300) apply.
	PartsToDelayInsert, PartsToThrowInsert int
}

// DefaultConfig sizes a server for a small machine that others share:
// caches of 64 MiB, 1 GB per query and 2 GB for the server, and part
// thresholds twice the server's defaults. Dir and the ports are left for
// the caller.
func DefaultConfig() Config {
	return Config{
		LogLevel:              "information",
		MarkCacheSize:         64 << 20,
		UncompressedCacheSize: 64 << 20,
		MaxMemoryUsage:        1_000_000_000,
		MaxServerMemoryUsage:  2_000_000_000,
		PartsToDelayInsert:    300,
		PartsToThrowInsert:    600,
	}
}

var logLevels = map[string]bool{
	"trace": true, "debug": true, "information": true, "notice": true,
	"warning": true, "error": true, "critical": true, "fatal": true,
}

// Validate reports every field that is missing or contradicts another.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("Dir: required"))
	}
	for _, p := range []struct {
		name string
		port int
	}{{"TCPPort", c.TCPPort}, {"HTTPPort", c.HTTPPort}} {
		if p.port <= 0 || p.port > 65535 {
			errs = append(errs, fmt.Errorf("%s: %d is not a port", p.name, p.port))
		}
	}
	if c.TCPPort == c.HTTPPort && c.TCPPort != 0 {
		errs = append(errs, fmt.Errorf("HTTPPort: %d is TCPPort too", c.HTTPPort))
	}
	if !logLevels[c.LogLevel] {
		errs = append(errs, fmt.Errorf("LogLevel: unknown level %q", c.LogLevel))
	}
	for _, s := range []struct {
		name string
		v    int64
	}{
		{"MarkCacheSize", c.MarkCacheSize},
		{"UncompressedCacheSize", c.UncompressedCacheSize},
		{"MaxMemoryUsage", c.MaxMemoryUsage},
	} {
		if s.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive", s.name))
		}
	}
	if c.MaxServerMemoryUsage < 0 {
		errs = append(errs, errors.New("MaxServerMemoryUsage: must not be negative"))
	} else if c.MaxServerMemoryUsage > 0 && c.MaxMemoryUsage > c.MaxServerMemoryUsage {
		errs = append(errs, fmt.Errorf("MaxMemoryUsage: %d is more than MaxServerMemoryUsage %d", c.MaxMemoryUsage, c.MaxServerMemoryUsage))
	}
	switch {
	case c.PartsToDelayInsert == 0 && c.PartsToThrowInsert == 0:
	case c.PartsToDelayInsert <= 0 || c.PartsToThrowInsert <= 0:
		errs = append(errs, errors.New("PartsToDelayInsert, PartsToThrowInsert: set both or neither"))
	case c.PartsToThrowInsert <= c.PartsToDelayInsert:
		errs = append(errs, fmt.Errorf("PartsToThrowInsert: %d is not above PartsToDelayInsert %d", c.PartsToThrowInsert, c.PartsToDelayInsert))
	}
	return errors.Join(errs...)
}

// WriteConfig validates c and writes config.xml and users.xml into c.Dir,
// creating it if needed.
func WriteConfig(c Config) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("clickhouse config: %w", err)
	}
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return fmt.Errorf("clickhouse dir: %w", err)
	}
	c.Dir = abs
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("clickhouse dir: %w", err)
	}
	for _, f := range []struct {
		name string
		tmpl *template.Template
	}{{ConfigFile, configXML}, {UsersFile, usersXML}} {
		var b bytes.Buffer
		if err := f.tmpl.Execute(&b, c); err != nil {
			return fmt.Errorf("render clickhouse %s: %w", f.name, err)
		}
		if err := os.WriteFile(filepath.Join(abs, f.name), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write clickhouse %s: %w", f.name, err)
		}
	}
	return nil
}

// xmlText escapes s for an element's text: a directory may hold & or <.
func xmlText(s string) (string, error) {
	var b bytes.Buffer
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return "", err
	}
	return b.String(), nil
}

var funcs = template.FuncMap{"xml": xmlText}

// configXML is a minimal server configuration in the <yandex> form that
// 18.16 requires and later releases still accept.
var configXML = template.Must(template.New(ConfigFile).Funcs(funcs).Parse(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>{{xml .LogLevel}}</level>
        <log>{{xml .Dir}}/` + ServerLog + `</log>
        <errorlog>{{xml .Dir}}/` + ServerErrLog + `</errorlog>
        <size>20M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{{.TCPPort}}</tcp_port>
    <http_port>{{.HTTPPort}}</http_port>
    <path>{{xml .Dir}}/data/</path>
    <tmp_path>{{xml .Dir}}/tmp/</tmp_path>
    <user_files_path>{{xml .Dir}}/user_files/</user_files_path>
    <format_schema_path>{{xml .Dir}}/format_schemas/</format_schema_path>
    <users_config>` + UsersFile + `</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <max_concurrent_queries>64</max_concurrent_queries>
    <mark_cache_size>{{.MarkCacheSize}}</mark_cache_size>
    <uncompressed_cache_size>{{.UncompressedCacheSize}}</uncompressed_cache_size>
{{- if .MaxServerMemoryUsage}}
    <max_server_memory_usage>{{.MaxServerMemoryUsage}}</max_server_memory_usage>
{{- end}}
{{- if .PartsToDelayInsert}}
    <merge_tree>
        <parts_to_delay_insert>{{.PartsToDelayInsert}}</parts_to_delay_insert>
        <parts_to_throw_insert>{{.PartsToThrowInsert}}</parts_to_throw_insert>
    </merge_tree>
{{- end}}
</yandex>
`))

// usersXML lets the default user in from loopback without a password.
var usersXML = template.Must(template.New(UsersFile).Parse(`<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>{{.MaxMemoryUsage}}</max_memory_usage>
            <max_threads>2</max_threads>
            <background_pool_size>4</background_pool_size>
            <use_uncompressed_cache>0</use_uncompressed_cache>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`))
