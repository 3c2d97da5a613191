package generic

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digitalocean/go-smbios/smbios"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// smbiosStructure assembles one SMBIOS structure: the header, the
// formatted area that follows it and the string set.
func smbiosStructure(typ byte, handle uint16, formatted []byte, strs ...string) []byte {
	b := []byte{typ, byte(4 + len(formatted)), 0, 0}
	binary.LittleEndian.PutUint16(b[2:], handle)
	b = append(b, formatted...)
	if len(strs) == 0 {
		return append(b, 0, 0)
	}
	for _, s := range strs {
		b = append(append(b, s...), 0)
	}
	return append(b, 0)
}

// formatted returns a formatted area for a structure of the given total
// length (header included), with the bytes of set placed at their
// specification offsets.
func formatted(length int, set map[int][]byte) []byte {
	b := make([]byte, length-4)
	for off, v := range set {
		copy(b[off-4:], v)
	}
	return b
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// smbios3EntryPoint returns a 64-bit (SMBIOS 3.0) entry point for a table
// of the given size, as the kernel exports it in smbios_entry_point.
func smbios3EntryPoint(tableSize int) []byte {
	ep := make([]byte, 0x18)
	copy(ep, "_SM3_")
	ep[6] = 0x18 // length
	ep[7], ep[8] = 3, 0
	ep[10] = 1 // entry point revision
	binary.LittleEndian.PutUint32(ep[12:], uint32(tableSize))
	binary.LittleEndian.PutUint64(ep[16:], 0x000e_0000)
	var sum byte
	for _, c := range ep {
		sum += c
	}
	ep[5] = -sum
	return ep
}

func biosStructure(vendor, version, date byte, strs ...string) []byte {
	return smbiosStructure(smbiosTypeBIOS, 0x0000, formatted(0x18, map[int][]byte{
		0x04: {vendor}, 0x05: {version}, 0x08: {date}, 0x14: {2, 7},
	}), strs...)
}

func systemStructure(manufacturer, product, serial, sku byte, strs ...string) []byte {
	return smbiosStructure(smbiosTypeSystem, 0x0100, formatted(0x1B, map[int][]byte{
		0x04: {manufacturer}, 0x05: {product}, 0x07: {serial}, 0x19: {sku},
		0x08: {0x4c, 0x4c, 0x45, 0x44}, 0x18: {6},
	}), strs...)
}

// memoryDevice is a Memory Device (type 17) of SMBIOS 2.8 length with the
// given size word and extended size.
func memoryDevice(handle, size uint16, extended uint32, locator string) []byte {
	return smbiosStructure(smbiosTypeMemoryDevice, handle, formatted(0x28, map[int][]byte{
		0x04: le16(0x1000), 0x0C: le16(size), 0x10: {1}, 0x11: {2}, 0x12: {0x1A},
		0x1C: le32(extended),
	}), locator, "BANK "+locator[len(locator)-1:])
}

var endOfTable = smbiosStructure(127, 0xFEFF, nil)

// smbiosFixtures are the binary SMBIOS tables of testdata/smbios: each
// directory holds smbios_entry_point and DMI as the kernel exports them.
func smbiosFixtures() map[string][2][]byte {
	join := func(ss ...[]byte) []byte { return bytes.Join(ss, nil) }
	full := join(
		biosStructure(1, 2, 3, "American Megatrends Inc.", "2.7.1", "03/14/2023"),
		systemStructure(1, 2, 3, 4, "Supermicro", "SYS-1029P-WTR", "0123456789", "S314159", "Default string"),
		memoryDevice(0x1100, 0x7FFF, 16384, "DIMM A1"), // 16 GiB, extended size
		memoryDevice(0x1101, 8192, 0, "DIMM B1"),       // 8192 MB
		memoryDevice(0x1102, 0, 0, "DIMM C1"),          // empty slot
		endOfTable,
	)
	noMemory := join(
		biosStructure(1, 2, 0, "SeaBIOS", "1.16.2"), // no release date
		systemStructure(1, 2, 0, 0, "QEMU", "Standard PC"),
		endOfTable,
	)
	// The last structure claims more formatted bytes than the table has.
	malformed := join(full[:len(full)-len(endOfTable)], []byte{smbiosTypeMemoryDevice, 0x28, 0x03, 0x11, 0x00})
	return map[string][2][]byte{
		"full":      {smbios3EntryPoint(len(full)), full},
		"no-memory": {smbios3EntryPoint(len(noMemory)), noMemory},
		"malformed": {smbios3EntryPoint(len(full)), malformed},
	}
}

// TestSMBIOSFixtures regenerates the binary fixtures and compares them
// with the committed ones; -update rewrites them.
func TestSMBIOSFixtures(t *testing.T) {
	for name, files := range smbiosFixtures() {
		for i, file := range []string{"smbios_entry_point", "DMI"} {
			path := filepath.Join("testdata", "smbios", name, file)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, files[i], 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, files[i]) {
				t.Errorf("%s differs from the generated fixture; rerun with -update", path)
			}
		}
	}
}

// smbiosFiles returns the files of testdata/smbios/name placed under
// sys/firmware/dmi/tables for writeTree.
func smbiosFiles(t *testing.T, name string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, f := range []string{"smbios_entry_point", "DMI"} {
		b, err := os.ReadFile(filepath.Join("testdata", "smbios", name, f))
		if err != nil {
			t.Fatal(err)
		}
		files["sys/firmware/dmi/tables/"+f] = string(b)
	}
	return files
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// logBuffer returns a logger writing to the returned buffer.
func logBuffer() (hclog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Debug}), &buf
}

func TestParseSMBIOS(t *testing.T) {
	files := smbiosFixtures()
	full := files["full"]
	got, err := parseSMBIOS(full[0], bytes.NewReader(full[1]))
	if err != nil {
		t.Fatal(err)
	}
	want := &smbiosInfo{
		biosVendor: "American Megatrends Inc.", biosVersion: "2.7.1", biosDate: "03/14/2023",
		manufacturer: "Supermicro", product: "SYS-1029P-WTR", serial: "0123456789", sku: "S314159",
		memoryDevices: 3, modules: 2, memoryBytes: 24 << 30,
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(smbiosInfo{})); diff != "" {
		t.Errorf("parseSMBIOS (-want +got):\n%s", diff)
	}

	badChecksum := bytes.Clone(full[0])
	badChecksum[5]++
	for name, in := range map[string][2][]byte{
		"bad checksum":      {badChecksum, full[1]},
		"no entry point":    {nil, full[1]},
		"truncated":         files["malformed"],
		"no end of table":   {full[0], full[1][:len(full[1])-len(endOfTable)]},
		"short entry point": {full[0][:4], full[1]},
	} {
		if _, err := parseSMBIOS(in[0], bytes.NewReader(in[1])); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMemoryDeviceBytes(t *testing.T) {
	dev := func(size uint16, ext uint32) *smbios.Structure {
		b := memoryDevice(0x1100, size, ext, "DIMM A1")
		return &smbios.Structure{Formatted: b[4 : 4+0x24]}
	}
	tests := []struct {
		name   string
		st     *smbios.Structure
		want   uint64
		wantOK bool
	}{
		{"MB", dev(8192, 0), 8 << 30, true},
		{"KB units", dev(0x8000|512, 0), 512 << 10, true},
		{"extended", dev(0x7FFF, 0x8000_0000|32768), 32 << 30, true},
		{"empty slot", dev(0, 0), 0, true},
		{"unknown", dev(0xFFFF, 0), 0, false},
		{"extended size missing (SMBIOS < 2.7)", &smbios.Structure{Formatted: dev(0x7FFF, 16384).Formatted[:0x18]}, 0, false},
		{"too short", &smbios.Structure{Formatted: make([]byte, 8)}, 0, false},
	}
	for _, tt := range tests {
		got, ok := memoryDeviceBytes(tt.st)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: got %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestMemorySMBIOS(t *testing.T) {
	blocks := map[string]string{
		"proc/meminfo": "MemTotal: 1000 kB\n",
		"sys/devices/system/memory/block_size_bytes": "8000000\n",
		"sys/devices/system/memory/memory0/online":   "1\n",
		"sys/devices/system/memory/memory1/online":   "1\n",
	}
	tests := []struct {
		name    string
		files   map[string]string
		want    *sdk.Memory
		wantLog string
	}{
		{"SMBIOS modules", merge(blocks, smbiosFiles(t, "full")), &sdk.Memory{Total: 1024000, PhysicalMB: sdk.Ptr(24576)}, ""},
		{"SMBIOS modules, no memory blocks", merge(map[string]string{"proc/meminfo": "MemTotal: 1000 kB\n"}, smbiosFiles(t, "full")), &sdk.Memory{Total: 1024000, PhysicalMB: sdk.Ptr(24576)}, ""},
		{"no SMBIOS tables", blocks, &sdk.Memory{Total: 1024000, PhysicalMB: sdk.Ptr(256)}, ""},
		{"DMI table without entry point", merge(blocks, map[string]string{"sys/firmware/dmi/tables/DMI": "x"}), &sdk.Memory{Total: 1024000, PhysicalMB: sdk.Ptr(256)}, ""},
		{"no memory devices", merge(blocks, smbiosFiles(t, "no-memory")), &sdk.Memory{Total: 1024000, PhysicalMB: sdk.Ptr(256)}, ""},
		{"malformed table", merge(blocks, smbiosFiles(t, "malformed")), &sdk.Memory{Total: 1024000, PhysicalMB: sdk.Ptr(256)}, "SMBIOS tables unreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, buf := logBuffer()
			got, err := fixtureSystem(writeTree(t, tt.files), "h", nil).memory(log)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("memory (-want +got):\n%s", diff)
			}
			checkLog(t, buf.String(), tt.wantLog)
		})
	}
}

func checkLog(t *testing.T, got, want string) {
	t.Helper()
	if want == "" && got != "" {
		t.Errorf("unexpected log: %s", got)
	}
	if !strings.Contains(got, want) {
		t.Errorf("log %q does not mention %q", got, want)
	}
}

func TestSystemVendorSMBIOS(t *testing.T) {
	const dmi = "sys/class/dmi/id/"
	sysfs := map[string]string{
		dmi + "product_name": "sysfs product\n", dmi + "product_serial": "sysfs serial\n",
		dmi + "sys_vendor": "sysfs vendor\n", dmi + "product_sku": "sysfs sku\n",
		dmi + "bios_vendor": "sysfs BIOS\n", dmi + "bios_version": "sysfs 1.0\n", dmi + "bios_date": "01/01/2020\n",
	}
	fromSysfs := &sdk.SystemVendorInfo{
		ProductName: "sysfs product (sysfs sku)", SerialNumber: "sysfs serial", Manufacturer: "sysfs vendor",
		Firmware: &sdk.Firmware{Vendor: "sysfs BIOS", Version: "sysfs 1.0", BuildDate: "01/01/2020"},
	}
	tests := []struct {
		name    string
		files   map[string]string
		want    *sdk.SystemVendorInfo
		wantLog string
	}{
		{
			name:  "SMBIOS over sysfs",
			files: merge(sysfs, smbiosFiles(t, "full")),
			want: &sdk.SystemVendorInfo{
				ProductName: "SYS-1029P-WTR (S314159)", SerialNumber: "0123456789", Manufacturer: "Supermicro",
				Firmware: &sdk.Firmware{Vendor: "American Megatrends Inc.", Version: "2.7.1", BuildDate: "03/14/2023"},
			},
		},
		{
			name:  "SMBIOS only",
			files: smbiosFiles(t, "full"),
			want: &sdk.SystemVendorInfo{
				ProductName: "SYS-1029P-WTR (S314159)", SerialNumber: "0123456789", Manufacturer: "Supermicro",
				Firmware: &sdk.Firmware{Vendor: "American Megatrends Inc.", Version: "2.7.1", BuildDate: "03/14/2023"},
			},
		},
		{
			name:  "missing SMBIOS strings fall back per field",
			files: merge(sysfs, smbiosFiles(t, "no-memory")),
			want: &sdk.SystemVendorInfo{
				ProductName: "Standard PC (sysfs sku)", SerialNumber: "sysfs serial", Manufacturer: "QEMU",
				Firmware: &sdk.Firmware{Vendor: "SeaBIOS", Version: "1.16.2", BuildDate: "01/01/2020"},
			},
		},
		{
			name:  "missing SMBIOS strings, no sysfs",
			files: smbiosFiles(t, "no-memory"),
			want: &sdk.SystemVendorInfo{
				ProductName: "Standard PC", Manufacturer: "QEMU",
				Firmware: &sdk.Firmware{Vendor: "SeaBIOS", Version: "1.16.2"},
			},
		},
		{"no SMBIOS tables", sysfs, fromSysfs, ""},
		{"malformed table", merge(sysfs, smbiosFiles(t, "malformed")), fromSysfs, "SMBIOS tables unreadable"},
		{"nothing", map[string]string{"sys/": ""}, &sdk.SystemVendorInfo{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, buf := logBuffer()
			got, err := fixtureSystem(writeTree(t, tt.files), "h", nil).systemVendor(log)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("system vendor (-want +got):\n%s", diff)
			}
			checkLog(t, buf.String(), tt.wantLog)
		})
	}
}
