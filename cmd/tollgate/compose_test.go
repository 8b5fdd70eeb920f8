package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

// TestComposeFileIsValid loads docker-compose.yml with the Compose
// specification's own loader, so the file stays valid on machines without a
// Docker engine, and checks the settings the deployment depends on.
func TestComposeFileIsValid(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{"../../docker-compose.yml"},
		cli.WithWorkingDirectory("../.."),
		cli.WithEnv([]string{"TOLLGATE_ADMIN_TOKEN=secret"}),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	if _, err := os.Stat("../../Dockerfile"); err != nil {
		t.Errorf("Dockerfile: %v", err)
	}
	cass, ok := p.Services["cassandra"]
	if !ok || !strings.HasPrefix(cass.Image, "cassandra:5") {
		t.Errorf("no Cassandra 5 service: %+v", cass.Image)
	}
	mig, ok := p.Services["migrate"]
	if !ok || strings.Join(mig.Command, " ") != "migrate cassandra up" {
		t.Errorf("no migrate service running `migrate cassandra up`: %v", mig.Command)
	}
	for name, image := range map[string]string{"kafka": "apache/kafka:", "clickhouse": "clickhouse/clickhouse-server:"} {
		if svc, ok := p.Services[name]; !ok || !strings.HasPrefix(svc.Image, image) {
			t.Errorf("no %s service from %s: %+v", name, image, svc.Image)
		}
	}
	if mig, ok := p.Services["migrate-clickhouse"]; !ok || strings.Join(mig.Command, " ") != "migrate clickhouse up" {
		t.Errorf("no migrate-clickhouse service running `migrate clickhouse up`: %v", mig.Command)
	}
	col, ok := p.Services["collector"]
	if !ok || strings.Join(col.Command, " ") != "collector" {
		t.Errorf("no collector service running `collector`: %v", col.Command)
	}
	for key, want := range map[string]string{"TOLLGATE_KAFKA_BROKERS": "kafka:9092", "TOLLGATE_CLICKHOUSE_ADDR": "clickhouse:9000"} {
		if v := col.Environment[key]; v == nil || *v != want {
			t.Errorf("collector %s = %v, want %s", key, v, want)
		}
	}
	if dep, ok := col.DependsOn["migrate-clickhouse"]; !ok || dep.Condition != "service_completed_successfully" {
		t.Errorf("collector does not wait for the ClickHouse schema: %+v", col.DependsOn)
	}
	ids := map[string]bool{}
	for _, name := range []string{"gateway-1", "gateway-2", "gateway-3"} {
		gw, ok := p.Services[name]
		if !ok {
			t.Fatalf("no %s service; services: %v", name, p.ServiceNames())
		}
		if gw.Build == nil || !strings.HasSuffix(gw.Build.Dockerfile, "Dockerfile") {
			t.Errorf("%s is not built from the Dockerfile: %+v", name, gw.Build)
		}
		if strings.Join(gw.Command, " ") != "gateway" {
			t.Errorf("%s runs %v, want `gateway`", name, gw.Command)
		}
		if dep, ok := gw.DependsOn["migrate"]; !ok || dep.Condition != "service_completed_successfully" {
			t.Errorf("%s does not wait for migrations: %+v", name, gw.DependsOn)
		}
		if tok := gw.Environment["TOLLGATE_ADMIN_TOKEN"]; tok == nil || *tok != "secret" {
			t.Errorf("TOLLGATE_ADMIN_TOKEN not passed through to %s: %v", name, tok)
		}
		if h := gw.Environment["TOLLGATE_CASSANDRA_HOSTS"]; h == nil || *h != "cassandra:9042" {
			t.Errorf("%s does not point at the cassandra service: %v", name, h)
		}
		if b := gw.Environment["TOLLGATE_KAFKA_BROKERS"]; b == nil || *b != "kafka:9092" {
			t.Errorf("%s does not ship its request log to the kafka service: %v", name, b)
		}
		if id := gw.Environment["TOLLGATE_NODE_ID"]; id == nil || ids[*id] {
			t.Errorf("%s has no node id of its own: %v", name, id)
		} else {
			ids[*id] = true
		}
		for _, port := range gw.Ports {
			if port.Target == 8001 && port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes the Admin API beyond the host's loopback: %+v", name, port)
			}
		}
		if len(gw.Volumes) == 0 {
			t.Errorf("%s's data dir is not on a volume: its config cache would not survive a restart", name)
		}
	}
}
