package generic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jaypipes/pcidb/types"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
)

// fixturePCIIDs is the small pci.ids under testdata.
func fixturePCIIDs() *pciIDs { return &pciIDs{paths: []string{filepath.Join("testdata", "pci.ids")}} }

const vmPCINames = `0000:00:00.0 Host bridge [0600]: Intel Corporation Device [8086:0d57]
0000:00:01.0 Unassigned class [ffff]: Red Hat, Inc. Virtio 1.0 memory balloon [1af4:1045] (rev 01)
	Subsystem: Red Hat, Inc. Virtio 1.0 memory balloon [1af4:1045]
	Kernel driver in use: virtio-pci
0000:00:02.0 Mass storage controller [0180]: Red Hat, Inc. Virtio 1.0 block device [1af4:1042] (rev 01)
	Subsystem: Red Hat, Inc. Virtio 1.0 block device [1af4:1042]
	Kernel driver in use: virtio-pci
0000:00:03.0 Ethernet controller [0200]: Red Hat, Inc. Virtio 1.0 network device [1af4:1041] (rev 01)
	Subsystem: Red Hat, Inc. Virtio 1.0 network device [1af4:1041]
	Kernel driver in use: virtio-pci
0000:00:04.0 Unassigned class [ffff]: Red Hat, Inc. Virtio 1.0 socket [1af4:1053] (rev 01)
	Subsystem: Red Hat, Inc. Virtio 1.0 socket [1af4:1053]
	Kernel driver in use: virtio-pci
0000:00:05.0 Unassigned class [ffff]: Red Hat, Inc. Virtio 1.0 RNG [1af4:1044] (rev 01)
	Subsystem: Red Hat, Inc. Virtio 1.0 RNG [1af4:1044]
	Kernel driver in use: virtio-pci
`

const vmPCIIDsOnly = `0000:00:00.0 0600: 8086:0d57
0000:00:01.0 ffff: 1af4:1045 (rev 01)
	Subsystem: 1af4:1045
	Kernel driver in use: virtio-pci
0000:00:02.0 0180: 1af4:1042 (rev 01)
	Subsystem: 1af4:1042
	Kernel driver in use: virtio-pci
0000:00:03.0 0200: 1af4:1041 (rev 01)
	Subsystem: 1af4:1041
	Kernel driver in use: virtio-pci
0000:00:04.0 ffff: 1af4:1053 (rev 01)
	Subsystem: 1af4:1053
	Kernel driver in use: virtio-pci
0000:00:05.0 ffff: 1af4:1044 (rev 01)
	Subsystem: 1af4:1044
	Kernel driver in use: virtio-pci
`

// serverPCINames shows the fallbacks: a subsystem without an entry
// (vendor name and "Device"), a subsystem entry, a bridge without a
// subsystem, a device whose vendor is known but not the device, and a
// device whose vendor and class are unknown.
const serverPCINames = `0000:00:17.0 SATA controller [0106]: Intel Corporation C620 Series Chipset Family SATA Controller [AHCI mode] [8086:a182] (rev 09)
	Subsystem: Super Micro Computer Inc Device [15d9:095b]
	Kernel driver in use: ahci
0000:17:00.0 PCI bridge [0604]: Intel Corporation Sky Lake-E PCI Express Root Port A [8086:2030] (rev 04)
	Kernel driver in use: pcieport
0000:18:00.0 RAID bus controller [0104]: Broadcom / LSI MegaRAID SAS-3 3108 [Invader] [1000:005d] (rev 02)
	Subsystem: Super Micro Computer Inc Device [15d9:0809]
	Kernel driver in use: megaraid_sas
0000:3a:00.0 PCI bridge [0604]: Intel Corporation Sky Lake-E PCI Express Root Port A [8086:2030] (rev 04)
	Kernel driver in use: pcieport
0000:3b:00.0 Ethernet controller [0200]: Intel Corporation I350 Gigabit Network Connection [8086:1521] (rev 01)
	Subsystem: Super Micro Computer Inc Device [15d9:1521]
	Kernel driver in use: igb
0000:3b:00.1 Ethernet controller [0200]: Intel Corporation I350 Gigabit Network Connection [8086:1521] (rev 01)
	Subsystem: Super Micro Computer Inc Device [15d9:1521]
	Kernel driver in use: igb
0000:5d:00.0 PCI bridge [0604]: Intel Corporation Sky Lake-E PCI Express Root Port A [8086:2030] (rev 04)
	Kernel driver in use: pcieport
0000:5e:00.0 Non-Volatile memory controller [0108]: Samsung Electronics Co Ltd NVMe SSD Controller SM981/PM981/PM983 [144d:a808]
	Subsystem: Samsung Electronics Co Ltd SSD 970 EVO [144d:a801]
	Kernel driver in use: nvme
0000:64:00.5 System peripheral [0880]: Intel Corporation Device [8086:09ab]
0000:b3:00.0 Class [1200]: Device [1fff:0001] (rev 10)
	Subsystem: Device [1fff:0001]
`

func TestPCIListing(t *testing.T) {
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "misc", "pci.ids")
	missing2 := filepath.Join(tmp, "hwdata", "pci.ids")
	malformed := filepath.Join(tmp, "malformed.ids")
	empty := filepath.Join(tmp, "empty.ids")
	if err := os.WriteFile(malformed, []byte("1af4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		fixture string // "" is an empty tree without /sys/bus/pci
		ids     *pciIDs
		want    string
	}{
		{"vm with names", "vm", fixturePCIIDs(), vmPCINames},
		{"server with names", "server", fixturePCIIDs(), serverPCINames},
		{"second path when the first is missing", "vm", &pciIDs{paths: []string{missing, filepath.Join("testdata", "pci.ids")}}, vmPCINames},
		{
			"no pci.ids",
			"vm",
			&pciIDs{paths: []string{missing, missing2}},
			"# PCI names unavailable, IDs only: " + missing + ": not found; " + missing2 + ": not found\n" + vmPCIIDsOnly,
		},
		{"no database configured", "vm", nil, "# PCI names unavailable, IDs only: no pci.ids configured\n" + vmPCIIDsOnly},
		{
			"malformed pci.ids does not panic",
			"vm",
			&pciIDs{paths: []string{malformed}},
			"# PCI names unavailable, IDs only: " + malformed + ": malformed pci.ids: runtime error: slice bounds out of range [6:4]\n" + vmPCIIDsOnly,
		},
		{"empty pci.ids", "vm", &pciIDs{paths: []string{empty}}, "# PCI names unavailable, IDs only: " + empty + ": no vendors in file\n" + vmPCIIDsOnly},
		{"no PCI bus", "", fixturePCIIDs(), "# PCI devices unavailable: no such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.fixture != "" {
				root = loadFixture(t, tt.fixture)
			}
			s := fixtureSystem(root, "h", nil)
			s.pciIDs = tt.ids
			if diff := cmp.Diff(tt.want, s.pciListing(testLogger(t))); diff != "" {
				t.Errorf("pci-devices.txt (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPCIIDsNeverFetch checks that pcidb cannot be talked into fetching
// pci.ids from the network, even by its environment variables: a missing
// file is pcidb's ErrNoDB (with fetching on, pcidb would try the network
// and fail with a different error here, or write its cache).
func TestPCIIDsNeverFetch(t *testing.T) {
	t.Setenv("PCIDB_ENABLE_NETWORK_FETCH", "1")
	t.Setenv("PCIDB_CACHE_ONLY", "1")
	t.Setenv("PCIDB_PATH", filepath.Join("testdata", "pci.ids"))
	t.Setenv("PCIDB_CHROOT", "/")
	path := filepath.Join(t.TempDir(), "pci.ids")
	if _, err := openPCIDB(path); !errors.Is(err, types.ErrNoDB) {
		t.Fatalf("openPCIDB(missing) = %v, want pcidb's ErrNoDB", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("%s was created", path)
	}
}

// TestPCIIDsOnce checks that the database is loaded once and kept.
func TestPCIIDsOnce(t *testing.T) {
	p := fixturePCIIDs()
	db1, err := p.load(testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	p.paths = nil
	db2, err := p.load(testLogger(t))
	if err != nil || db1 != db2 {
		t.Errorf("second load = %p, %v; want the first database %p", db2, err, db1)
	}
	if got := db1.Vendors["1af4"]; got == nil || got.Name != "Red Hat, Inc." {
		t.Errorf("vendor 1af4 = %+v", got)
	}
}

// vmLinks answers as the kernel of the build machine does.
func vmLinks() *fakeLinks {
	return &fakeLinks{info: map[string]driverInfo{
		"eth0": {Driver: "virtio_net", Version: "1.0.0", BusInfo: "0000:00:03.0"},
		"ifb0": {Driver: "ifb", Version: "6.18.44-fc-v782"},
	}}
}

func TestNetworkListing(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		links   *fakeLinks
		want    string
	}{
		{"vm with ethtool", "vm", vmLinks(), `eth0
	mac address: 02:fc:00:00:00:01
	carrier: 1
	speed: unknown (-1)
	driver: virtio_net
	driver version: 1.0.0
	firmware version: (none)
	bus info: 0000:00:03.0

ifb0
	mac address: 5e:6a:7c:bc:0e:bd
	carrier: 0
	speed: unavailable (no such file or directory)
	driver: ifb
	driver version: 6.18.44-fc-v782
	firmware version: (none)
	bus info: (none)

lo
	mac address: 00:00:00:00:00:00
	carrier: 1
	speed: unavailable (no such file or directory)
	driver: unavailable (operation not supported)
	driver version: unavailable (operation not supported)
	firmware version: unavailable (operation not supported)
	bus info: unavailable (operation not supported)
`},
		{"vm without ethtool", "vm", nil, `eth0
	mac address: 02:fc:00:00:00:01
	carrier: 1
	speed: unknown (-1)
	driver: unavailable (ethtool not available)
	driver version: unavailable (ethtool not available)
	firmware version: unavailable (ethtool not available)
	bus info: unavailable (ethtool not available)

ifb0
	mac address: 5e:6a:7c:bc:0e:bd
	carrier: 0
	speed: unavailable (no such file or directory)
	driver: unavailable (ethtool not available)
	driver version: unavailable (ethtool not available)
	firmware version: unavailable (ethtool not available)
	bus info: unavailable (ethtool not available)

lo
	mac address: 00:00:00:00:00:00
	carrier: 1
	speed: unavailable (no such file or directory)
	driver: unavailable (ethtool not available)
	driver version: unavailable (ethtool not available)
	firmware version: unavailable (ethtool not available)
	bus info: unavailable (ethtool not available)
`},
		{"server: speed, empty address", "server", &fakeLinks{info: map[string]driverInfo{
			"eno1": {Driver: "igb", Version: "5.13.0", FirmwareVersion: "1.63, 0x800009fa", BusInfo: "0000:3b:00.0"},
		}}, `bond0
	mac address: ac:1f:6b:00:00:01
	carrier: 1
	speed: 1000 Mb/s
	driver: unavailable (operation not supported)
	driver version: unavailable (operation not supported)
	firmware version: unavailable (operation not supported)
	bus info: unavailable (operation not supported)

bond0.100
	mac address: ac:1f:6b:00:00:01
	carrier: 1
	speed: unavailable (no such file or directory)
	driver: unavailable (operation not supported)
	driver version: unavailable (operation not supported)
	firmware version: unavailable (operation not supported)
	bus info: unavailable (operation not supported)

docker0
	mac address: 02:42:ac:11:00:01
	carrier: 0
	speed: unavailable (no such file or directory)
	driver: unavailable (operation not supported)
	driver version: unavailable (operation not supported)
	firmware version: unavailable (operation not supported)
	bus info: unavailable (operation not supported)

eno1
	mac address: AC:1F:6B:00:00:01
	carrier: 1
	speed: 1000 Mb/s
	driver: igb
	driver version: 5.13.0
	firmware version: 1.63, 0x800009fa
	bus info: 0000:3b:00.0

eno2
	mac address: ac:1f:6b:00:00:02
	carrier: 0
	speed: unavailable (no such file or directory)
	driver: unavailable (operation not supported)
	driver version: unavailable (operation not supported)
	firmware version: unavailable (operation not supported)
	bus info: unavailable (operation not supported)

lo
	mac address: 00:00:00:00:00:00
	carrier: 1
	speed: unavailable (no such file or directory)
	driver: unavailable (operation not supported)
	driver version: unavailable (operation not supported)
	firmware version: unavailable (operation not supported)
	bus info: unavailable (operation not supported)

wwan0
	mac address: (none)
	carrier: 0
	speed: unavailable (no such file or directory)
	driver: unavailable (operation not supported)
	driver version: unavailable (operation not supported)
	firmware version: unavailable (operation not supported)
	bus info: unavailable (operation not supported)
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fixtureSystem(loadFixture(t, tt.fixture), "h", nil)
			if tt.links != nil {
				s = tt.links.system(s)
			}
			if diff := cmp.Diff(tt.want, s.networkListing()); diff != "" {
				t.Errorf("network-interfaces.txt (-want +got):\n%s", diff)
			}
			if tt.links != nil && (tt.links.opened != 1 || tt.links.closed != 1) {
				t.Errorf("ethtool opened %d and closed %d times, want once each", tt.links.opened, tt.links.closed)
			}
		})
	}
}

const serverSDB = `/dev/sdb
	size: 4000787030016 bytes (3.6 TiB)
	model: ST4000NM0023
	serial: Z1Z0ABCD0000C5000000
	rotational: true
	read-only: true
	partitions: none
`

func TestBlockListing(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		allowed []string
		want    string
	}{
		{"vm", "vm", nil, `/dev/vda
	size: 274877906944 bytes (256.0 GiB)
	model: (none)
	serial: (none)
	rotational: true
	read-only: false
	partitions: none
`},
		{"server", "server", nil, `/dev/nvme0n1
	size: 1920383410176 bytes (1.7 TiB)
	model: SAMSUNG MZQLB1T9HAJR-00007
	serial: S439NA0N123456
	rotational: false
	read-only: false
	partitions: none

/dev/sda
	size: 960197124096 bytes (894.3 GiB)
	model: INTEL SSDSC2KB960G8
	serial: PHYF000000AB960CGN
	rotational: false
	read-only: false
	partitions:
		/dev/sda1: start 1048576, size 536870912 bytes (512.0 MiB)
		/dev/sda2: start 537919488, size 959659187712 bytes (893.8 GiB)

` + serverSDB},
		{"allow-list", "server", []string{"/dev/sdb"}, serverSDB},
		{"allow-list without a match", "server", []string{"/dev/sdz"}, "# no disks\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fixtureSystem(loadFixture(t, tt.fixture), "h", nil)
			got, err := s.blockListing(context.Background(), blockdev.NewAllowList(tt.allowed))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("block-devices.txt (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSizeText(t *testing.T) {
	for n, want := range map[int64]string{
		0:              "0 bytes",
		1023:           "1023 bytes",
		1024:           "1024 bytes (1.0 KiB)",
		1536:           "1536 bytes (1.5 KiB)",
		4 << 30:        "4294967296 bytes (4.0 GiB)",
		1920383410176:  "1920383410176 bytes (1.7 TiB)",
		int64(3) << 60: "3458764513820540928 bytes (3.0 EiB)",
		int64(1) << 62: "4611686018427387904 bytes (4.0 EiB)",
		math.MaxInt64:  "9223372036854775807 bytes (8.0 EiB)",
	} {
		if got := sizeText(n); got != want {
			t.Errorf("sizeText(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestCollectSystemLogs runs the hardware method through Execute, as the
// host asks for it, and decodes the answer as the host does.
func TestCollectSystemLogs(t *testing.T) {
	s := vmLinks().system(fixtureSystem(loadFixture(t, "vm"), "vm", nil))
	s.pciIDs = fixturePCIIDs()
	m := newManager(s, testLogger(t))
	ctx := context.Background()
	if _, err := m.EvaluateHardwareSupport(ctx, sdk.HostConfig{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		req      sdk.ExecuteRequest
		wantKind sdk.ErrorKind
		wantErr  bool
	}{
		{name: "as the host asks", req: sdk.ExecuteRequest{Method: sdk.MethodCollectSystemLogs, Args: json.RawMessage("{}")}},
		{name: "no arguments", req: sdk.ExecuteRequest{Method: sdk.MethodCollectSystemLogs}},
		{name: "with a node", req: sdk.ExecuteRequest{Method: sdk.MethodCollectSystemLogs, Node: json.RawMessage(`{"uuid": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"}`)}},
		{name: "as a step", req: sdk.ExecuteRequest{Method: sdk.MethodCollectSystemLogs, Kind: sdk.StepKindClean}, wantErr: true, wantKind: sdk.KindInvalidArgument},
		{name: "unknown argument", req: sdk.ExecuteRequest{Method: sdk.MethodCollectSystemLogs, Args: json.RawMessage(`{"file_list": []}`)}, wantErr: true, wantKind: sdk.KindInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := m.Execute(ctx, tt.req)
			if tt.wantErr {
				if err == nil || sdk.KindOf(err) != tt.wantKind {
					t.Fatalf("Execute = %s, %v; want a %v error", raw, err, tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var logs sdk.SystemLogs
			if err := json.Unmarshal(raw, &logs); err != nil {
				t.Fatalf("answer is not SystemLogs: %v\n%s", err, raw)
			}
			if got, want := slices.Sorted(maps.Keys(logs)), []string{logBlock, logNetwork, logPCI}; !slices.Equal(got, want) {
				t.Fatalf("files = %v, want %v", got, want)
			}
			if logs[logPCI] != vmPCINames {
				t.Errorf("%s:\n%s", logPCI, logs[logPCI])
			}
			if !strings.Contains(logs[logNetwork], "\tbus info: 0000:00:03.0\n") {
				t.Errorf("%s:\n%s", logNetwork, logs[logNetwork])
			}
			if !strings.HasPrefix(logs[logBlock], "/dev/vda\n\tsize: 274877906944 bytes") {
				t.Errorf("%s:\n%s", logBlock, logs[logBlock])
			}
		})
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Execute(cancelled, sdk.ExecuteRequest{Method: sdk.MethodCollectSystemLogs}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}

// TestSystemLogsLive runs collect_system_logs and the inventory on this
// machine with the real ethtool and pci.ids (run with -v to see the
// files). Nothing may be written to stdout, which carries go-plugin's
// handshake in the plugin.
func TestSystemLogsLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/sys/bus/pci/devices"); err != nil {
		t.Skip("no PCI bus")
	}
	m := New()
	m.log = testLogger(t)
	ctx := context.Background()
	if _, err := m.EvaluateHardwareSupport(ctx, sdk.HostConfig{}); err != nil {
		t.Fatal(err)
	}

	var raw json.RawMessage
	var inv *sdk.Inventory
	stdout := captureStdout(t, func() {
		var err error
		if raw, err = m.Execute(ctx, sdk.ExecuteRequest{Method: sdk.MethodCollectSystemLogs, Args: json.RawMessage("{}")}); err != nil {
			t.Errorf("collect_system_logs: %v", err)
		}
		if inv, err = m.Inventory(ctx); err != nil {
			t.Errorf("inventory: %v", err)
		}
	})
	if stdout != "" {
		t.Errorf("wrote to stdout: %q", stdout)
	}
	var logs sdk.SystemLogs
	if err := json.Unmarshal(raw, &logs); err != nil {
		t.Fatalf("answer is not SystemLogs: %v", err)
	}
	for _, name := range slices.Sorted(maps.Keys(logs)) {
		t.Logf("%s:\n%s", name, logs[name])
	}

	if _, err := systemPCIIDs.load(m.log); err != nil {
		t.Logf("no PCI names to check: %v", err)
	} else {
		// Every Red Hat (virtio) device must be named.
		line := regexp.MustCompile(`(?m)^\S+ .*\[1af4:[0-9a-f]{4}\].*$`)
		devs := line.FindAllString(logs[logPCI], -1)
		for _, l := range devs {
			if !strings.Contains(l, ": Red Hat, Inc. Virtio") {
				t.Errorf("virtio device not named: %s", l)
			}
		}
		t.Logf("%d virtio devices named", len(devs))
	}

	// The inventory's PCI addresses are ethtool's bus info.
	links := m.sys.openLinks()
	defer links.Close()
	for _, ifc := range inv.Interfaces {
		t.Logf("inventory %s: driver %s, pci_address %s", ifc.Name, deref(ifc.Driver), deref(ifc.PCIAddress))
		info, err := links.DriverInfo(ifc.Name)
		if err != nil || !pciAddress.MatchString(info.BusInfo) {
			continue
		}
		if deref(ifc.PCIAddress) != info.BusInfo || deref(ifc.Driver) != info.Driver {
			t.Errorf("%s: inventory has %s at %s, ethtool %s at %s", ifc.Name, deref(ifc.Driver), deref(ifc.PCIAddress), info.Driver, info.BusInfo)
		}
	}
}

// captureStdout runs f with os.Stdout redirected to a pipe and returns
// what was written to it (fmt.Print and friends).
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&out, r)
		close(done)
	}()
	saved := os.Stdout
	os.Stdout = w
	f()
	os.Stdout = saved
	w.Close()
	<-done
	return out.String()
}
