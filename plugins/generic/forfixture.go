package generic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugins/generic/fixture"
)

// NewForFixture returns a generic manager that reads a loaded fixture
// (fixture.Load) at root instead of the running machine, and answers what
// it would ask the kernel through system calls (host name, machine,
// addresses, ethtool driver information, LLDP) from facts. It is meant for
// fixtures and tests (cmd/metalagent-fixture): it asks the machine it runs
// on nothing, names no PCI devices (collect_system_logs lists IDs only),
// and its erase steps would open the device nodes under root/dev, which a
// fixture does not have (the manager opens block devices only), so they
// fail without writing anything.
func NewForFixture(root string, facts fixture.Facts, log hclog.Logger) *Manager {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return newManager(factsSystem(root, facts), log)
}

// factsSystem returns a system reading the tree at root and answering
// from facts. Without any ethtool answer in facts it has no ethtool, and
// without LLDP data no LLDP collector, as the test fixtures.
func factsSystem(root string, facts fixture.Facts) system {
	s := system{
		sysRoot:  filepath.Join(root, "sys"),
		procRoot: filepath.Join(root, "proc"),
		devRoot:  filepath.Join(root, "dev"),
		runRoot:  filepath.Join(root, "run"),
		hostname: func() (string, error) {
			if facts.Hostname == "" {
				return "", errors.New("fixture has no host name")
			}
			return facts.Hostname, nil
		},
		machine: func() (string, error) {
			if facts.Machine == "" {
				return "", errors.New("fixture has no machine")
			}
			return facts.Machine, nil
		},
		addrs: func(ifname string) ([]net.Addr, error) {
			return factsAddrs(facts.Interfaces[ifname].Addresses)
		},
	}
	hasEthtool, hasLLDP := facts.EthtoolUnavailable != "", false
	for _, ifc := range facts.Interfaces {
		hasEthtool = hasEthtool || ifc.Ethtool != nil || ifc.EthtoolError != nil
		hasLLDP = hasLLDP || ifc.LLDP != nil
	}
	if hasEthtool {
		s.links = func() (linkInfo, error) {
			if facts.EthtoolUnavailable != "" {
				return nil, errors.New(facts.EthtoolUnavailable)
			}
			return factsLinks(facts.Interfaces), nil
		}
	}
	if hasLLDP {
		s.lldp = func(ctx context.Context, names []string, wait time.Duration, log hclog.Logger) map[string][]sdk.LLDPTLV {
			out := make(map[string][]sdk.LLDPTLV, len(names))
			for _, n := range names {
				if l := facts.Interfaces[n].LLDP; l != nil {
					out[n] = *l
				}
			}
			return out
		}
	}
	return s
}

// factsAddrs parses addresses in CIDR notation, or bare.
func factsAddrs(addrs []string) ([]net.Addr, error) {
	out := make([]net.Addr, 0, len(addrs))
	for _, a := range addrs {
		if ip, n, err := net.ParseCIDR(a); err == nil {
			n.IP = ip
			out = append(out, n)
			continue
		}
		ip := net.ParseIP(a)
		if ip == nil {
			return nil, fmt.Errorf("fixture address %q: not an IP address", a)
		}
		out = append(out, &net.IPAddr{IP: ip})
	}
	return out, nil
}

// factsLinks answers ethtool's driver information from a fixture's facts:
// the recorded answer, the recorded failure (with its errno, so that it
// reads as it did on the machine), or EOPNOTSUPP for an interface without
// either.
type factsLinks map[string]fixture.Interface

func (f factsLinks) DriverInfo(name string) (driverInfo, error) {
	ifc := f[name]
	switch {
	case ifc.Ethtool != nil:
		i := ifc.Ethtool
		return driverInfo{Driver: i.Driver, Version: i.Version, FirmwareVersion: i.FirmwareVersion, BusInfo: i.BusInfo}, nil
	case ifc.EthtoolError != nil && ifc.EthtoolError.Errno != 0:
		return driverInfo{}, fmt.Errorf("ethtool driver info of %s: %w", name, unix.Errno(ifc.EthtoolError.Errno))
	case ifc.EthtoolError != nil:
		return driverInfo{}, fmt.Errorf("ethtool driver info of %s: %s", name, ifc.EthtoolError.Message)
	}
	return driverInfo{}, fmt.Errorf("ethtool driver info of %s: %w", name, unix.EOPNOTSUPP)
}

func (factsLinks) Close() {}
