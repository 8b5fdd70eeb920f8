package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tollgate/tollgate/load/benchrig"
)

// chConfigXML is a minimal server configuration in the <yandex> form that
// 18.16 requires and later releases still accept: everything under the
// run's directory, loopback only, and caches and pools sized for a small
// shared machine rather than a dedicated server (18.16's defaults are an
// 8 GiB uncompressed cache and 16 background merge threads).
const chConfigXML = `<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>%[1]s/server.log</log>
        <errorlog>%[1]s/server.err.log</errorlog>
        <size>20M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%[2]d</tcp_port>
    <http_port>%[3]d</http_port>
    <path>%[1]s/data/</path>
    <tmp_path>%[1]s/tmp/</tmp_path>
    <user_files_path>%[1]s/user_files/</user_files_path>
    <format_schema_path>%[1]s/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <max_concurrent_queries>64</max_concurrent_queries>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
</yandex>
`

// chUsersXML lets the default user in from loopback without a password.
const chUsersXML = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
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
`

// chServer is the ClickHouse server process of the run.
type chServer struct {
	*benchrig.Proc
	addr, httpAddr string
	dir            string
	version        string
}

// startClickHouse writes a configuration with free ports under dir and
// starts the server, waiting until it answers.
func startClickHouse(ctx context.Context, bin, dir string) (*chServer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("clickhouse dir: %w", err)
	}
	addrs, err := benchrig.FreePorts(2)
	if err != nil {
		return nil, err
	}
	port := func(a string) int {
		_, p, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(p)
		return n
	}
	files := map[string]string{
		"config.xml": fmt.Sprintf(chConfigXML, dir, port(addrs[0]), port(addrs[1])),
		"users.xml":  chUsersXML,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return nil, fmt.Errorf("write clickhouse %s: %w", name, err)
		}
	}
	args := []string{"--config-file=" + filepath.Join(dir, "config.xml")}
	if filepath.Base(bin) == "clickhouse" {
		args = append([]string{"server"}, args...)
	}
	p, err := benchrig.StartProc("clickhouse", bin, args, os.Environ(), dir, filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, err
	}
	s := &chServer{Proc: p, addr: addrs[0], httpAddr: addrs[1], dir: dir}
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, err
	}
	conn, err := s.open("default")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.QueryRow(ctx, "SELECT version()").Scan(&s.version)
	return s, nil
}

// waitReady polls the HTTP interface's /ping, which answers once the
// server has loaded its tables, and then checks the native port.
func (s *chServer) waitReady(ctx context.Context, within time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for {
		if !s.Running() {
			return fmt.Errorf("clickhouse exited while starting (%v): %s", s.WaitErr(), s.errTail())
		}
		resp, err := client.Get("http://" + s.httpAddr + "/ping")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
					_ = c.Close()
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clickhouse not answering on %s after %v: %s", s.httpAddr, within, s.errTail())
		}
		if err := benchrig.Sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// errTail is the end of the server's error log, for error messages.
func (s *chServer) errTail() string {
	for _, name := range []string{"server.err.log", "stdout.log"} {
		if t, err := benchrig.FileTail(filepath.Join(s.dir, name), 15); err == nil && t != "(empty)\n" {
			return strings.TrimSpace(t)
		}
	}
	return "(no server log)"
}

// open connects to database over the native protocol (the driver's HTTP
// mode fails on 18.16).
func (s *chServer) open(database string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:     clickhouse.Native,
		Addr:         []string{s.addr},
		Auth:         clickhouse.Auth{Database: database, Username: "default"},
		DialTimeout:  5 * time.Second,
		ReadTimeout:  time.Minute,
		MaxOpenConns: 4,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to clickhouse %s: %w", s.addr, err)
	}
	return conn, nil
}

// queryUint runs a query answering one unsigned number.
func queryUint(ctx context.Context, conn driver.Conn, query string, args ...any) (uint64, error) {
	var v uint64
	if err := conn.QueryRow(ctx, query, args...).Scan(&v); err != nil {
		return 0, fmt.Errorf("%s: %w", query, err)
	}
	return v, nil
}
