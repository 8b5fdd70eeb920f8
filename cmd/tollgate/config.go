package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tollgate/tollgate/gateway/declarative"
	"github.com/tollgate/tollgate/internal/entity"
)

const configUsage = `Usage:
  tollgate config validate FILE          check a declarative config without touching the store
  tollgate config import FILE [flags]    replace a workspace's stored config with FILE
  tollgate config export FILE [flags]    write a workspace's stored config to FILE ("-" for stdout)

import and export work on the store under --data-dir while no tollgate process
holds it; against a running node, use the Admin API's POST /config and GET /config.
`

// runConfig is "tollgate config validate|import|export FILE": Kong's
// "kong config" for the declarative format.
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) < 1 {
		fmt.Fprint(stderr, configUsage)
		return errUsage
	}
	verb := args[0]
	var workspace string
	var format string
	s, rest, err := loadSettings("config "+verb, args[1:], stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&workspace, "workspace", entity.DefaultWorkspace, "workspace to import into or export from")
		fs.StringVar(&format, "format", "", "export format: yaml or json (default: from the file name, else yaml)")
	})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		fmt.Fprint(stderr, configUsage)
		return errUsage
	}
	file := rest[0]
	plugins := bundledPlugins()
	switch verb {
	case "validate":
		f, err := readDeclarative(file)
		if err != nil {
			return err
		}
		ents, err := f.Entities(workspace, plugins, time.Now())
		if err != nil {
			return fmt.Errorf("%s is not valid:\n%w", file, err)
		}
		fmt.Fprintf(stdout, "%s is valid: %s\n", file, summarize(ents))
		return nil
	case "import":
		f, err := readDeclarative(file)
		if err != nil {
			return err
		}
		log := newLogger(stderr, s.LogLevel)
		st, err := openBoltStore(s.DataDir, log)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := declarative.Apply(ctx, st, f, workspace, plugins, time.Now()); err != nil {
			return fmt.Errorf("import %s: %w", file, err)
		}
		fmt.Fprintf(stdout, "imported %s into workspace %q of %s\n", file, workspace, s.DataDir)
		return nil
	case "export":
		log := newLogger(stderr, s.LogLevel)
		st, err := openBoltStore(s.DataDir, log)
		if err != nil {
			return err
		}
		defer st.Close()
		snap, err := st.Snapshot(ctx)
		if err != nil {
			return fmt.Errorf("read config: %w", err)
		}
		out := declarative.Export(snap.Entities, workspace)
		if format == "" {
			format = "yaml"
			if strings.EqualFold(filepath.Ext(file), ".json") {
				format = "json"
			}
		}
		var data []byte
		switch format {
		case "yaml":
			data, err = out.YAML()
		case "json":
			data, err = out.JSON()
		default:
			return fmt.Errorf("--format %q: must be yaml or json", format)
		}
		if err != nil {
			return err
		}
		if file == "-" {
			_, err = stdout.Write(data)
			return err
		}
		if err := os.WriteFile(file, data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		fmt.Fprintf(stdout, "exported workspace %q to %s\n", workspace, file)
		return nil
	}
	fmt.Fprintf(stderr, "tollgate config: unknown command %q\n\n%s", verb, configUsage)
	return errUsage
}

func readDeclarative(file string) (*declarative.File, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	f, err := declarative.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return f, nil
}

func summarize(ents []entity.Entity) string {
	counts := map[entity.Kind]int{}
	for _, e := range ents {
		counts[e.Kind()]++
	}
	var parts []string
	for _, k := range entity.Kinds {
		if c := counts[k]; c > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c, k))
		}
	}
	if len(parts) == 0 {
		return "no entities"
	}
	return strings.Join(parts, ", ")
}
