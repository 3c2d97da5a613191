// Package esp finds a disk's EFI system partition and the boot loaders on
// it, reading the partition table and the FAT file system straight from
// the disk, read-only: nothing is mounted, so it works where the kernel
// has no vfat and never changes the disk.
package esp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// espType is the GPT partition type GUID of an EFI system partition,
// C12A7328-F81F-11D2-BA4B-00A0C93EC93B, as stored on disk.
var espType = guidBytes("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")

// mbrESP is the MBR partition type of an EFI system partition.
const mbrESP = 0xEF

// ErrNoTable is Partitions' error for a disk with neither a GPT nor an MBR.
var ErrNoTable = errors.New("no partition table (no GPT, no MBR signature)")

// Partition is a partition of the disk.
type Partition struct {
	// Number is the partition number (the N of /dev/sdaN, the -p of
	// efibootmgr).
	Number int
	// ESP says the table marks it as an EFI system partition.
	ESP bool
	// PartUUID is the GPT unique partition GUID in lower case ("" for
	// MBR).
	PartUUID string
	// Offset and Size are in bytes.
	Offset, Size int64
}

// Partitions reads the GPT of the disk (sector size 512, then 4096) or,
// without one, its MBR's primary partitions. size is the disk's size.
func Partitions(r io.ReaderAt, size int64) ([]Partition, error) {
	for _, sector := range []int64{512, 4096} {
		parts, ok, err := gpt(r, size, sector)
		if err != nil {
			return nil, err
		}
		if ok {
			return parts, nil
		}
	}
	return mbr(r, size)
}

func gpt(r io.ReaderAt, size, sector int64) ([]Partition, bool, error) {
	h := make([]byte, 92)
	if _, err := r.ReadAt(h, sector); err != nil || !bytes.Equal(h[:8], []byte("EFI PART")) {
		return nil, false, nil
	}
	entriesLBA := int64(binary.LittleEndian.Uint64(h[72:]))
	count := int64(binary.LittleEndian.Uint32(h[80:]))
	esize := int64(binary.LittleEndian.Uint32(h[84:]))
	if esize < 128 || count*esize > 1<<20 || entriesLBA < 2 {
		return nil, false, fmt.Errorf("GPT header: %d entries of %d bytes at LBA %d make no table", count, esize, entriesLBA)
	}
	table := make([]byte, count*esize)
	if _, err := r.ReadAt(table, entriesLBA*sector); err != nil {
		return nil, false, fmt.Errorf("read GPT entries: %w", err)
	}
	var out []Partition
	zero := make([]byte, 16)
	for i := int64(0); i < count; i++ {
		e := table[i*esize : (i+1)*esize]
		if bytes.Equal(e[:16], zero) {
			continue
		}
		first := int64(binary.LittleEndian.Uint64(e[32:]))
		last := int64(binary.LittleEndian.Uint64(e[40:]))
		if last < first || (last+1)*sector > size {
			continue
		}
		out = append(out, Partition{
			Number:   int(i + 1),
			ESP:      bytes.Equal(e[:16], espType),
			PartUUID: guidString(e[16:32]),
			Offset:   first * sector,
			Size:     (last - first + 1) * sector,
		})
	}
	return out, true, nil
}

func mbr(r io.ReaderAt, size int64) ([]Partition, error) {
	b := make([]byte, 512)
	if _, err := r.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("read MBR: %w", err)
	}
	if b[510] != 0x55 || b[511] != 0xAA {
		return nil, ErrNoTable
	}
	var out []Partition
	for i := 0; i < 4; i++ {
		e := b[446+16*i : 446+16*(i+1)]
		typ := e[4]
		start := int64(binary.LittleEndian.Uint32(e[8:])) * 512
		n := int64(binary.LittleEndian.Uint32(e[12:])) * 512
		if typ == 0 || n == 0 || start+n > size {
			continue
		}
		out = append(out, Partition{Number: i + 1, ESP: typ == mbrESP, Offset: start, Size: n})
	}
	return out, nil
}

// guidBytes is the on-disk (mixed-endian) form of a GUID string.
func guidBytes(s string) []byte {
	h := strings.ReplaceAll(s, "-", "")
	var raw [16]byte
	for i := 0; i < 16; i++ {
		fmt.Sscanf(h[2*i:2*i+2], "%02x", &raw[i])
	}
	out := make([]byte, 16)
	for i, j := range []int{3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15} {
		out[i] = raw[j]
	}
	return out
}

// guidString renders an on-disk GUID in lower case, as blkid shows a
// PARTUUID.
func guidString(b []byte) string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(b[0:]),
		binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint16(b[6:]), b[8:10], b[10:16])
}

// Find returns the partition holding the EFI system partition: the one
// the table marks as such (IPA trusts the disk first), else the one whose
// PARTUUID or FAT volume UUID is uuid (install_bootloader's
// efi_system_part_uuid). ok is false when there is none, a disk without
// a partition table included.
func Find(r io.ReaderAt, size int64, uuid string) (Partition, bool, error) {
	parts, err := Partitions(r, size)
	if errors.Is(err, ErrNoTable) {
		return Partition{}, false, nil
	}
	if err != nil {
		return Partition{}, false, err
	}
	for _, p := range parts {
		if p.ESP {
			return p, true, nil
		}
	}
	if uuid == "" {
		return Partition{}, false, nil
	}
	for _, p := range parts {
		if strings.EqualFold(p.PartUUID, uuid) {
			return p, true, nil
		}
		if fs, err := OpenFAT(r, p.Offset, p.Size); err == nil && strings.EqualFold(fs.UUID(), uuid) {
			return p, true, nil
		}
	}
	return Partition{}, false, nil
}
