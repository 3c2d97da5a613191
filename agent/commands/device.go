package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/metalagent/metalagent/agent/ipa"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/hints"
)

// installDevice returns the device an image goes to: a manager that
// implements get_os_install_device decides; only when none does, the
// host applies the node's root device hints to the merged inventory's
// disks (plugin-sdk/hints: the first disk matching all hints, or the
// smallest disk of at least 4 GiB without hints), as IPA's generic manager
// does.
//
// Without a node (prepare_image, cache_image, install_bootloader) the node
// cached from lookup, the last step or set_node_info is used, as IPA uses
// its cached node.
func installDevice(ctx context.Context, d *Deps, node json.RawMessage) (string, error) {
	if len(node) == 0 || string(node) == "null" {
		node = d.cachedNode()
	}
	res, err := d.Host.Dispatch(ctx, sdk.ExecuteRequest{Method: "get_os_install_device", Node: node, Args: json.RawMessage("{}")})
	if err == nil {
		var dev string
		if err := json.Unmarshal(res, &dev); err != nil || dev == "" {
			return "", fmt.Errorf("get_os_install_device answered %s, not a device path", res)
		}
		return dev, nil
	}
	var ierr *ipa.Error
	if !errors.As(err, &ierr) || ierr.Type != "HardwareManagerMethodNotFound" {
		return "", err
	}
	inv, err := d.Host.Inventory(ctx)
	if err != nil {
		return "", fmt.Errorf("inventory for root device selection: %w", err)
	}
	disks, _ := inv["disks"].([]any)
	return chooseDisk(disks, node)
}

// chooseDisk applies the root device hints of node to the inventory's
// disks (JSON objects, in inventory order). Every failure is IPA's
// DeviceNotFound.
func chooseDisk(disks []any, node json.RawMessage) (string, error) {
	list, err := blockDevices(disks)
	if err != nil {
		return "", ipa.Wrap("DeviceNotFound", fmt.Errorf("read the inventory's disks: %w", err))
	}
	dev, err := hints.ChooseForNode(node, list)
	if err != nil {
		return "", ipa.Wrap("DeviceNotFound", err)
	}
	return dev.Name, nil
}

// blockDevices converts the merged inventory's disks, decoded from JSON,
// back into the SDK's type by a JSON round trip.
func blockDevices(disks []any) ([]sdk.BlockDevice, error) {
	if len(disks) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(disks)
	if err != nil {
		return nil, err
	}
	var out []sdk.BlockDevice
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}
