package generic

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
)

// writeTree creates files (path relative to the returned root → content)
// in a temporary directory; a path ending in "/" is an empty directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if p[len(p)-1] == '/' {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCompareNatural(t *testing.T) {
	got := []string{"sdb", "loop10", "nvme0n10", "sda", "loop2", "nvme0n2", "bond0.100", "bond0", "nvme1n1", "sdaa"}
	slices.SortFunc(got, compareNatural)
	want := []string{"bond0", "bond0.100", "loop2", "loop10", "nvme0n2", "nvme0n10", "nvme1n1", "sda", "sdaa", "sdb"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestCountCPUList(t *testing.T) {
	tests := []struct {
		list    string
		want    int
		wantErr bool
	}{
		{"0", 1, false},
		{"0-1", 2, false},
		{"0-3,8,10-11\n", 7, false},
		{"", 0, false},
		{"a-b", 0, true},
		{"3-1", 0, true},
	}
	for _, tt := range tests {
		got, err := countCPUList(tt.list)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("countCPUList(%q) = %d, %v; want %d, error %v", tt.list, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestIsVLAN(t *testing.T) {
	tests := map[string]bool{"eth0.100": true, "bond0.4094": true, "eth0": false, "eth0.": false, ".100": false, "br.lan": false}
	for name, want := range tests {
		if got := isVLAN(name); got != want {
			t.Errorf("isVLAN(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestUdevUnescape(t *testing.T) {
	tests := map[string]string{
		`INTEL\x20SSD\x20\x20`: "INTEL SSD  ",
		`plain`:                "plain",
		`bad\xZZ`:              `bad\xZZ`,
		`end\x2`:               `end\x2`,
	}
	for in, want := range tests {
		if got := udevUnescape(in); got != want {
			t.Errorf("udevUnescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFirstAddresses(t *testing.T) {
	cidr := func(s string) net.Addr {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return n
	}
	tests := []struct {
		name   string
		addrs  []net.Addr
		v4, v6 *string
	}{
		{"none", nil, nil, nil},
		{"both, first of each", []net.Addr{cidr("fe80::1/64"), cidr("10.0.0.1/8"), cidr("2001:db8::1/64"), cidr("10.0.0.2/8")}, sdk.Ptr("10.0.0.1"), sdk.Ptr("fe80::1")},
		{"v4 only", []net.Addr{&net.IPAddr{IP: net.ParseIP("192.0.2.1")}}, sdk.Ptr("192.0.2.1"), nil},
	}
	for _, tt := range tests {
		v4, v6 := firstAddresses(tt.addrs)
		if diff := cmp.Diff([]*string{tt.v4, tt.v6}, []*string{v4, v6}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestCPU(t *testing.T) {
	const cpuinfo = "processor\t: 0\nmodel name\t: Test CPU\ncpu MHz\t\t: 1200.500\nflags\t\t: a  b c\n\nprocessor\t: 1\nmodel name\t: Other\nflags\t\t: d\n"
	tests := []struct {
		name  string
		files map[string]string
		want  *sdk.CPU
	}{
		{
			name: "cpufreq gives max MHz over all CPUs",
			files: map[string]string{
				"proc/cpuinfo": cpuinfo,
				"sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq": "2500000\n",
				"sys/devices/system/cpu/cpu1/cpufreq/cpuinfo_max_freq": "3400000\n",
				"sys/devices/system/cpu/online":                        "0-1\n",
			},
			want: &sdk.CPU{ModelName: "Test CPU", Frequency: sdk.Ptr("3400.0000"), Count: 2, Architecture: "x86_64", Flags: []string{"a", "b", "c"}},
		},
		{
			name: "no cpufreq: no frequency (cpu MHz ignored), count from cpuinfo, sockets",
			files: map[string]string{
				"proc/cpuinfo": cpuinfo,
				"sys/devices/system/cpu/cpu0/topology/physical_package_id": "0\n",
				"sys/devices/system/cpu/cpu1/topology/physical_package_id": "1\n",
			},
			want: &sdk.CPU{ModelName: "Test CPU", Count: 2, Architecture: "x86_64", Flags: []string{"a", "b", "c"}, SocketCount: sdk.Ptr(2)},
		},
		{
			name:  "no frequency, no flags (arm64)",
			files: map[string]string{"proc/cpuinfo": "processor\t: 0\nFeatures\t: fp asimd\n", "sys/devices/system/cpu/online": "0\n"},
			want:  &sdk.CPU{Count: 1, Architecture: "x86_64", Flags: []string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fixtureSystem(writeTree(t, tt.files), "h", nil)
			got, err := s.cpu()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("cpu (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMemory(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    *sdk.Memory
		wantErr bool
	}{
		{
			name: "online blocks",
			files: map[string]string{
				"proc/meminfo": "MemTotal:        1000 kB\nMemFree: 1 kB\n",
				"sys/devices/system/memory/block_size_bytes": "8000000\n",
				"sys/devices/system/memory/memory0/online":   "1\n",
				"sys/devices/system/memory/memory1/online":   "0\n",
				"sys/devices/system/memory/memory2/state":    "online\n",
				"sys/devices/system/memory/memory3/state":    "offline\n",
			},
			want: &sdk.Memory{Total: 1024000, PhysicalMB: sdk.Ptr(256)},
		},
		{
			name:  "no memory blocks",
			files: map[string]string{"proc/meminfo": "MemTotal: 2048 kB\n"},
			want:  &sdk.Memory{Total: 2097152},
		},
		{
			name:    "no MemTotal",
			files:   map[string]string{"proc/meminfo": "MemFree: 1 kB\n"},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fixtureSystem(writeTree(t, tt.files), "h", nil).memory(testLogger(t))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("memory (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSystemVendor(t *testing.T) {
	const dmi = "sys/class/dmi/id/"
	tests := []struct {
		name  string
		files map[string]string
		want  *sdk.SystemVendorInfo
	}{
		{"no SMBIOS", map[string]string{"sys/": ""}, &sdk.SystemVendorInfo{}},
		{
			name: "QEMU, no SKU, firmware",
			files: map[string]string{
				dmi + "product_name": "Standard PC (Q35 + ICH9, 2009)\n", dmi + "sys_vendor": "QEMU\n",
				dmi + "product_serial": "\n", dmi + "product_sku": "\n",
				dmi + "bios_vendor": "SeaBIOS\n", dmi + "bios_version": "1.16.2-debian-1.16.2-1\n", dmi + "bios_date": "04/01/2014\n",
			},
			want: &sdk.SystemVendorInfo{
				ProductName: "Standard PC (Q35 + ICH9, 2009)", Manufacturer: "QEMU",
				Firmware: &sdk.Firmware{Vendor: "SeaBIOS", Version: "1.16.2-debian-1.16.2-1", BuildDate: "04/01/2014"},
			},
		},
		{
			name:  "SKU appended, chassis fallbacks",
			files: map[string]string{dmi + "product_name": "ProLiant DL380 Gen10\n", dmi + "product_sku": "868703-B21\n", dmi + "chassis_vendor": "HPE\n", dmi + "chassis_serial": "CZ1234\n"},
			want:  &sdk.SystemVendorInfo{ProductName: "ProLiant DL380 Gen10 (868703-B21)", SerialNumber: "CZ1234", Manufacturer: "HPE"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fixtureSystem(writeTree(t, tt.files), "h", nil).systemVendor(testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("system vendor (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBoot(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		bootIF string
		want   *sdk.BootInfo
	}{
		{"bios", map[string]string{"sys/": ""}, "", &sdk.BootInfo{CurrentBootMode: "bios"}},
		{"uefi with BOOTIF", map[string]string{"sys/firmware/efi/": ""}, "52:54:00:12:34:56", &sdk.BootInfo{CurrentBootMode: "uefi", PXEInterface: sdk.Ptr("52:54:00:12:34:56")}},
	}
	for _, tt := range tests {
		got := fixtureSystem(writeTree(t, tt.files), "h", nil).boot(tt.bootIF)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestWholeDisksAllowList(t *testing.T) {
	root := loadFixture(t, "server")
	s := fixtureSystem(root, "h", nil)
	tests := []struct {
		allow []string
		want  []string
	}{
		{nil, []string{"/dev/nvme0n1", "/dev/sda", "/dev/sdb"}},
		{[]string{"/dev/loop0"}, []string{"/dev/loop0"}},
		{[]string{"/dev/sdb", "/dev/loop1", "/dev/zram0", "/dev/sr0"}, []string{"/dev/sdb"}},
		{[]string{"/dev/nonexistent"}, nil},
	}
	for _, tt := range tests {
		disks, err := s.wholeDisks(context.Background(), blockdev.NewAllowList(tt.allow))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range disks {
			got = append(got, d.Name)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("allow-list %v (-want +got):\n%s", tt.allow, diff)
		}
	}
}

func TestInventoryDegrades(t *testing.T) {
	// An empty machine: every component that needs a file is left out.
	m := newManager(fixtureSystem(t.TempDir(), "h", nil), testLogger(t))
	inv, err := m.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if inv.CPU != nil || inv.Memory != nil || inv.Disks != nil || inv.Interfaces != nil {
		t.Errorf("components without sources were reported: %+v", inv)
	}
	if inv.Hostname == nil || *inv.Hostname != "h" || inv.Boot == nil {
		t.Errorf("hostname or boot missing: %+v", inv)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Inventory(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Inventory with a cancelled context: %v, want context.Canceled", err)
	}
}
