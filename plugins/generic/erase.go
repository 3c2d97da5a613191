package generic

import (
	"context"

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
	byName := make(map[string]disk, len(disks))
	names := make([]string, 0, len(disks))
	for _, d := range disks {
		byName[d.Name] = d
		names = append(names, d.Name)
	}
	okNames, failures, err := blockdev.CheckAll(log, step, names, func(name string) error {
		return m.inUse(m.sys.devNode(byName[name].kname))
	})
	if err != nil {
		return nil, nil, err
	}
	for _, name := range okNames {
		ok = append(ok, byName[name])
	}
	return ok, failures, nil
}
