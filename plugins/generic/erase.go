package generic

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
	"github.com/metalagent/metalagent/plugin-sdk/hints"
)

// eraseTargets returns the disks an erase step may consider: the
// candidates (the allow-list and skip_block_devices apply) minus the
// virtual-media device.
func (m *Manager) eraseTargets(ctx context.Context, log hclog.Logger, n node) ([]disk, error) {
	disks, err := m.candidates(ctx, log, n)
	if err != nil {
		return nil, err
	}
	vmedia := blockdev.VirtualMediaDevice(m.sys.devRoot)
	var out []disk
	for _, d := range disks {
		if d.Name == vmedia {
			log.Info("skipping virtual media device", "device", d.Name)
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// candidates returns the inventory's disks (the allow-list applies) minus
// those matching the node's properties.skip_block_devices, as IPA's
// list_block_devices_check_skip_list does.
func (m *Manager) candidates(ctx context.Context, log hclog.Logger, n node) ([]disk, error) {
	skips, err := hints.SkipList(n.Properties.SkipBlockDevices)
	if err != nil {
		return nil, sdk.InvalidArgument("properties.%v", err)
	}
	disks, err := m.sys.wholeDisks(ctx, m.config().allow)
	if err != nil {
		return nil, err
	}
	var out []disk
	for _, d := range disks {
		if hints.AnyMatch(skips, d.BlockDevice) {
			log.Warn("skipping device listed in skip_block_devices", "device", d.Name)
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// refuseInUse checks every disk before anything is written: a disk that
// is mounted or used as swap (itself, a partition or a holder) aborts the
// whole step with ProtectedDeviceError. Disks that cannot be checked are
// returned as failures and must not be written.
func (m *Manager) refuseInUse(log hclog.Logger, step string, disks []disk) (ok []disk, failures map[string]error, err error) {
	checker := m.checker()
	failures = map[string]error{}
	var protected []string
	for _, d := range disks {
		err := checker.CheckNotInUse(m.sys.devNode(d.kname))
		switch {
		case err == nil:
			ok = append(ok, d)
		case sdk.TypeOf(err) == "ProtectedDeviceError":
			log.Error("refusing to erase a device in use", "device", d.Name, "error", err)
			protected = append(protected, err.Error())
		default:
			log.Error("cannot check whether the device is in use", "device", d.Name, "error", err)
			failures[d.Name] = fmt.Errorf("check whether in use: %w", err)
		}
	}
	if len(protected) > 0 {
		return nil, nil, sdk.HardwareError("ProtectedDeviceError", "%s: nothing was erased: %s", step, strings.Join(protected, "; "))
	}
	return ok, failures, nil
}

// eraseError joins per-disk failures into IPA's BlockDeviceEraseError, or
// returns nil when there are none.
func eraseError(what string, failures map[string]error) error {
	if len(failures) == 0 {
		return nil
	}
	names := make([]string, 0, len(failures))
	for n := range failures {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%q: %v", n, failures[n]))
	}
	return sdk.HardwareError("BlockDeviceEraseError", "Failed to conduct %s on device(s): %s", what, strings.Join(parts, ", "))
}
