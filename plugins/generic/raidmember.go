package generic

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// mdMagic is the magic number of Linux md RAID superblocks.
const mdMagic = 0xa92b4efc

// raidMember tells whether d is a member of a Linux md RAID, which IPA's
// erase_block_device leaves alone (IPA erases the md device itself). It
// is, when the disk or one of its partitions is held by an md device,
// when udev's ID_FS_TYPE of one of them is linux_raid_member (what lsblk
// --fs shows, and what IPA looks for), or when one of them carries an md
// superblock (what lsblk finds without udev). why says which; a disk that
// cannot be read for superblocks is judged on the rest.
func (m *Manager) raidMember(d disk) (member bool, why string, err error) {
	parts, err := m.sys.partitions(d.kname)
	if err != nil {
		return false, "", err
	}
	disk := filepath.Join(m.sys.sysRoot, "class", "block", d.kname)
	bases := map[string]string{d.kname: disk}
	names := []string{d.kname}
	for _, p := range parts {
		bases[p.name] = filepath.Join(disk, p.name)
		names = append(names, p.name)
	}
	for _, name := range names {
		base := bases[name]
		holders, _ := os.ReadDir(filepath.Join(base, "holders"))
		for _, h := range holders {
			if strings.HasPrefix(h.Name(), "md") {
				return true, fmt.Sprintf("%s is held by %s", name, h.Name()), nil
			}
		}
		devID, _ := readString(filepath.Join(base, "dev"))
		if m.sys.udevProperties(devID)["ID_FS_TYPE"] == "linux_raid_member" {
			return true, fmt.Sprintf("udev reports %s as linux_raid_member", name), nil
		}
	}
	f, err := os.Open(m.sys.devNode(d.kname))
	if err != nil {
		return false, "", fmt.Errorf("open to look for md superblocks: %w", err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return false, "", fmt.Errorf("size of %s: %w", d.Name, err)
	}
	sector := int64(512)
	if ss, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET); err == nil && ss > 0 {
		sector = int64(ss)
	}
	regions := append([]partition{{name: d.kname, size: size}},
		mergePartitions(parts, tablePartitions(f, size, sector))...)
	for _, p := range regions {
		if v := mdSuperblock(io.NewSectionReader(f, p.start, p.size), p.size); v != "" {
			return true, fmt.Sprintf("%s carries an md superblock (version %s)", p.name, v), nil
		}
	}
	return false, "", nil
}

// mdSuperblock returns the version ("0.90", "1.0", "1.1", "1.2") of the
// md superblock on the device or partition r of size bytes, or "" when it
// has none. A version 1 superblock must also record its own offset
// (super_offset, in sectors), as libblkid requires.
func mdSuperblock(r io.ReaderAt, size int64) string {
	b := make([]byte, 152)
	v1 := []struct {
		version string
		off     int64
	}{
		{"1.1", 0},
		{"1.2", 4096},
		{"1.0", (size/512 - 16) &^ 7 * 512},
	}
	for _, at := range v1 {
		if at.off < 0 || at.off+int64(len(b)) > size || readFull(r, b, at.off) != nil {
			continue
		}
		if binary.LittleEndian.Uint32(b) == mdMagic && binary.LittleEndian.Uint32(b[4:]) == 1 &&
			binary.LittleEndian.Uint64(b[144:]) == uint64(at.off/512) {
			return at.version
		}
	}
	// Version 0.90 sits in the last 64 KiB-aligned 64 KiB, in the byte
	// order of the machine that wrote it.
	off := size&^(64<<10-1) - 64<<10
	if off < 0 || readFull(r, b[:8], off) != nil {
		return ""
	}
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		if order.Uint32(b) == mdMagic && order.Uint32(b[4:]) == 0 {
			return "0.90"
		}
	}
	return ""
}
