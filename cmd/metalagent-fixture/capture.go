package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugins/generic"
	"github.com/metalagent/metalagent/plugins/generic/fixture"
)

// cmdCapture captures the running machine into a fixture directory.
func cmdCapture(ctx context.Context, args []string, stderr io.Writer) error {
	fs := pflag.NewFlagSet("metalagent-fixture capture", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	redact := fs.Bool("redact", false, "rewrite serial numbers, WWNs, the system UUID and MAC addresses, consistently, before anything is written")
	lldp := fs.Duration("lldp", 0, "also listen for LLDP frames on the interfaces that are up, for this long (as ipa-collect-lldp does), and record them")
	verbose := fs.BoolP("verbose", "v", false, "log every skipped file")
	dir, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	log := newLogger(stderr, *verbose)
	opts := fixture.Options{Redact: *redact, Logger: log}
	if *lldp > 0 {
		opts.LLDP = func(ctx context.Context, names []string) (map[string][]sdk.LLDPTLV, error) {
			return collectLLDP(ctx, *lldp, log)
		}
	}
	start := time.Now()
	res, err := fixture.Capture(ctx, dir, opts)
	if err != nil {
		return err
	}
	for _, n := range res.Skipped {
		log.Info("file not readable, left out", "path", n.Path, "error", n.Error)
	}
	fmt.Fprintf(stderr, "captured %d files and %d links (%d bytes) into %s in %v; %d files left out\n",
		res.Files, res.Links, res.Bytes, dir, time.Since(start).Round(time.Millisecond), len(res.Skipped))
	return nil
}

// collectLLDP runs the generic manager's own LLDP collection on this
// machine, through its inventory with ipa-collect-lldp set, and returns
// the pairs per interface.
func collectLLDP(ctx context.Context, wait time.Duration, log hclog.Logger) (map[string][]sdk.LLDPTLV, error) {
	m := generic.New()
	params := map[string]string{
		"ipa-collect-lldp": "1",
		"ipa-lldp-timeout": strconv.FormatFloat(wait.Seconds(), 'f', -1, 64),
	}
	if _, err := m.EvaluateHardwareSupport(ctx, sdk.HostConfig{KernelParams: params}); err != nil {
		return nil, fmt.Errorf("generic manager: %w", err)
	}
	log.Info("listening for LLDP frames", "timeout", wait)
	inv, err := m.Inventory(ctx)
	if err != nil {
		return nil, fmt.Errorf("generic manager: %w", err)
	}
	out := map[string][]sdk.LLDPTLV{}
	for _, ifc := range inv.Interfaces {
		out[ifc.Name] = ifc.LLDP
	}
	return out, nil
}
