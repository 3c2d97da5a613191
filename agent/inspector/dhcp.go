package inspector

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// nic is a network interface as the DHCP wait sees it.
type nic struct {
	name, mac string
	hasIPv4   bool
}

// normalizeMAC turns BOOTIF's pxelinux form 01-aa-bb-cc-dd-ee-ff into
// aa:bb:cc:dd:ee:ff, lower-cased, as IPA does; other forms are only
// lower-cased.
func normalizeMAC(mac string) string {
	if _, rest, ok := strings.Cut(mac, "-"); ok {
		mac = strings.ReplaceAll(rest, "-", ":")
	}
	return strings.ToLower(mac)
}

// waitForDHCP waits, up to DHCPWaitTimeout, until the PXE interface (or
// every physical interface, with DHCPAllInterfaces) has an IPv4 address.
// Running out of time, or not knowing the PXE interface, is only logged,
// as in IPA.
func waitForDHCP(ctx context.Context, e *env) error {
	o := e.o
	if o.DHCPWaitTimeout <= 0 {
		return nil
	}
	pxe := ""
	if o.BootIF != "" {
		pxe = normalizeMAC(o.BootIF)
	} else if !o.DHCPAllInterfaces {
		e.log.Warn("no PXE boot interface known (no BOOTIF): not waiting for its IPv4 address")
		return nil
	}
	list := o.listNICs
	if list == nil {
		list = func() ([]nic, error) { return physicalNICs(o.SysRoot) }
	}
	start := time.Now()
	deadline := start.Add(o.DHCPWaitTimeout)
	var missing []string
	for {
		nics, err := list()
		if err != nil {
			return fmt.Errorf("list network interfaces: %w", err)
		}
		missing = missing[:0]
		for _, n := range nics {
			if (o.DHCPAllInterfaces || n.mac == pxe) && !n.hasIPv4 {
				missing = append(missing, n.name)
			}
		}
		if len(missing) == 0 {
			e.log.Debug("interfaces have their IPv4 addresses", "waited", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if time.Now().Add(o.DHCPPollInterval).After(deadline) {
			break
		}
		e.log.Debug("still waiting for IPv4 addresses", "interfaces", missing)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.DHCPPollInterval):
		}
	}
	e.log.Warn("not all network interfaces received IPv4 addresses in time", "timeout", o.DHCPWaitTimeout, "missing", missing)
	return nil
}

// physicalNICs lists the interfaces with a device link in sysfs, the
// ones IPA reports, and whether each has an IPv4 address.
func physicalNICs(sysRoot string) ([]nic, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []nic
	for _, i := range ifaces {
		if _, err := os.Stat(filepath.Join(sysRoot, "class", "net", i.Name, "device")); err != nil {
			continue
		}
		n := nic{name: i.Name, mac: strings.ToLower(i.HardwareAddr.String())}
		addrs, _ := i.Addrs()
		n.hasIPv4 = slices.ContainsFunc(addrs, func(a net.Addr) bool {
			ipn, ok := a.(*net.IPNet)
			return ok && ipn.IP.To4() != nil
		})
		out = append(out, n)
	}
	return out, nil
}
