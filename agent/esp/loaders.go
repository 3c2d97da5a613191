package esp

import (
	"encoding/binary"
	"fmt"
	"path"
	"strings"
	"unicode/utf16"
)

// loaderNames are the file names (in lower case) IPA 9.4 takes for boot
// loaders or boot-loader hints on an ESP: shim's BOOTX64.CSV and rEFInd's
// BOOT.CSV, then the architectures' default loaders, grubaa64.efi and
// Windows' winload.efi. shimx64.efi and grubx64.efi themselves are only
// reached through a CSV.
var loaderNames = map[string]bool{
	"bootx64.csv": true, "boot.csv": true,
	"bootia32.efi": true, "bootx64.efi": true, "bootia64.efi": true, "bootarm.efi": true, "bootaa64.efi": true,
	"bootriscv32.efi": true, "bootriscv64.efi": true, "bootriscv128.efi": true,
	"grubaa64.efi": true, "winload.efi": true,
}

// FindLoaders returns the ESP's boot loaders as IPA finds them: walking
// the file system top-down, every file named as a loader, until the first
// CSV hint, which is then the only answer (it names the loader and the
// label to use). Paths are relative to the ESP's root, as stored. On vfat
// every file is executable, so no mode is checked.
func FindLoaders(fs *FS) ([]Entry, error) {
	var found []Entry
	var csv *Entry
	err := fs.Walk(func(e Entry) bool {
		if e.Dir || !loaderNames[strings.ToLower(path.Base(e.Path))] {
			return true
		}
		if strings.HasSuffix(strings.ToLower(e.Path), ".csv") {
			csv = &e
			return false
		}
		found = append(found, e)
		return true
	})
	if err != nil {
		return nil, err
	}
	if csv != nil {
		return []Entry{*csv}, nil
	}
	return found, nil
}

// BootEntry is an NVRAM boot entry to create.
type BootEntry struct {
	// Loader is the loader's path on the ESP as firmware wants it:
	// "\EFI\debian\shimx64.efi".
	Loader string
	// Label is the entry's name: the CSV's, else "ironic1", "ironic2"...
	Label string
	// From is the ESP file the entry was made from.
	From string
}

// BootEntries turns FindLoaders' answer into the entries IPA writes: a
// CSV hint gives its first field as the loader (in the CSV's directory)
// and its second as the label; a loader gives itself and the label
// "ironicN", N counting the loaders from 1.
func BootEntries(fs *FS, loaders []Entry) ([]BootEntry, error) {
	var out []BootEntry
	for i, l := range loaders {
		if !strings.HasSuffix(strings.ToLower(l.Path), ".csv") {
			out = append(out, BootEntry{Loader: efiPath(l.Path), Label: fmt.Sprintf("ironic%d", i+1), From: l.Path})
			continue
		}
		raw, err := fs.ReadFile(l)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", l.Path, err)
		}
		fields := strings.SplitN(decodeUTF16(raw), ",", 4)
		if len(fields) < 2 || strings.TrimSpace(fields[0]) == "" {
			return nil, fmt.Errorf("%s: want \"loader,label,...\", got %q", l.Path, decodeUTF16(raw))
		}
		loader := path.Join(path.Dir(l.Path), fields[0])
		out = append(out, BootEntry{Loader: efiPath(loader), Label: fields[1], From: l.Path})
	}
	return out, nil
}

// efiPath turns an ESP-relative path into firmware's form.
func efiPath(p string) string { return `\` + strings.ReplaceAll(p, "/", `\`) }

// decodeUTF16 decodes a CSV hint, which shim writes in UTF-16: little
// endian unless a byte-order mark says otherwise, the mark dropped.
func decodeUTF16(b []byte) string {
	order := binary.ByteOrder(binary.LittleEndian)
	if len(b) >= 2 {
		switch {
		case b[0] == 0xFF && b[1] == 0xFE:
			b = b[2:]
		case b[0] == 0xFE && b[1] == 0xFF:
			order, b = binary.BigEndian, b[2:]
		}
	}
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, order.Uint16(b[i:]))
	}
	return string(utf16.Decode(u))
}
