package main

import (
	"context"
	"os"

	"github.com/spf13/pflag"

	"github.com/metalagent/metalagent/agent"
	"github.com/metalagent/metalagent/agent/pluginhost"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// stepKinds are the step families, in Ironic's order of use.
var stepKinds = []sdk.StepKind{sdk.StepKindClean, sdk.StepKindDeploy, sdk.StepKindService}

// validKind checks a --kind value.
func validKind(k string) bool {
	for _, s := range stepKinds {
		if string(s) == k {
			return true
		}
	}
	return false
}

// cmdSteps prints the merged clean, deploy and service steps with the
// manager owning each, as Ironic would see them.
func cmdSteps(ctx context.Context, args []string) int {
	var kind string
	var asJSON bool
	cfg, _, err := parseTool("steps", args, 0, func(fs *pflag.FlagSet) {
		fs.StringVar(&kind, "kind", "", "only this kind: clean, deploy or service")
		fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	})
	if err != nil {
		return exit("steps", err)
	}
	kinds := stepKinds
	if kind != "" {
		if !validKind(kind) {
			return exit("steps", usageError("--kind %q: want clean, deploy or service", kind))
		}
		kinds = []sdk.StepKind{sdk.StepKind(kind)}
	}
	host, err := agent.New(cfg, os.Stderr).StartLocal(ctx)
	if err != nil {
		return exit("steps", err)
	}
	defer host.Close()
	rows := []pluginhost.StepRow{}
	for _, k := range kinds {
		set, err := host.Steps(ctx, sdk.StepsRequest{Kind: k})
		if err != nil {
			return exit("steps", err)
		}
		rows = append(rows, pluginhost.StepRows(k, set)...)
	}
	if asJSON {
		return exit("steps", printJSON(rows))
	}
	return exit("steps", pluginhost.WriteSteps(os.Stdout, rows))
}
