// Command metalagent is the bare-metal provisioning agent: it runs in a
// ramdisk, looks its node up in Ironic, heartbeats, and serves IPA's API
// through which the conductor cleans and deploys the machine.
//
// Subcommands, for operators and ramdisk builders (see
// docs/plugin-runtime.md); each takes the agent's flags:
//
//	metalagent plugins [--json]             the plugins' state, as a table
//	metalagent plugins manifest DIR         write DIR/manifest.json
//	metalagent inventory [--by-plugin]      the merged inventory (IPA's JSON)
//	metalagent steps [--kind K] [--json]    the merged steps and their owners
//	metalagent run-step NAME [--kind K] [--args JSON] --allowed-disks ...
//	metalagent root-device [--node FILE] [--hints JSON]   dry run of the install-device choice
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/metalagent/metalagent/agent"
	"github.com/metalagent/metalagent/agent/config"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run runs the agent or one of its subcommands and returns the exit code.
func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 {
		switch args[0] {
		case "plugins":
			return cmdPlugins(ctx, args[1:])
		case "inventory":
			return cmdInventory(ctx, args[1:])
		case "steps":
			return cmdSteps(ctx, args[1:])
		case "run-step":
			return cmdRunStep(ctx, args[1:])
		case "root-device":
			return cmdRootDevice(ctx, args[1:])
		}
	}
	cfg, err := config.Parse("metalagent", args)
	if errors.Is(err, config.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "metalagent:", err)
		return 2
	}
	a := agent.New(cfg, os.Stderr)
	if err := a.Run(ctx); err != nil {
		a.Logger().Error("agent failed", "error", err)
		return 1
	}
	return 0
}

// toolError is a subcommand's failure with its exit code.
type toolError struct {
	code int
	err  error
}

func (e *toolError) Error() string { return e.err.Error() }

// usageError is a wrong command line (exit code 2).
func usageError(format string, a ...any) error {
	return &toolError{code: 2, err: fmt.Errorf(format, a...)}
}

// parseTool parses a subcommand's command line: the agent's flags (as
// --standalone: no Ironic is needed), the subcommand's own, and at most
// maxArgs positional arguments.
func parseTool(name string, args []string, maxArgs int, extra func(*pflag.FlagSet)) (*config.Config, []string, error) {
	cfg, rest, err := config.ParseCommand("metalagent "+name, append([]string{"--standalone"}, args...), extra)
	if err != nil {
		if errors.Is(err, config.ErrHelp) {
			return nil, nil, &toolError{code: 0, err: err}
		}
		return nil, nil, usageError("%w", err)
	}
	if len(rest) > maxArgs {
		return nil, nil, usageError("unexpected arguments: %v", rest[maxArgs:])
	}
	return cfg, rest, nil
}

// exit reports a subcommand's error on stderr and returns its exit code.
func exit(name string, err error) int {
	if err == nil {
		return 0
	}
	var te *toolError
	if errors.As(err, &te) {
		if te.code != 0 {
			fmt.Fprintf(os.Stderr, "metalagent %s: %v\n", name, te.err)
		}
		return te.code
	}
	fmt.Fprintf(os.Stderr, "metalagent %s: %v\n", name, err)
	return 1
}
