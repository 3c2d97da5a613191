package generic

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// pciAddress matches a PCI function address such as 0000:00:03.0.
var pciAddress = regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)

// interfaces lists the network interfaces IPA reports: the entries of
// /sys/class/net that are physical devices (they have a device link),
// VLANs (name.N) or bonds, and that have a link-layer address. The driver
// and PCI address come from ethtool, one handle for the whole listing,
// with sysfs as the fallback; ethtool's failures are logged at debug level.
func (s system) interfaces(log hclog.Logger) ([]sdk.NetworkInterface, error) {
	names, err := s.netNames()
	if err != nil {
		return nil, err
	}
	links := s.openLinks()
	defer links.Close()

	var out []sdk.NetworkInterface
	for _, name := range names {
		base := filepath.Join(s.sysRoot, "class", "net", name)
		if !exists(filepath.Join(base, "device")) && !isVLAN(name) && !exists(filepath.Join(base, "bonding")) {
			continue
		}
		if ifc, ok := s.interfaceInfo(name, links, log); ok {
			out = append(out, ifc)
		}
	}
	return out, nil
}

// netNames lists the entries of /sys/class/net in natural order.
func (s system) netNames() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.sysRoot, "class", "net"))
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.SortFunc(names, compareNatural)
	return names, nil
}

// isVLAN reports whether name has the name.N form of a VLAN interface.
func isVLAN(name string) bool {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return false
	}
	_, err := strconv.Atoi(name[i+1:])
	return err == nil
}

// interfaceInfo builds IPA's NetworkInterface for name; ok is false when
// the interface has no link-layer address (IPA skips those).
func (s system) interfaceInfo(name string, links linkInfo, log hclog.Logger) (sdk.NetworkInterface, bool) {
	base := filepath.Join(s.sysRoot, "class", "net", name)
	mac, err := readString(filepath.Join(base, "address"))
	if err != nil || mac == "" {
		return sdk.NetworkInterface{}, false
	}
	ifc := sdk.NetworkInterface{
		Name:       name,
		MACAddress: strings.ToLower(mac),
		Vendor:     readOptional(filepath.Join(base, "device", "vendor")),
		Product:    readOptional(filepath.Join(base, "device", "device")),
	}
	if c, err := readString(filepath.Join(base, "carrier")); err == nil {
		ifc.HasCarrier = c == "1"
	}
	if addrs, err := s.addrs(name); err == nil {
		ifc.IPv4Address, ifc.IPv6Address = firstAddresses(addrs)
	}
	if speed, err := readInt(filepath.Join(base, "speed")); err == nil && speed > 0 {
		ifc.SpeedMbps = sdk.Ptr(int(speed))
	}
	ifc.Driver, ifc.PCIAddress = sysfsDriver(base)
	if info, err := links.DriverInfo(name); err != nil {
		log.Debug("no ethtool driver information, using sysfs", "interface", name, "error", err)
	} else {
		if info.Driver != "" {
			ifc.Driver = sdk.Ptr(info.Driver)
		}
		if pciAddress.MatchString(info.BusInfo) {
			ifc.PCIAddress = sdk.Ptr(info.BusInfo)
		}
	}
	return ifc, true
}

// sysfsDriver returns the driver (the base name of the device/driver link)
// and the PCI address (the base name of the device link, when it has that
// form) of the interface whose sysfs directory is base, each nil if
// unknown. A virtio NIC's device link names the virtio device, not the PCI
// function, so it has no PCI address here.
func sysfsDriver(base string) (driver, pci *string) {
	if dev := linkBase(filepath.Join(base, "device")); pciAddress.MatchString(dev) {
		pci = &dev
	}
	if drv := linkBase(filepath.Join(base, "device", "driver")); drv != "" {
		driver = &drv
	}
	return driver, pci
}

// firstAddresses returns the first IPv4 and the first IPv6 address of
// addrs, without prefix length or zone, or nil for a family without one.
func firstAddresses(addrs []net.Addr) (v4, v6 *string) {
	for _, a := range addrs {
		var ip net.IP
		switch a := a.(type) {
		case *net.IPNet:
			ip = a.IP
		case *net.IPAddr:
			ip = a.IP
		default:
			continue
		}
		if ip4 := ip.To4(); ip4 != nil {
			if v4 == nil {
				v4 = sdk.Ptr(ip4.String())
			}
		} else if ip.To16() != nil && v6 == nil {
			v6 = sdk.Ptr(ip.String())
		}
	}
	return v4, v6
}
