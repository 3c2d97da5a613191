package generic

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/digitalocean/go-smbios/smbios"
	"github.com/hashicorp/go-hclog"
)

// SMBIOS structure types read by the generic manager.
const (
	smbiosTypeBIOS         = 0
	smbiosTypeSystem       = 1
	smbiosTypeMemoryDevice = 17
)

// maxSMBIOSTable bounds how much of the DMI table is read when the entry
// point gives no usable size.
const maxSMBIOSTable = 16 << 20

// smbiosInfo holds the few SMBIOS fields the inventory reports; strings
// the firmware leaves out are "".
type smbiosInfo struct {
	biosVendor, biosVersion, biosDate  string
	manufacturer, product, serial, sku string
	// memoryDevices counts the type 17 structures; memoryBytes sums the
	// sizes of the installed modules of known size, of which there are
	// modules.
	memoryDevices, modules int
	memoryBytes            uint64
}

// readSMBIOS decodes the SMBIOS tables the kernel exports under
// /sys/firmware/dmi/tables. It returns nil and no error when they are
// absent (older kernels, non-DMI platforms, the test fixtures).
func (s system) readSMBIOS() (*smbiosInfo, error) {
	dir := filepath.Join(s.sysRoot, "firmware", "dmi", "tables")
	ep, err := os.ReadFile(filepath.Join(dir, "smbios_entry_point"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read SMBIOS entry point: %w", err)
	}
	f, err := os.Open(filepath.Join(dir, "DMI"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read SMBIOS table: %w", err)
	}
	defer f.Close()
	info, err := parseSMBIOS(ep, f)
	if err != nil {
		return nil, fmt.Errorf("SMBIOS tables in %s: %w", dir, err)
	}
	return info, nil
}

// parseSMBIOS decodes an SMBIOS entry point and the structure table it
// describes.
func parseSMBIOS(entryPoint []byte, table io.Reader) (*smbiosInfo, error) {
	ep, err := smbios.ParseEntryPoint(bytes.NewReader(entryPoint))
	if err != nil {
		return nil, fmt.Errorf("entry point: %w", err)
	}
	// The 32-bit entry point gives the table's length, the 64-bit one its
	// maximum size; the decoder stops at the end-of-table structure.
	_, size := ep.Table()
	if size <= 0 || size > maxSMBIOSTable {
		size = maxSMBIOSTable
	}
	structures, err := smbios.NewDecoder(io.LimitReader(table, int64(size))).Decode()
	if err != nil {
		return nil, fmt.Errorf("decode structures: %w", err)
	}
	info := &smbiosInfo{}
	var seenBIOS, seenSystem bool
	for _, st := range structures {
		switch st.Header.Type {
		case smbiosTypeBIOS:
			if seenBIOS {
				continue
			}
			seenBIOS = true
			info.biosVendor = smbiosString(st, 0x04)
			info.biosVersion = smbiosString(st, 0x05)
			info.biosDate = smbiosString(st, 0x08)
		case smbiosTypeSystem:
			if seenSystem {
				continue
			}
			seenSystem = true
			info.manufacturer = smbiosString(st, 0x04)
			info.product = smbiosString(st, 0x05)
			info.serial = smbiosString(st, 0x07)
			info.sku = smbiosString(st, 0x19)
		case smbiosTypeMemoryDevice:
			info.memoryDevices++
			if n, ok := memoryDeviceBytes(st); ok && n > 0 {
				info.modules++
				info.memoryBytes += n
			}
		}
	}
	return info, nil
}

// smbiosField returns the n bytes at offset off of the structure (counted, as
// the specification does, from the start of the header), and whether the
// structure is long enough to have them.
func smbiosField(st *smbios.Structure, off, n int) ([]byte, bool) {
	i := off - 4 // the decoder strips the 4-byte header
	if i < 0 || i+n > len(st.Formatted) {
		return nil, false
	}
	return st.Formatted[i : i+n], true
}

// smbiosString returns the string whose 1-based number is at offset off,
// trimmed, or "" when there is none.
func smbiosString(st *smbios.Structure, off int) string {
	b, ok := smbiosField(st, off, 1)
	if !ok || b[0] == 0 || int(b[0]) > len(st.Strings) {
		return ""
	}
	return strings.TrimSpace(st.Strings[b[0]-1])
}

// memoryDeviceBytes returns the size of the module of a Memory Device
// (type 17) structure in bytes: 0 when the slot is empty, false when the
// size is unknown. The size word at 0x0C is in MB, or in KB when bit 15 is
// set; 0x7FFF defers to the extended size dword at 0x1C (bits 0-30, MB).
func memoryDeviceBytes(st *smbios.Structure) (uint64, bool) {
	b, ok := smbiosField(st, 0x0C, 2)
	if !ok {
		return 0, false
	}
	switch w := binary.LittleEndian.Uint16(b); {
	case w == 0xFFFF:
		return 0, false
	case w == 0x7FFF:
		ext, ok := smbiosField(st, 0x1C, 4)
		if !ok {
			return 0, false
		}
		return uint64(binary.LittleEndian.Uint32(ext)&0x7FFFFFFF) << 20, true
	case w&0x8000 != 0:
		return uint64(w&0x7FFF) << 10, true
	default:
		return uint64(w) << 20, true
	}
}

// smbios returns the decoded SMBIOS tables, or nil when there are none or
// they cannot be read; a malformed table is logged, and the caller falls
// back to what the kernel exports elsewhere.
func (s system) smbios(log hclog.Logger) *smbiosInfo {
	info, err := s.readSMBIOS()
	if err != nil {
		log.Warn("SMBIOS tables unreadable; using sysfs instead", "error", err)
		return nil
	}
	return info
}

// physicalMB returns the summed size of the installed memory modules
// in MiB, and false when SMBIOS lists none of known size.
func (info *smbiosInfo) physicalMB() (int, bool) {
	if info == nil || info.modules == 0 {
		return 0, false
	}
	return int(info.memoryBytes >> 20), true
}
