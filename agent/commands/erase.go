package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
	"github.com/metalagent/metalagent/plugin-sdk/hints"
)

// stepEraseDevices is IPA's erase_devices clean step.
const stepEraseDevices = "erase_devices"

// eraseDevicesStep is erase_devices as IPA's generic manager lists it.
var eraseDevicesStep = sdk.Step{Step: stepEraseDevices, Priority: 10, Interface: "deploy", Abortable: true}

// eraseNode is the part of Ironic's node erase_devices reads.
type eraseNode struct {
	UUID       string `json:"uuid"`
	Properties struct {
		SkipBlockDevices []map[string]any `json:"skip_block_devices"`
	} `json:"properties"`
	DriverInternalInfo map[string]any `json:"driver_internal_info"`
}

// eraseTarget is one disk erase_devices hands to the managers: its name
// and the inventory's object for it (every field the managers reported,
// newer ones included).
type eraseTarget struct {
	name string
	raw  map[string]any
}

// eraseDevices is IPA's erase_devices: it takes the disks of the merged
// inventory (the allow-list applies), leaves out those matching the node's
// properties.skip_block_devices and the virtual-media disk, checks that
// none of them is in use before anything is erased, and then dispatches
// erase_block_device for each disk to the highest manager that erases it,
// up to driver_internal_info.disk_erasure_concurrency disks at once. The
// answer maps each disk to its manager's result; the failures of all
// disks are gathered into one BlockDeviceEraseError.
func (b *builtin) eraseDevices(ctx context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	log := hclog.FromContext(ctx).With("step", stepEraseDevices)
	if err := noArgs(stepEraseDevices, req.Args); err != nil {
		return nil, err
	}
	var n eraseNode
	if s := bytes.TrimSpace(req.Node); len(s) > 0 && string(s) != "null" {
		if err := json.Unmarshal(s, &n); err != nil {
			return nil, sdk.InvalidArgument("%s: decode node: %v", stepEraseDevices, err)
		}
	}
	concurrency, err := intInfo(n.DriverInternalInfo, "disk_erasure_concurrency", 1)
	if err != nil {
		return nil, err
	}
	concurrency = max(concurrency, 1)
	targets, err := b.eraseTargets(ctx, log, n)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		log.Info("no disk to erase")
		return json.RawMessage("{}"), nil
	}

	// Every disk is checked before any is erased: one disk in use aborts
	// the step untouched. A disk that cannot be checked is not erased.
	byName := make(map[string]eraseTarget, len(targets))
	names := make([]string, 0, len(targets))
	for _, t := range targets {
		byName[t.name] = t
		names = append(names, t.name)
	}
	okNames, failures, err := blockdev.CheckAll(log, stepEraseDevices, names, b.checkInUse)
	if err != nil {
		return nil, err
	}
	ok := make([]eraseTarget, 0, len(okNames))
	for _, name := range okNames {
		ok = append(ok, byName[name])
	}

	log.Info("erasing disks", "node", n.UUID, "disks", len(ok), "concurrency", concurrency)
	results := map[string]json.RawMessage{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
launch:
	for _, t := range ok {
		// Disks start in inventory order; a cancelled step starts no more.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break launch
		}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res, err := b.eraseOne(ctx, log.With("device", t.name), t, req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures[t.name] = err
				return
			}
			results[t.name] = res
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", stepEraseDevices, err)
	}
	if err := blockdev.EraseError("erase", failures); err != nil {
		return nil, err
	}
	return json.Marshal(results)
}

// eraseOne dispatches erase_block_device for one disk.
func (b *builtin) eraseOne(ctx context.Context, log hclog.Logger, t eraseTarget, req sdk.ExecuteRequest) (json.RawMessage, error) {
	args, err := json.Marshal(map[string]any{"block_device": t.raw})
	if err != nil {
		return nil, fmt.Errorf("encode arguments: %w", err)
	}
	start := time.Now()
	log.Info("erasing disk")
	// The kind of the asking step makes the host bound the call by its
	// step timeout: a hardware method's timeout is far shorter than an
	// erase.
	kind := req.Kind
	if kind == "" {
		kind = sdk.StepKindClean
	}
	res, err := b.d.Host.Dispatch(ctx, sdk.ExecuteRequest{
		Method: sdk.MethodEraseBlockDevice, Kind: kind, Args: args, Node: req.Node, Ports: req.Ports,
	})
	if err != nil {
		log.Error("disk erase failed", "error", err, "duration", time.Since(start).String())
		return nil, err
	}
	if len(bytes.TrimSpace(res)) == 0 {
		res = json.RawMessage("null")
	}
	log.Info("disk erased", "duration", time.Since(start).String())
	return res, nil
}

// eraseTargets returns the merged inventory's disks the step may erase, in
// inventory order.
func (b *builtin) eraseTargets(ctx context.Context, log hclog.Logger, n eraseNode) ([]eraseTarget, error) {
	skips, err := hints.SkipList(n.Properties.SkipBlockDevices)
	if err != nil {
		return nil, fmt.Errorf("%s: properties.%w", stepEraseDevices, err)
	}
	inv, err := b.d.Host.Inventory(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: inventory: %w", stepEraseDevices, err)
	}
	disks, _ := inv["disks"].([]any)
	allow := b.allowList()
	vmedia := blockdev.VirtualMediaDevice(b.devRoot)
	var out []eraseTarget
	for _, d := range disks {
		raw, ok := d.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: inventory disk %v is not an object", stepEraseDevices, d)
		}
		var dev sdk.BlockDevice
		if err := remarshal(raw, &dev); err != nil || dev.Name == "" {
			return nil, fmt.Errorf("%s: inventory disk %v: not a block device (%v)", stepEraseDevices, d, err)
		}
		switch {
		case !allow.Allows(dev.Name):
			log.Debug("skipping device outside the allow-list", "device", dev.Name)
		case hints.AnyMatch(skips, dev):
			log.Warn("skipping device listed in skip_block_devices", "device", dev.Name)
		case vmedia != "" && (dev.Name == vmedia || resolve(dev.Name) == vmedia):
			log.Info("skipping virtual media device", "device", dev.Name)
		default:
			out = append(out, eraseTarget{name: dev.Name, raw: raw})
		}
	}
	return out, nil
}

func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// remarshal converts v into out by a JSON round trip.
func remarshal(v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// noArgs refuses any argument, as Python refuses unexpected keyword
// arguments.
func noArgs(method string, args json.RawMessage) error {
	args = bytes.TrimSpace(args)
	if len(args) == 0 || string(args) == "null" {
		return nil
	}
	var kw map[string]json.RawMessage
	if err := json.Unmarshal(args, &kw); err != nil {
		return sdk.InvalidArgument("%s: arguments are not a JSON object: %v", method, err)
	}
	for k := range kw {
		return sdk.InvalidArgument("%s got an unexpected argument %q", method, k)
	}
	return nil
}

// intInfo returns driver_internal_info[key] as an integer, or def when it
// is absent or null. Strings of digits are accepted too.
func intInfo(info map[string]any, key string, def int) (int, error) {
	v, ok := info[key]
	if !ok || v == nil {
		return def, nil
	}
	switch v := v.(type) {
	case float64:
		if v == float64(int(v)) {
			return int(v), nil
		}
	case string:
		if i, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return i, nil
		}
	}
	return 0, sdk.InvalidArgument("driver_internal_info.%s: %v is not an integer", key, v)
}
