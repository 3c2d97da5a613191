package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/metalagent/metalagent/agent"
	"github.com/metalagent/metalagent/agent/pluginhost"
)

// cmdPlugins starts the plugins as the agent would and prints their state.
// It exits 1 when a plugin was refused or failed.
func cmdPlugins(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "manifest" {
		return exit("plugins manifest", writeManifest(args[1:]))
	}
	var asJSON bool
	cfg, _, err := parseTool("plugins", args, 0, func(fs *pflag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	})
	if err != nil {
		return exit("plugins", err)
	}
	host, err := agent.New(cfg, os.Stderr).StartLocal(ctx)
	if err != nil {
		return exit("plugins", err)
	}
	defer host.Close()
	infos := host.Plugins()
	if asJSON {
		err = printJSON(infos)
	} else {
		err = pluginhost.WritePlugins(os.Stdout, infos)
	}
	if err != nil {
		return exit("plugins", err)
	}
	if n := len(host.Failures()); n > 0 {
		return exit("plugins", fmt.Errorf("%d plugin(s) refused or failed", n))
	}
	return 0
}

// writeManifest writes the manifest of a plugin directory.
func writeManifest(args []string) error {
	fs := pflag.NewFlagSet("metalagent plugins manifest", pflag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: metalagent plugins manifest DIR [--output FILE|-]\n\n"+
			"Writes DIR/manifest.json listing every executable of DIR with its sha256\n"+
			"and the SDK's protocol version.")
		fs.PrintDefaults()
	}
	output := fs.String("output", "", "write here instead of DIR/manifest.json; - for stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return &toolError{code: 0, err: err}
		}
		return usageError("%w", err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("want one plugin directory, got %d arguments", fs.NArg())
	}
	dir := fs.Arg(0)
	m, err := pluginhost.BuildManifest(dir)
	if err != nil {
		return err
	}
	if len(m.Plugins) == 0 {
		fmt.Fprintf(os.Stderr, "metalagent plugins manifest: warning: %s has no executable; the manifest lists no plugin\n", dir)
	}
	switch *output {
	case "":
		if err := pluginhost.WriteManifest(dir, m); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s: %d plugin(s)\n", filepath.Join(dir, pluginhost.ManifestFile), len(m.Plugins))
		return nil
	case "-":
		return printJSON(m)
	default:
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return fmt.Errorf("encode manifest: %w", err)
		}
		if err := os.WriteFile(*output, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write manifest: %w", err)
		}
		return nil
	}
}

// printJSON prints v as indented JSON on stdout.
func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}
