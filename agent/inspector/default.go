package inspector

import (
	"context"
	"encoding/json"
	"fmt"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/hints"
)

// collectDefault is IPA's default collector: after the DHCP wait, the
// merged inventory, the disk an image would go to without root device
// hints, the PXE interface and the agent's configuration.
func collectDefault(ctx context.Context, e *env) error {
	if err := waitForDHCP(ctx, e); err != nil {
		return err
	}
	inv, err := e.o.Hardware.Inventory(ctx)
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	e.set("inventory", inv)
	if disk, ok := rootDisk(inv); ok {
		e.set("root_disk", disk)
		e.log.Debug("default root device", "root_disk", disk["name"])
	} else {
		e.log.Warn("no suitable root device detected (no disk of at least 4 GiB)")
	}
	e.set("boot_interface", pxeInterface(inv, e.o.BootIF))
	managers := e.o.Managers
	if managers == nil {
		managers = []sdk.Version{}
	}
	e.set("configuration", map[string]any{"collectors": e.names, "managers": managers})
	return nil
}

// rootDisk returns the inventory's entry of the disk that the default
// rule (no hints are known before lookup) picks: the smallest disk of at
// least 4 GiB, as IPA's guess_root_disk.
func rootDisk(inv map[string]any) (map[string]any, bool) {
	entries, _ := inv["disks"].([]any)
	raw, err := json.Marshal(entries)
	if err != nil {
		return nil, false
	}
	var disks []sdk.BlockDevice
	if err := json.Unmarshal(raw, &disks); err != nil {
		return nil, false
	}
	chosen, err := hints.Choose(disks, hints.Hints{})
	if err != nil {
		return nil, false
	}
	for _, d := range entries {
		if m, ok := d.(map[string]any); ok && m["name"] == chosen.Name {
			return m, true
		}
	}
	return nil, false
}

// pxeInterface is the payload's boot_interface: the inventory's
// boot.pxe_interface (the raw BOOTIF), else bootIF, else null.
func pxeInterface(inv map[string]any, bootIF string) any {
	if boot, ok := inv["boot"].(map[string]any); ok {
		if v, ok := boot["pxe_interface"].(string); ok && v != "" {
			return v
		}
	}
	return orNull(bootIF)
}
