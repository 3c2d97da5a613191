package generic

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// The partition tables are read from the disk as well as taken from the
// kernel, because the kernel's view can miss them: a loop device without
// partition scanning, a kernel without the parser, a table written but
// never re-read.

// maxTableBytes bounds the GPT partition entry array this reader accepts.
const maxTableBytes = mib

// tablePartitions returns the partitions described by the MBR (with its
// extended partitions) and by the primary and backup GPT of the disk read
// through r, of size bytes and logical blocks of sector bytes. Unreadable
// or malformed tables describe nothing; every range is clipped to the disk.
func tablePartitions(r io.ReaderAt, size, sector int64) []partition {
	var out []partition
	out = append(out, mbrPartitions(r, size, sector)...)
	out = append(out, gptPartitions(r, sector, size, sector)...)
	out = append(out, gptPartitions(r, size-sector, size, sector)...)
	return out
}

// gptPartitions reads the GPT header at hdrOff and its partition entries.
func gptPartitions(r io.ReaderAt, hdrOff, size, sector int64) []partition {
	h := make([]byte, 92)
	if hdrOff < 0 || readFull(r, h, hdrOff) != nil || !bytes.Equal(h[:8], []byte("EFI PART")) {
		return nil
	}
	entriesLBA := int64(binary.LittleEndian.Uint64(h[72:]))
	count := int64(binary.LittleEndian.Uint32(h[80:]))
	esize := int64(binary.LittleEndian.Uint32(h[84:]))
	if count == 0 || esize < 128 || esize%8 != 0 || count*esize > maxTableBytes {
		return nil
	}
	table := make([]byte, count*esize)
	if entriesLBA <= 0 || entriesLBA*sector+int64(len(table)) > size || readFull(r, table, entriesLBA*sector) != nil {
		return nil
	}
	var out []partition
	zero := make([]byte, 16)
	for i := int64(0); i < count; i++ {
		e := table[i*esize : (i+1)*esize]
		if bytes.Equal(e[:16], zero) {
			continue
		}
		first := int64(binary.LittleEndian.Uint64(e[32:]))
		last := int64(binary.LittleEndian.Uint64(e[40:]))
		if p, ok := clipped(fmt.Sprintf("GPT entry %d", i+1), first*sector, (last-first+1)*sector, size); ok && last >= first {
			out = append(out, p)
		}
	}
	return out
}

// mbrPartitions reads the MBR's four entries and follows the chain of
// extended boot records of an extended partition. A boot sector whose
// entries have status bytes other than 0x00 and 0x80 (a FAT or NTFS file
// system on the whole disk) is not a partition table.
func mbrPartitions(r io.ReaderAt, size, sector int64) []partition {
	mbr := make([]byte, 512)
	if readFull(r, mbr, 0) != nil || mbr[510] != 0x55 || mbr[511] != 0xAA {
		return nil
	}
	for i := 0; i < 4; i++ {
		if s := mbr[446+16*i]; s != 0 && s != 0x80 {
			return nil
		}
	}
	var out []partition
	for i := 0; i < 4; i++ {
		e := mbr[446+16*i:]
		typ, start, count := e[4], int64(binary.LittleEndian.Uint32(e[8:])), int64(binary.LittleEndian.Uint32(e[12:]))
		if typ == 0 || typ == 0xEE || count == 0 {
			continue // empty, or GPT's protective entry
		}
		if p, ok := clipped(fmt.Sprintf("MBR entry %d", i+1), start*sector, count*sector, size); ok {
			out = append(out, p)
		}
		if isExtended(typ) {
			out = append(out, logicalPartitions(r, start, size, sector)...)
		}
	}
	return out
}

func isExtended(typ byte) bool { return typ == 0x05 || typ == 0x0F || typ == 0x85 }

// logicalPartitions follows the extended boot records of the extended
// partition starting at block base.
func logicalPartitions(r io.ReaderAt, base, size, sector int64) []partition {
	var out []partition
	ebr := make([]byte, 512)
	next := base
	for n := 5; n < 5+128; n++ {
		if readFull(r, ebr, next*sector) != nil || ebr[510] != 0x55 || ebr[511] != 0xAA {
			break
		}
		e1, e2 := ebr[446:], ebr[462:]
		if start, count := int64(binary.LittleEndian.Uint32(e1[8:])), int64(binary.LittleEndian.Uint32(e1[12:])); e1[4] != 0 && count > 0 {
			if p, ok := clipped(fmt.Sprintf("MBR logical partition %d", n), (next+start)*sector, count*sector, size); ok {
				out = append(out, p)
			}
		}
		link := int64(binary.LittleEndian.Uint32(e2[8:]))
		if !isExtended(e2[4]) || link == 0 {
			break
		}
		next = base + link
	}
	return out
}

// clipped returns the partition of n bytes at off clipped to a disk of
// size bytes; ok is false when nothing of it lies on the disk.
func clipped(name string, off, n, size int64) (partition, bool) {
	if off < 0 || n <= 0 || off >= size {
		return partition{}, false
	}
	return partition{name: name, start: off, size: min(n, size-off)}, true
}

func readFull(r io.ReaderAt, b []byte, off int64) error {
	_, err := r.ReadAt(b, off)
	return err
}

// mergePartitions returns a followed by the partitions of b at offsets
// and sizes a does not have.
func mergePartitions(a, b []partition) []partition {
	type span struct{ start, size int64 }
	seen := map[span]bool{}
	out := make([]partition, 0, len(a)+len(b))
	for _, p := range append(append([]partition(nil), a...), b...) {
		if s := (span{p.start, p.size}); !seen[s] {
			seen[s] = true
			out = append(out, p)
		}
	}
	return out
}
