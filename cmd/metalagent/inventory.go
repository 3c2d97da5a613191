package main

import (
	"context"
	"os"

	"github.com/spf13/pflag"

	"github.com/metalagent/metalagent/agent"
)

// cmdInventory prints the merged inventory as IPA's JSON, or with
// --by-plugin what each manager supplied to it.
func cmdInventory(ctx context.Context, args []string) int {
	var byPlugin bool
	cfg, _, err := parseTool("inventory", args, 0, func(fs *pflag.FlagSet) {
		fs.BoolVar(&byPlugin, "by-plugin", false, "print, per manager, the top-level components and the disk and interface fields it supplied")
	})
	if err != nil {
		return exit("inventory", err)
	}
	host, err := agent.New(cfg, os.Stderr).StartLocal(ctx)
	if err != nil {
		return exit("inventory", err)
	}
	defer host.Close()
	inv, prov, err := host.InventoryWithProvenance(ctx)
	if err != nil {
		return exit("inventory", err)
	}
	if byPlugin {
		return exit("inventory", printJSON(prov.ByManager()))
	}
	return exit("inventory", printJSON(inv))
}
