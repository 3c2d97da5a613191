package generic

import (
	"context"
	"encoding/json"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/hints"
)

// methodInstallDevice is IPA's hardware method that names the disk an
// image goes to.
const methodInstallDevice = "get_os_install_device"

// osInstallDevice implements get_os_install_device as IPA's generic
// manager does: the node's root device hints (instance_info.root_device,
// else properties.root_device) pick the first matching disk, in inventory
// order, among the inventory's disks (the allow-list applies) that
// properties.skip_block_devices does not exclude; without hints the
// smallest of those disks of at least 4 GiB is taken. The result is the
// device path as a JSON string. When no disk qualifies, or the hints are
// invalid, the error is a DeviceNotFound hardware error.
func (m *Manager) osInstallDevice(ctx context.Context, raw json.RawMessage, n node) (json.RawMessage, error) {
	log := sdk.ContextLogger(ctx, m.log).With("method", methodInstallDevice)
	disks, err := m.candidates(ctx, log, n)
	if err != nil {
		return nil, err
	}
	list := make([]sdk.BlockDevice, 0, len(disks))
	for _, d := range disks {
		list = append(list, d.BlockDevice)
	}
	dev, err := hints.ChooseForNode(raw, list)
	if err != nil {
		log.Error("no install device", "error", err)
		return nil, err
	}
	log.Info("install device chosen", "device", dev.Name)
	return json.Marshal(dev.Name)
}
