package inspector

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/digitalocean/go-smbios/smbios"
)

// SMBIOS structure types of IPA's dmidecode -t bios -t processor -t memory.
const (
	dmiBIOS        = 0
	dmiProcessor   = 4
	dmiMemoryArray = 16
	dmiMemoryDev   = 17
	maxDMITable    = 16 << 20
)

// collectDMI is IPA's dmi-decode collector. IPA parses the text of
// `dmidecode -t bios -t processor -t memory`; the agent decodes the
// SMBIOS tables the kernel exports (/sys/firmware/dmi/tables) with
// go-smbios and names the fields as dmidecode does, for the fields listed
// in dmiFields. The shape is IPA's: {"bios": {...}, "cpu": [{...}],
// "memory": {<first memory array>, "Number Of Devices": <sum>, "devices":
// [{...}]}}, every structure with its "Handle" line. Without the tables
// the collector fails, as IPA's does without dmidecode.
func collectDMI(_ context.Context, e *env) error {
	dir := filepath.Join(e.o.SysRoot, "firmware", "dmi", "tables")
	ep, err := os.ReadFile(filepath.Join(dir, "smbios_entry_point"))
	if err != nil {
		return fmt.Errorf("SMBIOS tables not available: %w", err)
	}
	f, err := os.Open(filepath.Join(dir, "DMI"))
	if err != nil {
		return fmt.Errorf("SMBIOS tables not available: %w", err)
	}
	defer f.Close()
	dmi, err := decodeDMI(ep, f)
	if err != nil {
		return fmt.Errorf("SMBIOS tables in %s: %w", dir, err)
	}
	e.set("dmi", dmi)
	return nil
}

// decodeDMI decodes an entry point and its structure table into IPA's
// dmi shape.
func decodeDMI(entryPoint []byte, table io.Reader) (map[string]any, error) {
	ep, err := smbios.ParseEntryPoint(bytes.NewReader(entryPoint))
	if err != nil {
		return nil, fmt.Errorf("entry point: %w", err)
	}
	_, size := ep.Table()
	if size <= 0 || size > maxDMITable {
		size = maxDMITable
	}
	structs, err := smbios.NewDecoder(io.LimitReader(table, int64(size))).Decode()
	if err != nil && len(structs) == 0 {
		return nil, fmt.Errorf("structure table: %w", err)
	}
	out := map[string]any{"bios": map[string]any{}, "cpu": []any{}, "memory": map[string]any{"devices": []any{}}}
	var arrays, devices []map[string]any
	for _, s := range structs {
		fields, ok := dmiFields[int(s.Header.Type)]
		if !ok {
			continue
		}
		rows := decodeStructure(s, fields)
		switch s.Header.Type {
		case dmiBIOS:
			out["bios"] = rows
		case dmiProcessor:
			out["cpu"] = append(out["cpu"].([]any), rows)
		case dmiMemoryArray:
			arrays = append(arrays, rows)
		case dmiMemoryDev:
			devices = append(devices, rows)
		}
	}
	mem := map[string]any{"devices": []any{}}
	if len(arrays) > 0 {
		// IPA keeps the first array's fields, without its handle, and
		// sums the arrays' device counts.
		total := 0
		for _, a := range arrays {
			n, _ := a["Number Of Devices"].(int)
			total += n
		}
		for k, v := range arrays[0] {
			mem[k] = v
		}
		delete(mem, "Handle")
		mem["Number Of Devices"] = total
		mem["devices"] = []any{}
	}
	if len(devices) > 0 {
		list := make([]any, len(devices))
		for i, d := range devices {
			list[i] = d
		}
		mem["devices"] = list
	}
	out["memory"] = mem
	return out, nil
}

// dmiField is one field of a structure: its dmidecode label, its offset
// from the structure's start and how to print it. A field beyond the
// structure's length is left out, as dmidecode does.
type dmiField struct {
	label  string
	offset int
	show   func(s *smbios.Structure, off int) (any, bool)
}

// dmiFields are the decoded fields of each structure type.
var dmiFields = map[int][]dmiField{
	dmiBIOS: {
		{"Vendor", 0x04, str},
		{"Version", 0x05, str},
		{"Release Date", 0x08, str},
		{"Address", 0x06, func(s *smbios.Structure, off int) (any, bool) {
			seg, ok := word(s, off)
			return fmt.Sprintf("0x%04X0", seg), ok && seg != 0
		}},
		{"Runtime Size", 0x06, func(s *smbios.Structure, off int) (any, bool) {
			seg, ok := word(s, off)
			n := (0x10000 - int(seg)) << 4
			if n%1024 != 0 {
				return fmt.Sprintf("%d bytes", n), ok && seg != 0
			}
			return fmt.Sprintf("%d kB", n/1024), ok && seg != 0
		}},
		{"ROM Size", 0x09, func(s *smbios.Structure, off int) (any, bool) {
			b, ok := byteAt(s, off)
			return sizeText(uint64(int(b)+1) * 64), ok && b != 0xFF
		}},
		{"BIOS Revision", 0x14, revision},
		{"Firmware Revision", 0x16, revision},
	},
	dmiProcessor: {
		{"Socket Designation", 0x04, str},
		{"Type", 0x05, enum(map[byte]string{1: "Other", 2: "Unknown", 3: "Central Processor", 4: "Math Processor", 5: "DSP Processor", 6: "Video Processor"})},
		{"Manufacturer", 0x07, str},
		{"ID", 0x08, func(s *smbios.Structure, off int) (any, bool) {
			if off-4+8 > len(s.Formatted) {
				return nil, false
			}
			return strings.ToUpper(fmt.Sprintf("% x", s.Formatted[off-4:off-4+8])), true
		}},
		{"Version", 0x10, str},
		{"Voltage", 0x11, func(s *smbios.Structure, off int) (any, bool) {
			b, ok := byteAt(s, off)
			if !ok || b&0x80 == 0 {
				return nil, false
			}
			return fmt.Sprintf("%.1f V", float64(b&0x7F)/10), true
		}},
		{"External Clock", 0x12, mhz},
		{"Max Speed", 0x14, mhz},
		{"Current Speed", 0x16, mhz},
		{"Status", 0x18, func(s *smbios.Structure, off int) (any, bool) {
			b, ok := byteAt(s, off)
			if b&0x40 == 0 {
				return "Unpopulated", ok
			}
			st := map[byte]string{0: "Unknown", 1: "Enabled", 2: "Disabled By User", 3: "Disabled By BIOS", 4: "Idle", 7: "Other"}[b&7]
			if st == "" {
				st = "<OUT OF SPEC>"
			}
			return "Populated, " + st, ok
		}},
		{"Serial Number", 0x20, str},
		{"Asset Tag", 0x21, str},
		{"Part Number", 0x22, str},
		{"Core Count", 0x23, count},
		{"Core Enabled", 0x24, count},
		{"Thread Count", 0x25, count},
	},
	dmiMemoryArray: {
		{"Location", 0x04, enum(map[byte]string{1: "Other", 2: "Unknown", 3: "System Board Or Motherboard", 4: "ISA Add-on Card", 5: "EISA Add-on Card", 6: "PCI Add-on Card"})},
		{"Use", 0x05, enum(map[byte]string{1: "Other", 2: "Unknown", 3: "System Memory", 4: "Video Memory", 5: "Flash Memory", 6: "Non-volatile RAM", 7: "Cache Memory"})},
		{"Error Correction Type", 0x06, enum(map[byte]string{1: "Other", 2: "Unknown", 3: "None", 4: "Parity", 5: "Single-bit ECC", 6: "Multi-bit ECC", 7: "CRC"})},
		{"Maximum Capacity", 0x07, func(s *smbios.Structure, off int) (any, bool) {
			if off-4+4 > len(s.Formatted) {
				return nil, false
			}
			kb := uint64(binary.LittleEndian.Uint32(s.Formatted[off-4:]))
			if kb == 0x80000000 && 0x0F-4+8 <= len(s.Formatted) {
				return sizeText(binary.LittleEndian.Uint64(s.Formatted[0x0F-4:]) >> 10), true
			}
			return sizeText(kb), true
		}},
		{"Number Of Devices", 0x0D, func(s *smbios.Structure, off int) (any, bool) {
			w, ok := word(s, off)
			return int(w), ok
		}},
	},
	dmiMemoryDev: {
		{"Array Handle", 0x04, handle},
		{"Total Width", 0x08, bits},
		{"Data Width", 0x0A, bits},
		{"Size", 0x0C, func(s *smbios.Structure, off int) (any, bool) {
			w, ok := word(s, off)
			switch {
			case !ok:
				return nil, false
			case w == 0:
				return "No Module Installed", true
			case w == 0xFFFF:
				return "Unknown", true
			case w == 0x7FFF && 0x1C-4+4 <= len(s.Formatted):
				return sizeText(uint64(binary.LittleEndian.Uint32(s.Formatted[0x1C-4:])&0x7FFFFFFF) << 10), true
			case w&0x8000 != 0:
				return sizeText(uint64(w & 0x7FFF)), true
			}
			return sizeText(uint64(w) << 10), true
		}},
		{"Form Factor", 0x0E, enum(map[byte]string{1: "Other", 2: "Unknown", 3: "SIMM", 4: "SIP", 5: "Chip", 6: "DIP", 7: "ZIP", 8: "Proprietary Card", 9: "DIMM", 0x0A: "TSOP", 0x0B: "Row Of Chips", 0x0C: "RIMM", 0x0D: "SODIMM", 0x0E: "SRIMM", 0x0F: "FB-DIMM", 0x10: "Die"})},
		{"Locator", 0x10, str},
		{"Bank Locator", 0x11, str},
		{"Type", 0x12, enum(map[byte]string{1: "Other", 2: "Unknown", 3: "DRAM", 7: "RAM", 0x0F: "SDRAM", 0x12: "DDR", 0x13: "DDR2", 0x18: "DDR3", 0x1A: "DDR4", 0x1B: "LPDDR", 0x1C: "LPDDR2", 0x1D: "LPDDR3", 0x1E: "LPDDR4", 0x22: "DDR5", 0x23: "LPDDR5"})},
		{"Speed", 0x15, mts},
		{"Manufacturer", 0x17, str},
		{"Serial Number", 0x18, str},
		{"Asset Tag", 0x19, str},
		{"Part Number", 0x1A, str},
		{"Rank", 0x1B, func(s *smbios.Structure, off int) (any, bool) {
			b, ok := byteAt(s, off)
			return fmt.Sprint(b & 0x0F), ok && b&0x0F != 0
		}},
		{"Configured Memory Speed", 0x20, mts},
	},
}

// decodeStructure prints the fields of one structure, with dmidecode's
// "Handle" line.
func decodeStructure(s *smbios.Structure, fields []dmiField) map[string]any {
	rows := map[string]any{
		"Handle": fmt.Sprintf("Handle 0x%04X, DMI type %d, %d bytes", s.Header.Handle, s.Header.Type, s.Header.Length),
	}
	for _, f := range fields {
		if v, ok := f.show(s, f.offset); ok {
			rows[f.label] = v
		}
	}
	return rows
}

// byteAt returns the byte at offset off of the structure (offsets count
// from the header's start, as the specification's tables do).
func byteAt(s *smbios.Structure, off int) (byte, bool) {
	i := off - 4
	if i < 0 || i >= len(s.Formatted) {
		return 0, false
	}
	return s.Formatted[i], true
}

// word returns the little-endian WORD at offset off.
func word(s *smbios.Structure, off int) (uint16, bool) {
	i := off - 4
	if i < 0 || i+2 > len(s.Formatted) {
		return 0, false
	}
	return binary.LittleEndian.Uint16(s.Formatted[i:]), true
}

// str prints a string field; dmidecode prints "Not Specified" for index 0.
func str(s *smbios.Structure, off int) (any, bool) {
	b, ok := byteAt(s, off)
	if !ok {
		return nil, false
	}
	if b == 0 {
		return "Not Specified", true
	}
	if int(b) > len(s.Strings) {
		return "<BAD INDEX>", true
	}
	return strings.TrimSpace(s.Strings[b-1]), true
}

// enum prints a byte through names.
func enum(names map[byte]string) func(s *smbios.Structure, off int) (any, bool) {
	return func(s *smbios.Structure, off int) (any, bool) {
		b, ok := byteAt(s, off)
		if !ok {
			return nil, false
		}
		if n, found := names[b]; found {
			return n, true
		}
		return "<OUT OF SPEC>", true
	}
}

// revision prints a major.minor byte pair; 0xFF means not given.
func revision(s *smbios.Structure, off int) (any, bool) {
	maj, ok1 := byteAt(s, off)
	minor, ok2 := byteAt(s, off+1)
	return fmt.Sprintf("%d.%d", maj, minor), ok1 && ok2 && maj != 0xFF
}

func mhz(s *smbios.Structure, off int) (any, bool) {
	w, ok := word(s, off)
	if w == 0 {
		return "Unknown", ok
	}
	return fmt.Sprintf("%d MHz", w), ok
}

func mts(s *smbios.Structure, off int) (any, bool) {
	w, ok := word(s, off)
	if w == 0 {
		return "Unknown", ok
	}
	return fmt.Sprintf("%d MT/s", w), ok
}

func bits(s *smbios.Structure, off int) (any, bool) {
	w, ok := word(s, off)
	if w == 0xFFFF {
		return "Unknown", ok
	}
	return fmt.Sprintf("%d bits", w), ok
}

func handle(s *smbios.Structure, off int) (any, bool) {
	w, ok := word(s, off)
	return fmt.Sprintf("0x%04X", w), ok
}

func count(s *smbios.Structure, off int) (any, bool) {
	b, ok := byteAt(s, off)
	return fmt.Sprint(b), ok && b != 0
}

// sizeText prints a size given in kB in the largest unit that divides it,
// as dmidecode 3 does.
func sizeText(kb uint64) string {
	units := []string{"kB", "MB", "GB", "TB", "PB"}
	i := 0
	for i < len(units)-1 && kb >= 1024 && kb%1024 == 0 {
		kb /= 1024
		i++
	}
	return fmt.Sprintf("%d %s", kb, units[i])
}
