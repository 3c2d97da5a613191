package generic

import (
	"errors"
	"fmt"

	"github.com/safchain/ethtool"
)

// driverInfo is what the kernel's ETHTOOL_GDRVINFO answers for a network
// interface (`ethtool -i`).
type driverInfo struct {
	Driver, Version, FirmwareVersion, BusInfo string
}

// linkInfo queries network interfaces through ethtool. Each use opens one
// and closes it when done. Only calls that never write to stdout belong
// here: stdout carries go-plugin's handshake, and safchain/ethtool's
// GetLinkSettings prints warnings there.
type linkInfo interface {
	// DriverInfo returns the driver information of the named interface.
	// Virtual interfaces may answer EOPNOTSUPP.
	DriverInfo(name string) (driverInfo, error)
	Close()
}

// errNoEthtool is the answer of every query when the system has no ethtool
// (the test fixtures) or the handle could not be opened.
var errNoEthtool = errors.New("ethtool not available")

// openLinks opens the system's ethtool handle. It never fails: without
// ethtool, every query answers an error wrapping errNoEthtool, so that the
// callers fall back to sysfs.
func (s system) openLinks() linkInfo {
	if s.links == nil {
		return noLinks{errNoEthtool}
	}
	l, err := s.links()
	if err != nil {
		return noLinks{fmt.Errorf("%w: %v", errNoEthtool, err)}
	}
	return l
}

// noLinks answers every query with err.
type noLinks struct{ err error }

func (n noLinks) DriverInfo(string) (driverInfo, error) { return driverInfo{}, n.err }
func (noLinks) Close()                                  {}

// ethtoolLinks is linkInfo on the running kernel, through
// github.com/safchain/ethtool (an AF_INET socket and SIOCETHTOOL ioctls).
type ethtoolLinks struct{ e *ethtool.Ethtool }

// openEthtool opens an ethtool handle on the running kernel.
func openEthtool() (linkInfo, error) {
	e, err := ethtool.NewEthtool()
	if err != nil {
		return nil, fmt.Errorf("open ethtool socket: %w", err)
	}
	return ethtoolLinks{e}, nil
}

func (l ethtoolLinks) DriverInfo(name string) (driverInfo, error) {
	i, err := l.e.DriverInfo(name)
	if err != nil {
		return driverInfo{}, fmt.Errorf("ethtool driver info of %s: %w", name, err)
	}
	return driverInfo{Driver: i.Driver, Version: i.Version, FirmwareVersion: i.FwVersion, BusInfo: i.BusInfo}, nil
}

func (l ethtoolLinks) Close() { l.e.Close() }
