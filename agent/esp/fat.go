package esp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf16"
)

// FS is a FAT12, FAT16 or FAT32 file system read in place, read-only,
// through an io.ReaderAt: an EFI system partition inside a disk, read
// without mounting it (the kernel may not even have vfat).
type FS struct {
	r      io.ReaderAt
	off    int64 // the file system's first byte in r
	size   int64 // its size in bytes
	bits   int   // 12, 16 or 32
	bps    int64 // bytes per sector
	spc    int64 // sectors per cluster
	fatOff int64 // first FAT, relative to off
	// rootOff and rootLen are the fixed root directory of FAT12/16;
	// FAT32 has a root cluster instead.
	rootOff, rootLen int64
	rootCluster      uint32
	dataOff          int64  // cluster 2, relative to off
	clusters         uint32 // count of data clusters
	serial           uint32 // volume serial number ("UUID" XXXX-XXXX)
}

// Entry is a file or directory of the file system.
type Entry struct {
	// Path is relative to the root, "/"-separated, in the case stored
	// (the long name when there is one).
	Path    string
	Dir     bool
	Size    int64
	cluster uint32
}

// OpenFAT reads the boot sector of the FAT file system at off in r,
// size bytes long.
func OpenFAT(r io.ReaderAt, off, size int64) (*FS, error) {
	bs := make([]byte, 512)
	if _, err := r.ReadAt(bs, off); err != nil {
		return nil, fmt.Errorf("read FAT boot sector: %w", err)
	}
	if bs[510] != 0x55 || bs[511] != 0xAA {
		return nil, errors.New("no FAT boot sector (no 0x55AA signature)")
	}
	le16 := func(o int) int64 { return int64(binary.LittleEndian.Uint16(bs[o:])) }
	le32 := func(o int) int64 { return int64(binary.LittleEndian.Uint32(bs[o:])) }
	f := &FS{r: r, off: off, size: size, bps: le16(11), spc: int64(bs[13])}
	reserved, nfats, rootEntries := le16(14), int64(bs[16]), le16(17)
	total, fatSize := le16(19), le16(22)
	if total == 0 {
		total = le32(32)
	}
	if fatSize == 0 {
		fatSize = le32(36)
	}
	switch {
	case f.bps < 512 || f.bps > 4096 || f.bps&(f.bps-1) != 0:
		return nil, fmt.Errorf("not a FAT file system: %d bytes per sector", f.bps)
	case f.spc == 0 || f.spc&(f.spc-1) != 0:
		return nil, fmt.Errorf("not a FAT file system: %d sectors per cluster", f.spc)
	case reserved == 0 || nfats == 0 || fatSize == 0 || total == 0:
		return nil, errors.New("not a FAT file system: empty reserved area, FAT or volume")
	}
	rootSectors := (rootEntries*32 + f.bps - 1) / f.bps
	dataSector := reserved + nfats*fatSize + rootSectors
	if dataSector >= total {
		return nil, errors.New("not a FAT file system: no data area")
	}
	f.clusters = uint32((total - dataSector) / f.spc)
	f.fatOff = reserved * f.bps
	f.dataOff = dataSector * f.bps
	switch {
	case f.clusters < 4085:
		f.bits = 12
	case f.clusters < 65525:
		f.bits = 16
	default:
		f.bits = 32
	}
	if f.bits == 32 {
		f.rootCluster = uint32(le32(44))
		f.serial = uint32(le32(67))
	} else {
		f.rootOff = (reserved + nfats*fatSize) * f.bps
		f.rootLen = rootSectors * f.bps
		f.serial = uint32(le32(39))
	}
	if total*f.bps > size {
		return nil, fmt.Errorf("FAT volume of %d bytes is larger than its partition (%d bytes)", total*f.bps, size)
	}
	return f, nil
}

// Bits is 12, 16 or 32.
func (f *FS) Bits() int { return f.bits }

// UUID is the volume serial number as blkid shows it ("1A2B-3C4D"), the
// "filesystem UUID" of an ESP.
func (f *FS) UUID() string { return fmt.Sprintf("%04X-%04X", f.serial>>16, f.serial&0xFFFF) }

// readAt reads len(b) bytes at off, relative to the file system.
func (f *FS) readAt(b []byte, off int64) error {
	if off < 0 || off+int64(len(b)) > f.size {
		return fmt.Errorf("FAT: read of %d bytes at %d is outside the volume", len(b), off)
	}
	_, err := f.r.ReadAt(b, f.off+off)
	return err
}

// next is the FAT's entry for cluster c: the next cluster of the chain,
// or ok false at its end (or on a free, bad or reserved value).
func (f *FS) next(c uint32) (uint32, bool, error) {
	var v uint32
	switch f.bits {
	case 12:
		b := make([]byte, 2)
		if err := f.readAt(b, f.fatOff+int64(c)+int64(c/2)); err != nil {
			return 0, false, err
		}
		v = uint32(binary.LittleEndian.Uint16(b))
		if c&1 == 1 {
			v >>= 4
		}
		v &= 0xFFF
	case 16:
		b := make([]byte, 2)
		if err := f.readAt(b, f.fatOff+int64(c)*2); err != nil {
			return 0, false, err
		}
		v = uint32(binary.LittleEndian.Uint16(b))
	default:
		b := make([]byte, 4)
		if err := f.readAt(b, f.fatOff+int64(c)*4); err != nil {
			return 0, false, err
		}
		v = binary.LittleEndian.Uint32(b) & 0x0FFFFFFF
	}
	if v < 2 || v >= f.clusters+2 {
		return 0, false, nil
	}
	return v, true, nil
}

// chain reads the clusters from first on, up to limit bytes (0: the
// whole chain). A chain longer than the volume has clusters is a loop.
func (f *FS) chain(first uint32, limit int64) ([]byte, error) {
	csize := f.bps * f.spc
	var out []byte
	c := first
	for n := uint32(0); ; n++ {
		if c < 2 || c >= f.clusters+2 || n > f.clusters {
			return nil, fmt.Errorf("FAT: broken cluster chain at cluster %d", c)
		}
		buf := make([]byte, csize)
		if err := f.readAt(buf, f.dataOff+int64(c-2)*csize); err != nil {
			return nil, err
		}
		out = append(out, buf...)
		if limit > 0 && int64(len(out)) >= limit {
			return out[:limit], nil
		}
		nc, ok, err := f.next(c)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		c = nc
	}
	if limit > 0 && int64(len(out)) < limit {
		return nil, fmt.Errorf("FAT: file of %d bytes has a chain of only %d bytes", limit, len(out))
	}
	return out, nil
}

// maxFile bounds what ReadFile reads: the files read here are CSV hints.
const maxFile = 1 << 20

// ReadFile returns the content of the file e.
func (f *FS) ReadFile(e Entry) ([]byte, error) {
	if e.Dir {
		return nil, fmt.Errorf("%s is a directory", e.Path)
	}
	if e.Size == 0 {
		return []byte{}, nil
	}
	if e.Size > maxFile {
		return nil, fmt.Errorf("%s: %d bytes is too large", e.Path, e.Size)
	}
	return f.chain(e.cluster, e.Size)
}

// Walk calls fn for every entry, top-down: the entries of a directory in
// their on-disk order, then each subdirectory's, in that order (as
// Python's os.walk over a vfat mount goes). fn returning false stops the
// walk.
func (f *FS) Walk(fn func(Entry) bool) error {
	_, err := f.walk("", 0, fn, 0)
	return err
}

// maxDepth bounds directory nesting (a corrupt volume can loop).
const maxDepth = 32

func (f *FS) walk(dir string, cluster uint32, fn func(Entry) bool, depth int) (bool, error) {
	if depth > maxDepth {
		return false, fmt.Errorf("FAT: directories nested deeper than %d at %s", maxDepth, dir)
	}
	var raw []byte
	var err error
	switch {
	case cluster != 0:
		raw, err = f.chain(cluster, 0)
	case f.bits == 32:
		raw, err = f.chain(f.rootCluster, 0)
	default:
		raw = make([]byte, f.rootLen)
		err = f.readAt(raw, f.rootOff)
	}
	if err != nil {
		return false, fmt.Errorf("read directory /%s: %w", dir, err)
	}
	entries := parseDir(raw, dir)
	for _, e := range entries {
		if !fn(e) {
			return false, nil
		}
	}
	for _, e := range entries {
		if !e.Dir {
			continue
		}
		more, err := f.walk(e.Path, e.cluster, fn, depth+1)
		if err != nil || !more {
			return more, err
		}
	}
	return true, nil
}

// parseDir decodes the 32-byte entries of a directory: long names
// (VFAT) where their checksum matches the short entry they precede, else
// the 8.3 name with its lower-case flags; "." and "..", volume labels and
// deleted entries are skipped.
func parseDir(raw []byte, dir string) []Entry {
	var out []Entry
	var lfn []uint16
	var lfnSum byte
	for i := 0; i+32 <= len(raw); i += 32 {
		d := raw[i : i+32]
		switch {
		case d[0] == 0x00:
			return out
		case d[0] == 0xE5:
			lfn = nil
			continue
		case d[11]&0x3F == 0x0F: // long-name part
			seq := int(d[0] & 0x1F)
			if seq == 0 {
				lfn = nil
				continue
			}
			if d[0]&0x40 != 0 {
				lfn = make([]uint16, seq*13)
				lfnSum = d[13]
			}
			if lfn == nil || (seq-1)*13+13 > len(lfn) || d[13] != lfnSum {
				lfn = nil
				continue
			}
			pos := (seq - 1) * 13
			for _, r := range [][2]int{{1, 11}, {14, 26}, {28, 32}} {
				for o := r[0]; o < r[1]; o += 2 {
					lfn[pos] = binary.LittleEndian.Uint16(d[o:])
					pos++
				}
			}
			continue
		}
		short := d[:11]
		long := lfn
		lfn = nil
		if d[11]&0x08 != 0 { // volume label
			continue
		}
		name := shortName(d)
		if name == "." || name == ".." {
			continue
		}
		if long != nil && lfnChecksum(short) == lfnSum {
			name = decodeLFN(long)
		}
		e := Entry{
			Path:    path.Join(dir, name),
			Dir:     d[11]&0x10 != 0,
			Size:    int64(binary.LittleEndian.Uint32(d[28:])),
			cluster: uint32(binary.LittleEndian.Uint16(d[20:]))<<16 | uint32(binary.LittleEndian.Uint16(d[26:])),
		}
		out = append(out, e)
	}
	return out
}

// shortName renders an 8.3 entry's name, lower-casing base or extension
// where the NT flags (byte 12) say so.
func shortName(d []byte) string {
	b := append([]byte(nil), d[:11]...)
	if b[0] == 0x05 {
		b[0] = 0xE5
	}
	base := strings.TrimRight(string(b[:8]), " ")
	ext := strings.TrimRight(string(b[8:11]), " ")
	if d[12]&0x08 != 0 {
		base = strings.ToLower(base)
	}
	if d[12]&0x10 != 0 {
		ext = strings.ToLower(ext)
	}
	if ext == "" {
		return base
	}
	return base + "." + ext
}

// lfnChecksum is the checksum of an 8.3 name that its long-name parts
// carry.
func lfnChecksum(short []byte) byte {
	var sum byte
	for _, c := range short[:11] {
		sum = (sum>>1 | sum<<7) + c
	}
	return sum
}

// decodeLFN turns the UTF-16 units of a long name into a string, ending
// at the first NUL (0xFFFF pads the rest).
func decodeLFN(u []uint16) string {
	for i, c := range u {
		if c == 0 || c == 0xFFFF {
			u = u[:i]
			break
		}
	}
	return string(utf16.Decode(u))
}
