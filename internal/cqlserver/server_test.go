package cqlserver_test

import (
	"errors"
	"io"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"go.uber.org/goleak"

	"github.com/tollgate/tollgate/internal/cassandra"
	"github.com/tollgate/tollgate/internal/cqlserver"
	"github.com/tollgate/tollgate/internal/cqlserver/cqlservertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// cluster returns a gocql configuration for addr, set up as Tollgate's
// sessions are (protocol 4, short timeouts).
func cluster(t testing.TB, addr, ks string) *gocql.ClusterConfig {
	t.Helper()
	cfg := cassandra.DefaultConfig()
	cfg.Hosts = []string{addr}
	cfg.Keyspace = ks
	cfg.Timeout = 5 * time.Second
	cfg.ConnectTimeout = 5 * time.Second
	cl, err := cfg.Cluster()
	if err != nil {
		t.Fatal(err)
	}
	// gocql logs reconnection attempts; they are expected in these tests.
	cl.Logger = log.New(io.Discard, "", 0)
	return cl
}

func connect(t testing.TB, addr, ks string) *gocql.Session {
	t.Helper()
	s, err := cluster(t, addr, ks).CreateSession()
	if err != nil {
		t.Fatalf("connect to %s (keyspace %q): %v", addr, ks, err)
	}
	t.Cleanup(s.Close)
	return s
}

// schemaStatements splits a .cql file on semicolons at line ends.
func schemaStatements(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		cur.WriteString(line)
		cur.WriteString("\n")
		trimmed := strings.TrimSpace(line)
		if strings.HasSuffix(trimmed, ";") && !strings.HasPrefix(trimmed, "--") {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" && !onlyComments(cur.String()) {
		out = append(out, cur.String())
	}
	return out
}

func onlyComments(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "--") {
			return false
		}
	}
	return true
}

// setup starts a server, creates a keyspace with Tollgate's schema and
// returns a session using it.
func setup(t *testing.T) (*gocql.Session, *cqlserver.Server, string) {
	t.Helper()
	addr, srv := cqlservertest.Start(t)
	ks := cqlservertest.Keyspace(t)
	admin := connect(t, addr, "")
	if err := admin.Query("CREATE KEYSPACE IF NOT EXISTS " + ks + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}").Exec(); err != nil {
		t.Fatalf("create keyspace: %v", err)
	}
	s := connect(t, addr, ks)
	for _, st := range schemaStatements(t, "../../schema/cassandra/001_init.cql") {
		if err := s.Query(st).Exec(); err != nil {
			t.Fatalf("schema statement %q: %v", st, err)
		}
	}
	return s, srv, ks
}

func TestConnectAndSchema(t *testing.T) {
	s, _, ks := setup(t)
	var release string
	if err := s.Query("SELECT release_version FROM system.local WHERE key='local'").Scan(&release); err != nil {
		t.Fatal(err)
	}
	if release == "" {
		t.Fatal("empty release_version")
	}
	md, err := s.KeyspaceMetadata(ks)
	if err != nil {
		t.Fatalf("keyspace metadata: %v", err)
	}
	cc, ok := md.Tables["config_changes"]
	if !ok {
		t.Fatalf("config_changes missing from metadata: %v", md.Tables)
	}
	if len(cc.PartitionKey) != 1 || cc.PartitionKey[0].Name != "bucket" || len(cc.ClusteringColumns) != 1 || cc.ClusteringColumns[0].Name != "version" {
		t.Fatalf("config_changes keys: %+v %+v", cc.PartitionKey, cc.ClusteringColumns)
	}
}

func TestInsertSelect(t *testing.T) {
	s, _, _ := setup(t)
	for v := int64(1); v <= 10; v++ {
		if err := s.Query("INSERT INTO config_changes (bucket, version, op, kind, workspace, id, body, node, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			int64(0), v, "create", "services", "default", "id", []byte(`{}`), "n1", time.UnixMilli(1700000000000)).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		query string
		args  []any
		want  []int64
	}{
		{"all", "SELECT version FROM config_changes WHERE bucket = ?", []any{int64(0)}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"range", "SELECT version FROM config_changes WHERE bucket = ? AND version > ? AND version <= ?", []any{int64(0), int64(3), int64(6)}, []int64{4, 5, 6}},
		{"desc limit", "SELECT version FROM config_changes WHERE bucket = ? ORDER BY version DESC LIMIT 3", []any{int64(0)}, []int64{10, 9, 8}},
		{"limit marker", "SELECT version FROM config_changes WHERE bucket = ? AND version >= ? LIMIT ?", []any{int64(0), int64(8), 2}, []int64{8, 9}},
		{"other partition", "SELECT version FROM config_changes WHERE bucket = ?", []any{int64(1)}, nil},
		{"literal", "SELECT version FROM config_changes WHERE bucket = 0 AND version = 7", nil, []int64{7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iter := s.Query(tc.query, tc.args...).Iter()
			var got []int64
			var v int64
			for iter.Scan(&v) {
				got = append(got, v)
			}
			if err := iter.Close(); err != nil {
				t.Fatal(err)
			}
			if !equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUnsupported(t *testing.T) {
	s, _, _ := setup(t)
	err := s.Query("CREATE INDEX ON entities (body)").Exec()
	var re gocql.RequestError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "CREATE INDEX") {
		t.Fatalf("got %v, want an error naming CREATE INDEX", err)
	}
}
