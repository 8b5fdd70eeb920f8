// Command tollgate runs the Tollgate API gateway and its tools.
//
//	tollgate standalone                 one process: gateway, Admin API, embedded store
//	tollgate gateway                    a cluster node sharing config and counters through Cassandra
//	tollgate collector                  load the request log from Kafka into ClickHouse
//	tollgate analytics                  serve the analytics API and dashboard over ClickHouse
//	tollgate migrate cassandra up       create or upgrade the Cassandra schema
//	tollgate migrate clickhouse up      create or upgrade the ClickHouse schema
//	tollgate config validate FILE       check a Kong-format declarative config
//	tollgate config import FILE         replace the stored config with FILE
//	tollgate config export FILE         write the stored config to FILE ("-" for stdout)
//	tollgate version
//
// Only this package reads flags and the environment, creates loggers and
// metric registries, and exits the process.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

const usage = `tollgate — an API gateway

Usage:
  tollgate standalone [flags]            run a gateway node with an embedded store
  tollgate gateway [flags]               run a cluster node against Cassandra
  tollgate collector [flags]             load the request log from Kafka into ClickHouse
  tollgate analytics [flags]             serve the analytics API and dashboard over ClickHouse
  tollgate migrate cassandra up|status   create, upgrade or inspect the Cassandra schema
  tollgate migrate clickhouse up|status  create, upgrade or inspect the ClickHouse schema
  tollgate config validate FILE          check a declarative config (Kong _format_version "3.0")
  tollgate config import FILE [flags]    replace the stored config with FILE
  tollgate config export FILE [flags]    write the stored config to FILE ("-" for stdout)
  tollgate health [flags]                exit 0 when the node on --status-listen is ready
  tollgate version                       print the version

Run "tollgate COMMAND -h" for the flags of a command. Every flag also has an
environment variable TOLLGATE_<NAME> and a key in the file given with --conf.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "standalone":
		err = runStandalone(ctx, args[1:], stderr, getenv)
	case "gateway":
		err = runGateway(ctx, args[1:], stderr, getenv)
	case "collector":
		err = runCollector(ctx, args[1:], stderr, getenv)
	case "analytics":
		err = runAnalytics(ctx, args[1:], stderr, getenv)
	case "migrate":
		err = runMigrate(ctx, args[1:], stdout, stderr, getenv)
	case "config":
		err = runConfig(ctx, args[1:], stdout, stderr, getenv)
	case "health":
		err = runHealth(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "tollgate", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "tollgate: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if err == errUsage {
			return 2
		}
		fmt.Fprintln(stderr, "tollgate:", err)
		return 1
	}
	return 0
}
