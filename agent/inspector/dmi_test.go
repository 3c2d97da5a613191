package inspector

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// smbiosStruct encodes one SMBIOS structure: header, formatted bytes
// (from offset 4), strings.
func smbiosStruct(typ byte, h uint16, formatted []byte, strs ...string) []byte {
	var b bytes.Buffer
	b.WriteByte(typ)
	b.WriteByte(byte(4 + len(formatted)))
	_ = binary.Write(&b, binary.LittleEndian, h)
	b.Write(formatted)
	for _, s := range strs {
		b.WriteString(s)
		b.WriteByte(0)
	}
	if len(strs) == 0 {
		b.WriteByte(0)
	}
	b.WriteByte(0)
	return b.Bytes()
}

// entryPoint64 encodes an SMBIOS 3.0 entry point for a table of size
// bytes, with a valid checksum.
func entryPoint64(size int) []byte {
	b := make([]byte, 24)
	copy(b, "_SM3_")
	b[6], b[7], b[8], b[10] = 24, 3, 2, 1
	binary.LittleEndian.PutUint32(b[12:], uint32(size))
	var sum byte
	for i, c := range b {
		if i != 5 {
			sum += c
		}
	}
	b[5] = -sum
	return b
}

// le packs little-endian values into formatted bytes.
func le(vals ...any) []byte {
	var b bytes.Buffer
	for _, v := range vals {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

// testSMBIOS is a small machine: BIOS, one CPU, two memory arrays of
// which the second has one installed and one empty slot.
func testSMBIOS() (ep, table []byte) {
	var t bytes.Buffer
	// Type 0: vendor 1, version 2, segment 0xE800, date 3, ROM size
	// (n+1)*64K with n=0xFF -> omitted... use 3 (256 kB); characteristics;
	// ext bytes; BIOS revision 1.16; firmware revision 0xFF (none).
	t.Write(smbiosStruct(0, 0x0000, le(byte(1), byte(2), uint16(0xE800), byte(3), byte(3), uint64(0x08), uint16(0), byte(1), byte(16), byte(0xFF), byte(0xFF)),
		"SeaBIOS", "1.16.2-debian", "04/01/2014"))
	// Type 4: socket 1, central processor, family, manufacturer 2, ID,
	// version 3, voltage 1.2 V, ext clock 100, max 4000, current 2400,
	// populated+enabled, upgrade, 3 cache handles, serial 0, asset 0,
	// part 0, cores 4, enabled 4, threads 8.
	t.Write(smbiosStruct(4, 0x0400, le(byte(1), byte(3), byte(0xFE), byte(2), []byte{0xC2, 0x06, 0x02, 0x00, 0xFF, 0xFB, 0xEB, 0xBF},
		byte(3), byte(0x8C), uint16(100), uint16(4000), uint16(2400), byte(0x41), byte(1), uint16(0xFFFF), uint16(0xFFFF), uint16(0xFFFF),
		byte(0), byte(0), byte(0), byte(4), byte(4), byte(8)),
		"CPU 0", "QEMU", "pc-q35-7.2"))
	// Type 16 twice: motherboard, system memory, multi-bit ECC, 64 GiB,
	// 2 devices each.
	t.Write(smbiosStruct(16, 0x1000, le(byte(3), byte(3), byte(6), uint32(64<<20), uint16(0xFFFE), uint16(2))))
	t.Write(smbiosStruct(16, 0x1001, le(byte(3), byte(3), byte(6), uint32(64<<20), uint16(0xFFFE), uint16(2))))
	// Type 17: 16 GiB DDR4 DIMM at 3200 MT/s, and an empty slot.
	t.Write(smbiosStruct(17, 0x1100, le(uint16(0x1001), uint16(0xFFFE), uint16(72), uint16(64), uint16(16384), byte(9), byte(0),
		byte(1), byte(2), byte(0x1A), uint16(0x80), uint16(3200), byte(3), byte(4), byte(0), byte(5), byte(2), uint32(0), uint16(3200)),
		"DIMM 0", "BANK 0", "Samsung", "12345678", "M393A2K43DB3-CWE"))
	t.Write(smbiosStruct(17, 0x1101, le(uint16(0x1001), uint16(0xFFFE), uint16(0xFFFF), uint16(0xFFFF), uint16(0), byte(9), byte(0),
		byte(1), byte(0), byte(2)), "DIMM 1"))
	t.Write(smbiosStruct(127, 0xFEFF, nil))
	return entryPoint64(t.Len()), t.Bytes()
}

func TestDMIDecodeCollector(t *testing.T) {
	ep, table := testSMBIOS()
	root := t.TempDir()
	dir := filepath.Join(root, "firmware", "dmi", "tables")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "smbios_entry_point"), ep, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "DMI"), table, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := runCollector(t, "dmi-decode", Options{SysRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"bios": map[string]any{
			"Handle": "Handle 0x0000, DMI type 0, 24 bytes", "Vendor": "SeaBIOS", "Version": "1.16.2-debian",
			"Release Date": "04/01/2014", "Address": "0xE8000", "Runtime Size": "96 kB", "ROM Size": "256 kB", "BIOS Revision": "1.16",
		},
		"cpu": []any{map[string]any{
			"Handle": "Handle 0x0400, DMI type 4, 38 bytes", "Socket Designation": "CPU 0", "Type": "Central Processor",
			"Manufacturer": "QEMU", "ID": "C2 06 02 00 FF FB EB BF", "Version": "pc-q35-7.2", "Voltage": "1.2 V",
			"External Clock": "100 MHz", "Max Speed": "4000 MHz", "Current Speed": "2400 MHz", "Status": "Populated, Enabled",
			"Serial Number": "Not Specified", "Asset Tag": "Not Specified", "Part Number": "Not Specified",
			"Core Count": "4", "Core Enabled": "4", "Thread Count": "8",
		}},
		"memory": map[string]any{
			"Location": "System Board Or Motherboard", "Use": "System Memory", "Error Correction Type": "Multi-bit ECC",
			"Maximum Capacity": "64 GB", "Number Of Devices": 4.0,
			"devices": []any{
				map[string]any{
					"Handle": "Handle 0x1100, DMI type 17, 34 bytes", "Array Handle": "0x1001", "Total Width": "72 bits", "Data Width": "64 bits",
					"Size": "16 GB", "Form Factor": "DIMM", "Locator": "DIMM 0", "Bank Locator": "BANK 0", "Type": "DDR4",
					"Speed": "3200 MT/s", "Manufacturer": "Samsung", "Serial Number": "12345678", "Asset Tag": "Not Specified",
					"Part Number": "M393A2K43DB3-CWE", "Rank": "2", "Configured Memory Speed": "3200 MT/s",
				},
				map[string]any{
					"Handle": "Handle 0x1101, DMI type 17, 19 bytes", "Array Handle": "0x1001", "Total Width": "Unknown", "Data Width": "Unknown",
					"Size": "No Module Installed", "Form Factor": "DIMM", "Locator": "DIMM 1", "Bank Locator": "Not Specified", "Type": "Unknown",
				},
			},
		},
	}
	if diff := cmp.Diff(want, asJSON(t, data["dmi"])); diff != "" {
		t.Errorf("dmi (-want +got):\n%s", diff)
	}
}

func TestDMIDecodeWithoutTables(t *testing.T) {
	data, err := runCollector(t, "dmi-decode", Options{SysRoot: t.TempDir()})
	if err == nil || data["dmi"] != nil {
		t.Fatalf("no SMBIOS tables: got %v, err %v; want a collector failure", data, err)
	}
	t.Logf("error reported: %v", err)
}

func TestSizeText(t *testing.T) {
	tests := []struct {
		kb   uint64
		want string
	}{{64, "64 kB"}, {1024, "1 MB"}, {1536, "1536 kB"}, {16 << 20, "16 GB"}, {3 << 30, "3 TB"}}
	for _, tt := range tests {
		if got := sizeText(tt.kb); got != tt.want {
			t.Errorf("sizeText(%d) = %q, want %q", tt.kb, got, tt.want)
		}
	}
}
