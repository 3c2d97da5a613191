package generic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/jaypipes/pcidb"
	"golang.org/x/sys/unix"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
)

// The files collect_system_logs returns.
const (
	logPCI     = "pci-devices.txt"
	logNetwork = "network-interfaces.txt"
	logBlock   = "block-devices.txt"
)

// collectSystemLogs implements the hardware method collect_system_logs: it
// describes the PCI devices, network interfaces and disks in three text
// files (sdk.SystemLogs). A part that cannot be read is noted in its file;
// the method fails only when ctx ends.
func (m *Manager) collectSystemLogs(ctx context.Context) (json.RawMessage, error) {
	log := sdk.ContextLogger(ctx, m.log).With("method", sdk.MethodCollectSystemLogs)
	cfg := m.config()
	files := sdk.SystemLogs{}
	parts := []struct {
		name  string
		write func() (string, error)
	}{
		{logPCI, func() (string, error) { return m.sys.pciListing(log), nil }},
		{logNetwork, func() (string, error) { return m.sys.networkListing(), nil }},
		{logBlock, func() (string, error) { return m.sys.blockListing(ctx, cfg.allow) }},
	}
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", sdk.MethodCollectSystemLogs, err)
		}
		text, err := p.write()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sdk.MethodCollectSystemLogs, err)
		}
		files[p.name] = text
	}
	log.Info("system logs collected", "files", len(files))
	return json.Marshal(files)
}

// pciListing lists /sys/bus/pci/devices as `lspci -nnk` does, one device
// per line with its subsystem and driver below:
//
//	0000:00:03.0 Ethernet controller [0200]: Red Hat, Inc. Virtio 1.0 network device [1af4:1041] (rev 01)
//		Subsystem: Red Hat, Inc. Virtio 1.0 network device [1af4:1041]
//		Kernel driver in use: virtio-pci
//
// The names come from the PCI ID database, loaded on the first call. Without
// one, the listing has a note saying why and IDs only, as `lspci -nk`.
func (s system) pciListing(log hclog.Logger) string {
	var b strings.Builder
	dir := filepath.Join(s.sysRoot, "bus", "pci", "devices")
	entries, err := os.ReadDir(dir)
	if err != nil {
		fmt.Fprintf(&b, "# PCI devices unavailable: %s\n", errText(err))
		return b.String()
	}
	if len(entries) == 0 {
		b.WriteString("# no PCI devices\n")
		return b.String()
	}
	db, err := s.pciIDs.load(log)
	if err != nil {
		fmt.Fprintf(&b, "# PCI names unavailable, IDs only: %v\n", err)
	}
	for _, e := range entries {
		d := readPCIDevice(filepath.Join(dir, e.Name()))
		d.addr = e.Name()
		d.write(&b, db)
	}
	return b.String()
}

// pciDevice is what sysfs says about a PCI function; IDs are lower-case
// hex without 0x, "????" when unreadable.
type pciDevice struct {
	addr                 string
	class                string // six digits: class, subclass, programming interface
	vendor, device       string
	subVendor, subDevice string
	revision, driver     string
}

func readPCIDevice(dir string) pciDevice {
	return pciDevice{
		class:     readHexID(filepath.Join(dir, "class"), 6),
		vendor:    readHexID(filepath.Join(dir, "vendor"), 4),
		device:    readHexID(filepath.Join(dir, "device"), 4),
		subVendor: readHexID(filepath.Join(dir, "subsystem_vendor"), 4),
		subDevice: readHexID(filepath.Join(dir, "subsystem_device"), 4),
		revision:  readHexID(filepath.Join(dir, "revision"), 2),
		driver:    linkBase(filepath.Join(dir, "driver")),
	}
}

// readHexID reads a sysfs ID such as 0x1af4 as width lower-case hex
// digits, or question marks when it is unreadable.
func readHexID(path string, width int) string {
	s, err := readString(path)
	if err != nil {
		return strings.Repeat("?", width)
	}
	s = strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

// write appends the device's lines; db nil means IDs only.
func (d pciDevice) write(b *strings.Builder, db *pcidb.DB) {
	cls := d.class[:4]
	rev := ""
	if d.revision != "00" && d.revision != "??" {
		rev = " (rev " + d.revision + ")"
	}
	hasSub := d.subVendor != "0000" && d.subVendor != "????"
	if db == nil {
		fmt.Fprintf(b, "%s %s: %s:%s%s\n", d.addr, cls, d.vendor, d.device, rev)
		if hasSub {
			fmt.Fprintf(b, "\tSubsystem: %s:%s\n", d.subVendor, d.subDevice)
		}
	} else {
		fmt.Fprintf(b, "%s %s [%s]: %s [%s:%s]%s\n", d.addr, className(db, d.class), cls, deviceName(db, d.vendor, d.device), d.vendor, d.device, rev)
		if hasSub {
			fmt.Fprintf(b, "\tSubsystem: %s [%s:%s]\n", subsystemName(db, d), d.subVendor, d.subDevice)
		}
	}
	if d.driver != "" {
		fmt.Fprintf(b, "\tKernel driver in use: %s\n", d.driver)
	}
}

// className names the class code as lspci does: the subclass, else the
// class, else "Class".
func className(db *pcidb.DB, code string) string {
	c := db.Classes[code[:2]]
	if c == nil {
		return "Class"
	}
	for _, sc := range c.Subclasses {
		if sc.ID == code[2:4] {
			return sc.Name
		}
	}
	return c.Name
}

// deviceName names vendor and device as `lspci -nn` does: "Vendor
// Product", "Vendor Device" when the product is unknown, "Device" when
// the vendor is.
func deviceName(db *pcidb.DB, vendor, device string) string {
	v := db.Vendors[vendor]
	if v == nil {
		return "Device"
	}
	if p := db.Products[vendor+device]; p != nil {
		return v.Name + " " + p.Name
	}
	return v.Name + " Device"
}

// subsystemName names the subsystem as libpci does: the product's
// subsystem entry, else the device's own name when the subsystem IDs are
// the device's IDs, else the subsystem vendor with "Device".
func subsystemName(db *pcidb.DB, d pciDevice) string {
	vendor := "Device"
	if v := db.Vendors[d.subVendor]; v != nil {
		vendor = v.Name + " Device"
	}
	p := db.Products[d.vendor+d.device]
	if p == nil {
		return vendor
	}
	for _, sub := range p.Subsystems {
		if sub.VendorID == d.subVendor && sub.ID == d.subDevice {
			if v := db.Vendors[d.subVendor]; v != nil {
				return v.Name + " " + sub.Name
			}
			return sub.Name
		}
	}
	if d.subVendor == d.vendor && d.subDevice == d.device {
		return deviceName(db, d.vendor, d.device)
	}
	return vendor
}

// networkListing describes every entry of /sys/class/net: MAC address,
// carrier and speed from sysfs, and ethtool's driver information. A field
// that cannot be read says why.
func (s system) networkListing() string {
	var b strings.Builder
	names, err := s.netNames()
	if err != nil {
		fmt.Fprintf(&b, "# network interfaces unavailable: %s\n", errText(err))
		return b.String()
	}
	if len(names) == 0 {
		b.WriteString("# no network interfaces\n")
		return b.String()
	}
	links := s.openLinks()
	defer links.Close()
	for i, name := range names {
		if i > 0 {
			b.WriteByte('\n')
		}
		base := filepath.Join(s.sysRoot, "class", "net", name)
		b.WriteString(name + "\n")
		field(&b, 1, "mac address", sysfsText(filepath.Join(base, "address")))
		field(&b, 1, "carrier", sysfsText(filepath.Join(base, "carrier")))
		field(&b, 1, "speed", speedText(filepath.Join(base, "speed")))
		info, err := links.DriverInfo(name)
		for _, f := range []struct{ name, value string }{
			{"driver", info.Driver},
			{"driver version", info.Version},
			{"firmware version", info.FirmwareVersion},
			{"bus info", info.BusInfo},
		} {
			if err != nil {
				field(&b, 1, f.name, unavailable(err))
			} else {
				field(&b, 1, f.name, orNone(f.value))
			}
		}
	}
	return b.String()
}

// sysfsText returns the attribute at path, "(none)" when empty, or why it
// is unavailable.
func sysfsText(path string) string {
	v, err := readString(path)
	if err != nil {
		return unavailable(err)
	}
	return orNone(v)
}

// speedText describes an interface's speed attribute: "1000 Mb/s", or
// "unknown (-1)" when the driver does not know it.
func speedText(path string) string {
	v, err := readString(path)
	if err != nil {
		return unavailable(err)
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return fmt.Sprintf("%d Mb/s", n)
	}
	return "unknown (" + v + ")"
}

// blockListing describes the disks the inventory reports (the allow-list
// applies) and their partitions as the kernel sees them. It fails only
// when ctx ends.
func (s system) blockListing(ctx context.Context, allow blockdev.AllowList) (string, error) {
	var b strings.Builder
	disks, err := s.wholeDisks(ctx, allow)
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		fmt.Fprintf(&b, "# disks unavailable: %v\n", err)
		return b.String(), nil
	}
	if len(disks) == 0 {
		b.WriteString("# no disks\n")
		return b.String(), nil
	}
	for i, d := range disks {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.Name + "\n")
		field(&b, 1, "size", sizeText(d.Size))
		field(&b, 1, "model", orNone(deref(d.Model)))
		field(&b, 1, "serial", orNone(deref(d.Serial)))
		field(&b, 1, "rotational", strconv.FormatBool(d.Rotational))
		field(&b, 1, "read-only", strconv.FormatBool(d.readOnly))
		parts, err := s.partitions(d.kname)
		switch {
		case err != nil:
			field(&b, 1, "partitions", unavailable(err))
		case len(parts) == 0:
			field(&b, 1, "partitions", "none")
		default:
			b.WriteString("\tpartitions:\n")
			slices.SortFunc(parts, func(a, b partition) int { return compareNatural(a.name, b.name) })
			for _, p := range parts {
				field(&b, 2, devPath(p.name), fmt.Sprintf("start %d, size %s", p.start, sizeText(p.size)))
			}
		}
	}
	return b.String(), nil
}

// field appends "name: value" indented by depth tabs.
func field(b *strings.Builder, depth int, name, value string) {
	b.WriteString(strings.Repeat("\t", depth))
	b.WriteString(name)
	b.WriteString(": ")
	b.WriteString(value)
	b.WriteByte('\n')
}

// sizeText writes a size in bytes with its binary-prefixed value:
// "536870912 bytes (512.0 MiB)".
func sizeText(n int64) string {
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	v, u := float64(n)/1024, 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	return fmt.Sprintf("%d bytes (%.1f %s)", n, v, units[u])
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// unavailable says why a field could not be read.
func unavailable(err error) string { return "unavailable (" + errText(err) + ")" }

// errText is err without the path of a file error or the wrapping of an
// errno, which the field's name already tells.
func errText(err error) string {
	if errors.Is(err, errNoEthtool) {
		return err.Error()
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
