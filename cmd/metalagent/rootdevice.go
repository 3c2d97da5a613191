package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/metalagent/metalagent/agent"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/hints"
)

// cmdRootDevice is a dry run of the install-device choice: it applies the
// node's root device hints and skip list to the merged inventory's disks
// and prints, for every disk, whether it would be chosen and why, or which
// rule ruled it out. Exit status 1 when no disk qualifies.
func cmdRootDevice(ctx context.Context, args []string) int {
	var nodeFile, hintsJSON string
	var asJSON bool
	cfg, _, err := parseTool("root-device", args, 0, func(fs *pflag.FlagSet) {
		fs.StringVar(&nodeFile, "node", "", "a node as JSON (as `baremetal node show -f json` or Ironic's API gives it): its root device hints and skip_block_devices apply")
		fs.StringVar(&hintsJSON, "hints", "", `root device hints as JSON, e.g. '{"serial": "S1"}'; replaces the node's`)
		fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	})
	if err != nil {
		return exit("root-device", err)
	}
	var node []byte
	if nodeFile != "" {
		if node, err = os.ReadFile(nodeFile); err != nil {
			return exit("root-device", usageError("--node: %w", err))
		}
	}
	rawHints, err := hints.FromNode(node)
	if err != nil {
		return exit("root-device", usageError("--node: %w", err))
	}
	if hintsJSON != "" {
		if err := json.Unmarshal([]byte(hintsJSON), &rawHints); err != nil {
			return exit("root-device", usageError("--hints: %w", err))
		}
	}
	h, err := hints.Parse(rawHints)
	if err != nil {
		return exit("root-device", usageError("root device hints: %w", err))
	}
	var n struct {
		Properties struct {
			SkipBlockDevices []map[string]any `json:"skip_block_devices"`
		} `json:"properties"`
	}
	if len(node) > 0 {
		if err := json.Unmarshal(node, &n); err != nil {
			return exit("root-device", usageError("--node: %w", err))
		}
	}
	skip, err := hints.SkipList(n.Properties.SkipBlockDevices)
	if err != nil {
		return exit("root-device", usageError("properties.%w", err))
	}
	host, err := agent.New(cfg, os.Stderr).StartLocal(ctx)
	if err != nil {
		return exit("root-device", err)
	}
	defer host.Close()
	inv, err := host.Inventory(ctx)
	if err != nil {
		return exit("root-device", err)
	}
	var disks []sdk.BlockDevice
	b, _ := json.Marshal(inv["disks"])
	if err := json.Unmarshal(b, &disks); err != nil {
		return exit("root-device", fmt.Errorf("inventory disks: %w", err))
	}
	verdicts := hints.Explain(disks, h, skip)
	if asJSON {
		if err := printJSON(verdicts); err != nil {
			return exit("root-device", err)
		}
	} else {
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(w, "DISK\tSIZE\tCHOSEN\tWHY\n")
		for i, v := range verdicts {
			fmt.Fprintf(w, "%s\t%d\t%v\t%s\n", v.Disk, disks[i].Size, v.Chosen, v.Reason)
		}
		if err := w.Flush(); err != nil {
			return exit("root-device", err)
		}
	}
	for _, v := range verdicts {
		if v.Chosen {
			return 0
		}
	}
	return exit("root-device", errors.New("no disk qualifies"))
}
