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
	gw, ok := p.Services["gateway"]
	if !ok {
		t.Fatalf("no gateway service; services: %v", p.ServiceNames())
	}
	if gw.Build == nil || !strings.HasSuffix(gw.Build.Dockerfile, "Dockerfile") {
		t.Errorf("gateway is not built from the Dockerfile: %+v", gw.Build)
	}
	if _, err := os.Stat("../../Dockerfile"); err != nil {
		t.Errorf("Dockerfile: %v", err)
	}
	if tok := gw.Environment["TOLLGATE_ADMIN_TOKEN"]; tok == nil || *tok != "secret" {
		t.Errorf("TOLLGATE_ADMIN_TOKEN not passed through to the gateway: %v", tok)
	}
	for _, port := range gw.Ports {
		if port.Target == 8001 && port.HostIP != "127.0.0.1" {
			t.Errorf("the Admin API port is published beyond the host's loopback: %+v", port)
		}
	}
	if len(gw.Volumes) == 0 {
		t.Error("the gateway's data dir is not on a volume: its config would not survive a restart")
	}
}
