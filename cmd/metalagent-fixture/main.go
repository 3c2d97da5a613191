// Command metalagent-fixture captures a hardware fixture of the generic
// hardware manager from the machine it runs on, and prints the inventory
// the manager computes from a fixture:
//
//	metalagent-fixture capture DIR [--redact] [--lldp DURATION]
//	metalagent-fixture inventory DIR [--golden] [--bootif BOOTIF] [--lldp]
//
// See plugins/generic/README.md, "Contributing a fixture".
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usage is printed for a missing or unknown subcommand.
const usage = `usage:
  metalagent-fixture capture DIR [--redact] [--lldp DURATION]
      copy what the generic hardware manager reads of this machine into DIR
  metalagent-fixture inventory DIR [--golden] [--bootif BOOTIF] [--lldp]
      print the inventory the generic manager computes from the fixture DIR
`

// errUsage is a wrong command line (exit code 2).
var errUsage = errors.New("usage")

// run runs the subcommand of args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "capture":
		err = cmdCapture(ctx, args[1:], stderr)
	case "inventory":
		err = cmdInventory(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "metalagent-fixture: unknown command %q\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, pflag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "metalagent-fixture %s: %v\n", args[0], err)
		return 2
	}
	fmt.Fprintf(stderr, "metalagent-fixture %s: %v\n", args[0], err)
	return 1
}

// parseFlags parses a subcommand's flags and returns its one argument, the
// fixture directory.
func parseFlags(fs *pflag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return "", err
		}
		return "", fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() != 1 {
		return "", fmt.Errorf("%w: want one fixture directory, got %d arguments", errUsage, fs.NArg())
	}
	return fs.Arg(0), nil
}

// newLogger logs to w, at debug level when verbose.
func newLogger(w io.Writer, verbose bool) hclog.Logger {
	level := hclog.Info
	if verbose {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{Name: "metalagent-fixture", Level: level, Output: w})
}
