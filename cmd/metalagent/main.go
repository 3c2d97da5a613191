// Command metalagent is the bare-metal provisioning agent: it runs in a
// ramdisk, looks its node up in Ironic, heartbeats, and serves IPA's API
// through which the conductor cleans and deploys the machine.
//
// "metalagent inventory" prints the merged hardware inventory and exits.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/metalagent/metalagent/agent"
	"github.com/metalagent/metalagent/agent/config"
)

func main() {
	args := os.Args[1:]
	inventory := len(args) > 0 && args[0] == "inventory"
	if inventory {
		args = append([]string{"--standalone"}, args[1:]...)
	}
	cfg, err := config.Parse("metalagent", args)
	if errors.Is(err, config.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "metalagent:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if inventory {
		os.Exit(printInventory(ctx, cfg))
	}
	a := agent.New(cfg, os.Stderr)
	if err := a.Run(ctx); err != nil {
		a.Logger().Error("agent failed", "error", err)
		os.Exit(1)
	}
}

// printInventory prints the merged inventory as IPA's JSON.
func printInventory(ctx context.Context, cfg *config.Config) int {
	a := agent.New(cfg, os.Stderr)
	host, err := a.StartPlugins(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "metalagent inventory:", err)
		return 1
	}
	defer host.Close()
	inv, err := host.Inventory(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "metalagent inventory:", err)
		return 1
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(inv); err != nil {
		fmt.Fprintln(os.Stderr, "metalagent inventory:", err)
		return 1
	}
	return 0
}
