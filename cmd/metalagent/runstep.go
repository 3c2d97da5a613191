package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/metalagent/metalagent/agent"
	"github.com/metalagent/metalagent/agent/ipa"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// cmdRunStep runs one step on this machine through the same dispatch as
// the agent, and prints its result. Steps act for real, so it requires a
// disk allow-list.
func cmdRunStep(ctx context.Context, args []string) int {
	var kind, stepArgs string
	cfg, rest, err := parseTool("run-step", args, 1, func(fs *pflag.FlagSet) {
		fs.StringVar(&kind, "kind", string(sdk.StepKindClean), "step kind: clean, deploy or service")
		fs.StringVar(&stepArgs, "args", "{}", "the step's arguments as a JSON object")
	})
	if err != nil {
		return exit("run-step", err)
	}
	if len(rest) != 1 {
		return exit("run-step", usageError("want the step name: metalagent run-step NAME [--kind clean|deploy|service] [--args JSON] --allowed-disks ..."))
	}
	if !validKind(kind) {
		return exit("run-step", usageError("--kind %q: want clean, deploy or service", kind))
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(stepArgs), &obj); err != nil || obj == nil {
		return exit("run-step", usageError("--args %q: want a JSON object", stepArgs))
	}
	if len(cfg.AllowedDisks) == 0 {
		return exit("run-step", usageError("refusing to run a step without a disk allow-list: give --allowed-disks "+
			"(or the metalagent-allowed-disks kernel parameter) naming the only disks the step may touch"))
	}
	host, err := agent.New(cfg, os.Stderr).StartLocal(ctx)
	if err != nil {
		return exit("run-step", err)
	}
	defer host.Close()
	res, err := host.Dispatch(ctx, sdk.ExecuteRequest{Method: rest[0], Kind: sdk.StepKind(kind), Args: json.RawMessage(stepArgs)})
	if err != nil {
		var ierr *ipa.Error
		if errors.As(err, &ierr) {
			return exit("run-step", fmt.Errorf("step %s failed: %s: %s", rest[0], ierr.Type, ierr.Error()))
		}
		if typ := sdk.TypeOf(err); typ != "" {
			return exit("run-step", fmt.Errorf("step %s failed: %s: %w", rest[0], typ, err))
		}
		return exit("run-step", fmt.Errorf("step %s failed: %w", rest[0], err))
	}
	var out any
	if len(res) > 0 {
		if err := json.Unmarshal(res, &out); err != nil {
			return exit("run-step", fmt.Errorf("step %s: decode result: %w", rest[0], err))
		}
	}
	return exit("run-step", printJSON(out))
}
