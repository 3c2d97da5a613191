package inspector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// collectPCIDevices is IPA's pci-devices collector: every function under
// /sys/bus/pci/devices as {"vendor_id", "product_id", "class",
// "revision", "bus"}, IDs in hex without "0x" (revision null when sysfs
// has none). A device whose IDs cannot be read is left out with a
// warning; only an unreadable directory fails the collector.
func collectPCIDevices(_ context.Context, e *env) error {
	dir := filepath.Join(e.o.SysRoot, "bus", "pci", "devices")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list PCI devices: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, ent := range entries {
		names = append(names, ent.Name())
	}
	sort.Strings(names)
	devices := []map[string]any{}
	for _, bus := range names {
		d := filepath.Join(dir, bus)
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			continue
		}
		ids := map[string]string{}
		var bad error
		for _, f := range []string{"vendor", "device", "class"} {
			v, err := sysfsHex(filepath.Join(d, f))
			if err != nil {
				bad = err
				break
			}
			ids[f] = v
		}
		if bad != nil {
			e.log.Warn("PCI device left out: cannot read its IDs", "bus", bus, "error", bad)
			continue
		}
		var rev any
		if v, err := sysfsHex(filepath.Join(d, "revision")); err == nil {
			rev = v
		}
		devices = append(devices, map[string]any{
			"vendor_id": ids["vendor"], "product_id": ids["device"], "class": ids["class"], "revision": rev, "bus": bus,
		})
	}
	e.set("pci_devices", devices)
	return nil
}

// sysfsHex reads a sysfs ID file such as "0x8086\n" and returns what
// follows the "x".
func sysfsHex(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	_, v, ok := strings.Cut(s, "x")
	if !ok || v == "" {
		return "", fmt.Errorf("%s: %q is not 0x<hex>", path, s)
	}
	return v, nil
}
