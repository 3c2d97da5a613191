package generic

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
)

// disk is a whole disk as the inventory reports it, with what the erase
// steps need besides.
type disk struct {
	sdk.BlockDevice
	// kname is the kernel name, e.g. "vda".
	kname string
	// readOnly is the kernel's ro flag.
	readOnly bool
}

// skippedPrefixes are kernel names that are never disks for IPA (RAM
// disks, compressed RAM, floppies, optical drives) or that this manager
// does not handle (device-mapper and md devices).
var skippedPrefixes = []string{"ram", "zram", "fd", "sr", "dm-", "md"}

// wholeDisks lists the entries of /sys/class/block that are whole disks
// with a size: partitions, hidden devices, optical drives and the
// skippedPrefixes are left out, loop devices count only when the allow-list
// is in effect, and with an allow-list only the listed devices count.
func (s system) wholeDisks(ctx context.Context, allow blockdev.AllowList) ([]disk, error) {
	return s.listDisks(ctx, allow, s.diskIdentity)
}

// identityFunc returns the identity of the disk with kernel name kname and
// device number devID ("major:minor").
type identityFunc func(kname, devID string) diskIdentity

// listDisks is wholeDisks with the disks' identity taken from identity,
// which may keep it from an earlier call (the inventory's cache).
func (s system) listDisks(ctx context.Context, allow blockdev.AllowList, identity identityFunc) ([]disk, error) {
	dir := filepath.Join(s.sysRoot, "class", "block")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.SortFunc(names, compareNatural)

	var out []disk
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("list block devices: %w", err)
		}
		if !s.isWholeDisk(name, allow) {
			continue
		}
		d, ok, err := s.blockDevice(name, identity)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// isWholeDisk applies the name, type and allow-list rules of wholeDisks.
func (s system) isWholeDisk(name string, allow blockdev.AllowList) bool {
	base := filepath.Join(s.sysRoot, "class", "block", name)
	for _, p := range skippedPrefixes {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	if strings.HasPrefix(name, "loop") && !allow.Limited() {
		return false
	}
	if exists(filepath.Join(base, "partition")) {
		return false
	}
	if h, _ := readString(filepath.Join(base, "hidden")); h == "1" {
		return false
	}
	// SCSI peripheral type 5 is a CD/DVD drive, which lsblk calls "rom".
	if t, _ := readString(filepath.Join(base, "device", "type")); t == "5" {
		return false
	}
	return allow.Allows(devPath(name))
}

// blockDevice builds the inventory entry of disk name, its identity from
// identity; ok is false for a disk of size 0 (an empty loop device, a card
// reader without a card). Size, rotational and read-only are read here on
// every call.
func (s system) blockDevice(name string, identity identityFunc) (d disk, ok bool, err error) {
	base := filepath.Join(s.sysRoot, "class", "block", name)
	sectors, err := readInt(filepath.Join(base, "size"))
	if err != nil {
		return disk{}, false, fmt.Errorf("size of %s: %w", name, err)
	}
	if sectors <= 0 {
		return disk{}, false, nil
	}
	devID, _ := readString(filepath.Join(base, "dev"))
	id := identity(name, devID)
	rota, _ := readString(filepath.Join(base, "queue", "rotational"))
	ro, _ := readString(filepath.Join(base, "ro"))

	bd := sdk.BlockDevice{
		Name:               devPath(name),
		Model:              id.model,
		Size:               sectors * 512,
		Rotational:         rota == "1",
		Vendor:             id.vendor,
		Serial:             id.serial,
		WWN:                id.wwn,
		WWNWithExtension:   id.wwnWithExtension,
		WWNVendorExtension: id.wwnVendorExtension,
		HCTL:               id.hctl,
		ByPath:             id.byPath,
	}
	return disk{BlockDevice: bd, kname: name, readOnly: ro == "1"}, true, nil
}

// diskIdentity is what names a disk and stays as long as the kernel's
// device does: model, vendor, serial, WWNs, SCSI address and by-path link.
type diskIdentity struct {
	model, vendor, serial                     *string
	wwn, wwnWithExtension, wwnVendorExtension *string
	hctl, byPath                              *string
}

// diskIdentity reads the identity of the disk kname, whose device number
// is devID, from sysfs, the udev database and /dev/disk/by-path.
func (s system) diskIdentity(kname, devID string) diskIdentity {
	base := filepath.Join(s.sysRoot, "class", "block", kname)
	props := s.udevProperties(devID)
	id := diskIdentity{
		model:              diskModel(base, props),
		vendor:             readOptional(filepath.Join(base, "device", "vendor")),
		serial:             firstProperty(props, "ID_SCSI_SERIAL", "ID_SERIAL_SHORT", "ID_SERIAL"),
		wwn:                firstProperty(props, "ID_WWN"),
		wwnWithExtension:   firstProperty(props, "ID_WWN_WITH_EXTENSION"),
		wwnVendorExtension: firstProperty(props, "ID_WWN_VENDOR_EXTENSION"),
		hctl:               firstEntry(filepath.Join(base, "device", "scsi_device")),
		byPath:             s.byPath(kname),
	}
	if id.serial == nil {
		// lsblk falls back to the device's own serial attribute (NVMe).
		id.serial = readOptional(filepath.Join(base, "device", "serial"))
	}
	return id
}

// diskModel returns the model as lsblk's MODEL column gives it: udev's
// ID_MODEL_ENC decoded, else ID_MODEL, else the device's model attribute;
// trimmed, nil when there is none.
func diskModel(base string, props map[string]string) *string {
	if enc := props["ID_MODEL_ENC"]; enc != "" {
		if v := strings.TrimSpace(udevUnescape(enc)); v != "" {
			return &v
		}
	}
	if v := firstProperty(props, "ID_MODEL"); v != nil {
		return v
	}
	return readOptional(filepath.Join(base, "device", "model"))
}

// firstEntry returns the first name in dir in sorted order, or nil.
func firstEntry(dir string) *string {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		return nil
	}
	return sdk.Ptr(entries[0].Name())
}

// byPath returns the /dev/disk/by-path link that points to the disk with
// kernel name kname, choosing the first in natural order, or nil.
func (s system) byPath(kname string) *string {
	dir := filepath.Join(s.devRoot, "disk", "by-path")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.SortFunc(names, compareNatural)
	want := s.devNode(kname)
	for _, n := range names {
		target, err := os.Readlink(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		} else if rel, err := filepath.Rel("/dev", target); err == nil {
			target = filepath.Join(s.devRoot, rel)
		}
		if filepath.Clean(target) == want {
			return sdk.Ptr("/dev/disk/by-path/" + n)
		}
	}
	return nil
}

// devNode returns the path of the device node of kname under the
// manager's /dev root, which is devPath on the running machine.
func (s system) devNode(kname string) string {
	return filepath.Join(s.devRoot, strings.TrimPrefix(devPath(kname), "/dev/"))
}

// devPath returns the /dev path of the block device with kernel name kname.
// Kernel names with "!" (cciss!c0d0) use "/" in /dev.
func devPath(kname string) string {
	return "/dev/" + strings.ReplaceAll(kname, "!", "/")
}
