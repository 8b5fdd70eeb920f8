package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/tollgate/tollgate/dashboards"
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
	checkAnalytics(t, p)
	checkGrafana(t, p)
}

// checkAnalytics checks the analytics service: the tollgate image running
// `analytics` against the compose ClickHouse and Cassandra, with the admin
// token the gateway nodes get.
func checkAnalytics(t *testing.T, p *types.Project) {
	an, ok := p.Services["analytics"]
	if !ok {
		t.Fatalf("no analytics service; services: %v", p.ServiceNames())
	}
	if an.Build == nil || strings.Join(an.Command, " ") != "analytics" {
		t.Errorf("analytics: build %+v, command %v; want the tollgate image running `analytics`", an.Build, an.Command)
	}
	for key, want := range map[string]string{
		"TOLLGATE_CLICKHOUSE_ADDR":  "clickhouse:9000",
		"TOLLGATE_CASSANDRA_HOSTS":  "cassandra:9042",
		"TOLLGATE_ANALYTICS_LISTEN": "0.0.0.0:8002",
		"TOLLGATE_ADMIN_TOKEN":      "secret",
	} {
		if v := an.Environment[key]; v == nil || *v != want {
			t.Errorf("analytics %s = %s, want %s", key, deref(v), want)
		}
	}
	if !publishes(an, 8002) {
		t.Errorf("analytics does not publish port 8002: %+v", an.Ports)
	}
	if dep, ok := an.DependsOn["migrate-clickhouse"]; !ok || dep.Condition != "service_completed_successfully" {
		t.Errorf("analytics does not wait for the ClickHouse schema: %+v", an.DependsOn)
	}
	if _, ok := an.DependsOn["cassandra"]; !ok {
		t.Errorf("analytics does not depend on cassandra: %+v", an.DependsOn)
	}
}

// checkGrafana checks the grafana service: a pinned image with the
// ClickHouse plugin, and read-only mounts of files that exist in the
// repository, where the provisioning files expect them.
func checkGrafana(t *testing.T, p *types.Project) {
	gr, ok := p.Services["grafana"]
	if !ok {
		t.Fatalf("no grafana service; services: %v", p.ServiceNames())
	}
	image, version, _ := strings.Cut(gr.Image, ":")
	if image != "grafana/grafana" || version == "" || version == "latest" {
		t.Errorf("grafana image %q, want grafana/grafana pinned to a version", gr.Image)
	}
	if v := gr.Environment["GF_INSTALL_PLUGINS"]; v == nil || !strings.Contains(*v, "grafana-clickhouse-datasource") {
		t.Errorf("grafana does not install the ClickHouse plugin: GF_INSTALL_PLUGINS = %s", deref(v))
	}
	if v := gr.Environment["TOLLGATE_CLICKHOUSE_PASSWORD"]; v == nil || *v == "" {
		t.Error("grafana has no TOLLGATE_CLICKHOUSE_PASSWORD for the provisioned data source")
	}
	if !publishes(gr, 3000) {
		t.Errorf("grafana does not publish port 3000: %+v", gr.Ports)
	}
	if _, ok := gr.DependsOn["clickhouse"]; !ok {
		t.Errorf("grafana does not depend on clickhouse: %+v", gr.DependsOn)
	}

	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mounts := map[string]string{} // target: source
	for _, v := range gr.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		mounts[v.Target] = v.Source
		rel, err := filepath.Rel(root, v.Source)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			t.Errorf("grafana mounts %s from outside the repository", v.Source)
		}
		if _, err := os.Stat(v.Source); err != nil {
			t.Errorf("grafana mounts %s, which does not exist: %v", v.Source, err)
		}
		if !v.ReadOnly {
			t.Errorf("grafana mounts %s read-write; want read-only", v.Target)
		}
	}
	for _, dir := range []string{"datasources", "dashboards"} {
		target := "/etc/grafana/provisioning/" + dir
		if mounts[target] != filepath.Join(root, "dashboards/provisioning", dir) {
			t.Errorf("grafana mounts %q at %s; want dashboards/provisioning/%s", mounts[target], target, dir)
		}
	}

	// The dashboard provider's path must be the mount of dashboards/.
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	b, err := dashboards.FS.ReadFile("provisioning/dashboards/tollgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &prov); err != nil || len(prov.Providers) == 0 {
		t.Fatalf("dashboards/provisioning/dashboards/tollgate.yaml: %v, %+v", err, prov)
	}
	for _, pr := range prov.Providers {
		src, ok := mounts[pr.Options.Path]
		if !ok {
			t.Errorf("the dashboard provider loads %s, which grafana does not mount; mounts: %v", pr.Options.Path, mounts)
			continue
		}
		json, _ := filepath.Glob(filepath.Join(src, "*.json"))
		if src != filepath.Join(root, "dashboards") || len(json) == 0 {
			t.Errorf("grafana mounts %s (%d dashboards) at %s; want dashboards/", src, len(json), pr.Options.Path)
		}
	}
	if home := gr.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != nil {
		dir, file := filepath.Split(*home)
		if src, ok := mounts[filepath.Clean(dir)]; !ok {
			t.Errorf("the home dashboard %s is not in a mounted directory", *home)
		} else if _, err := os.Stat(filepath.Join(src, file)); err != nil {
			t.Errorf("the home dashboard: %v", err)
		}
	}
}

// publishes reports whether svc publishes container port.
func publishes(svc types.ServiceConfig, port uint32) bool {
	return slices.ContainsFunc(svc.Ports, func(p types.ServicePortConfig) bool { return p.Target == port })
}

// deref renders an environment value, which compose leaves nil when unset.
func deref(v *string) string {
	if v == nil {
		return "(unset)"
	}
	return *v
}
