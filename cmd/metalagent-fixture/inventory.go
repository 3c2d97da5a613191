package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugins/generic"
	"github.com/metalagent/metalagent/plugins/generic/fixture"
)

// goldenFile is the expected inventory of a fixture, as its tests read it.
const goldenFile = "inventory.golden.json"

// cmdInventory prints the inventory the generic manager computes from a
// fixture, and with --golden writes it to the fixture's golden file.
func cmdInventory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("metalagent-fixture inventory", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	golden := fs.Bool("golden", false, "also write the inventory to DIR/"+goldenFile)
	bootIF := fs.String("bootif", "", "the BOOTIF the host would pass (boot.pxe_interface)")
	lldp := fs.Bool("lldp", false, "report the LLDP data recorded at capture, as with ipa-collect-lldp=1")
	verbose := fs.BoolP("verbose", "v", false, "show the manager's logs")
	dir, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	b, err := fixtureInventory(ctx, dir, sdk.HostConfig{BootIF: *bootIF, KernelParams: lldpParams(*lldp)}, *verbose, stderr)
	if err != nil {
		return err
	}
	if _, err := stdout.Write(b); err != nil {
		return fmt.Errorf("print inventory: %w", err)
	}
	if *golden {
		if err := os.WriteFile(filepath.Join(dir, goldenFile), b, 0o644); err != nil {
			return fmt.Errorf("write golden inventory: %w", err)
		}
	}
	return nil
}

func lldpParams(on bool) map[string]string {
	if !on {
		return nil
	}
	return map[string]string{"ipa-collect-lldp": "1"}
}

// fixtureInventory loads the fixture at dir into a temporary directory
// and returns the generic manager's inventory of it, encoded as the golden
// files are (one-space indent, final newline).
func fixtureInventory(ctx context.Context, dir string, cfg sdk.HostConfig, verbose bool, stderr io.Writer) ([]byte, error) {
	root, err := os.MkdirTemp("", "metalagent-fixture-")
	if err != nil {
		return nil, fmt.Errorf("load fixture: %w", err)
	}
	defer os.RemoveAll(root)
	facts, err := fixture.Load(dir, root)
	if err != nil {
		return nil, err
	}
	log := newLogger(stderr, true)
	if !verbose {
		log = newLogger(io.Discard, false)
	}
	m := generic.NewForFixture(root, facts, log.Named("generic"))
	if _, err := m.EvaluateHardwareSupport(ctx, cfg); err != nil {
		return nil, fmt.Errorf("generic manager: %w", err)
	}
	inv, err := m.Inventory(ctx)
	if err != nil {
		return nil, fmt.Errorf("inventory of %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(inv, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encode inventory: %w", err)
	}
	return append(b, '\n'), nil
}
