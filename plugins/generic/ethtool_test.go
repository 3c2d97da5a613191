package generic

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// fakeLinks stands in for ethtool: it answers the driver information of
// the interfaces in info and EOPNOTSUPP for the others, as the kernel does
// for virtual interfaces, and counts how often it is opened and closed.
type fakeLinks struct {
	info           map[string]driverInfo
	opened, closed int
}

// system returns s with ethtool replaced by f.
func (f *fakeLinks) system(s system) system {
	s.links = func() (linkInfo, error) {
		f.opened++
		return f, nil
	}
	return s
}

func (f *fakeLinks) DriverInfo(name string) (driverInfo, error) {
	if i, ok := f.info[name]; ok {
		return i, nil
	}
	return driverInfo{}, fmt.Errorf("ethtool driver info of %s: %w", name, unix.EOPNOTSUPP)
}

func (f *fakeLinks) Close() { f.closed++ }

func TestInterfacesEthtool(t *testing.T) {
	type dp struct{ Driver, PCI string }
	tests := []struct {
		name    string
		fixture string
		links   *fakeLinks // nil: no ethtool
		openErr bool
		want    map[string]dp
	}{
		{
			name:    "no ethtool: sysfs",
			fixture: "vm",
			want:    map[string]dp{"eth0": {"virtio_net", ""}},
		},
		{
			name:    "ethtool has the virtio PCI address sysfs lacks",
			fixture: "vm",
			links:   &fakeLinks{info: map[string]driverInfo{"eth0": {Driver: "virtio_net", Version: "1.0.0", BusInfo: "0000:00:03.0"}}},
			want:    map[string]dp{"eth0": {"virtio_net", "0000:00:03.0"}},
		},
		{
			name:    "EOPNOTSUPP: sysfs",
			fixture: "vm",
			links:   &fakeLinks{},
			want:    map[string]dp{"eth0": {"virtio_net", ""}},
		},
		{
			name:    "ethtool cannot open: sysfs",
			fixture: "server",
			links:   &fakeLinks{},
			openErr: true,
			want:    map[string]dp{"bond0": {}, "bond0.100": {}, "eno1": {"igb", "0000:3b:00.0"}, "eno2": {"igb", "0000:3b:00.1"}},
		},
		{
			name:    "ethtool wins, non-PCI bus info is not an address, failures fall back per interface",
			fixture: "server",
			links: &fakeLinks{info: map[string]driverInfo{
				"bond0":     {Driver: "bonding", Version: "6.1.0"},
				"bond0.100": {Driver: "802.1Q VLAN Support", Version: "1.8", BusInfo: "N/A"},
				"eno1":      {Driver: "igb-test", Version: "5.13.0", FirmwareVersion: "1.63, 0x800009fa", BusInfo: "0000:3b:00.0"},
			}},
			want: map[string]dp{
				"bond0":     {"bonding", ""},
				"bond0.100": {"802.1Q VLAN Support", ""},
				"eno1":      {"igb-test", "0000:3b:00.0"},
				"eno2":      {"igb", "0000:3b:00.1"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fixtureSystem(loadFixture(t, tt.fixture), "h", nil)
			if tt.links != nil {
				s = tt.links.system(s)
			}
			if tt.openErr {
				s.links = func() (linkInfo, error) { return nil, errors.New("socket: permission denied") }
			}
			ifcs, err := s.interfaces(testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]dp{}
			for _, ifc := range ifcs {
				got[ifc.Name] = dp{deref(ifc.Driver), deref(ifc.PCIAddress)}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("driver and PCI address (-want +got):\n%s", diff)
			}
			if tt.links != nil && !tt.openErr && (tt.links.opened != 1 || tt.links.closed != 1) {
				t.Errorf("ethtool opened %d and closed %d times, want once each", tt.links.opened, tt.links.closed)
			}
		})
	}
}
