package generic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const mib = 1 << 20

// zeroChunk and randomChunk are the sizes of the writes of a zero and of
// a random pass, chosen with BenchmarkPassWriteSize (1 to 16 MiB) on a
// loop device with O_DIRECT, the loop driver's direct I/O to a file on
// the virtio disk (docs/benchmarks.md), with the buffers in huge pages
// (see mapHuge): a zero pass was fastest at 4 to 8 MiB, a random pass at
// 2 to 4 MiB, the larger size keeping the writes fewer.
const (
	zeroChunk   = 8 * mib
	randomChunk = 4 * mib
)

// maxPassChunk is the largest write size a pass accepts: the size of the
// shared zero pages.
const maxPassChunk = 16 * mib

// readWindow is the size of the aligned reads through which the partition
// tables are read.
const readWindow = 64 << 10

// openForWrite opens the block device at path for reading and writing.
// The open is exclusive (O_EXCL on a block device), so the kernel itself refuses while
// the device or one of its partitions is mounted or held by md or
// device-mapper; it bypasses the page cache (O_DIRECT) where the device
// allows. Anything but a block device is refused.
func openForWrite(path string) (*os.File, error) {
	flags := unix.O_RDWR | unix.O_EXCL | unix.O_CLOEXEC
	fd, err := unix.Open(path, flags|unix.O_DIRECT, 0)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.Open(path, flags, 0)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is not a block device", path)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// zeroPages returns maxPassChunk bytes of zeros for O_DIRECT writes: a
// read-only anonymous mapping (see mapHuge), made once per process and
// shared by every write of zeros. Its pages are the kernel's zero page (or
// huge zero page), so it costs no memory, and nothing can write to it.
var zeroPages = sync.OnceValues(func() ([]byte, error) {
	b, _, err := mapHuge(maxPassChunk, unix.PROT_READ)
	if err != nil {
		return nil, fmt.Errorf("map zero pages: %w", err)
	}
	return b, nil
})

// alignedBuffer returns n bytes of page-aligned memory for O_DIRECT I/O,
// to be released with unix.Munmap.
func alignedBuffer(n int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("allocate %d-byte I/O buffer: %w", n, err)
	}
	return b, nil
}

// hugePage is the size of a transparent huge page with 4 KiB pages (amd64,
// and arm64 as most distributions build it).
const hugePage = 2 * mib

// mapHuge maps n bytes of anonymous memory with prot, aligned to a huge
// page and advised to use transparent huge pages (MADV_HUGEPAGE), and
// returns them and the whole mapping, which is what to unmap. A fault then
// brings in 2 MiB instead of 4 KiB: on the VM of docs/benchmarks.md,
// touching 4 MiB for the first time took about 30 ms in 4 KiB pages and
// 0.3 ms in huge pages. A kernel without transparent huge pages refuses
// the advice, which is ignored.
func mapHuge(n, prot int) (mem, mapping []byte, err error) {
	mapping, err = unix.Mmap(-1, 0, n+hugePage, prot, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, fmt.Errorf("map %d bytes: %w", n, err)
	}
	skip := int((hugePage - uintptr(unsafe.Pointer(&mapping[0]))%hugePage) % hugePage)
	mem = mapping[skip : skip+n : skip+n]
	_ = unix.Madvise(mem, unix.MADV_HUGEPAGE)
	return mem, mapping, nil
}

// device is a block device open for writing, with a page-aligned buffer
// of readWindow bytes for reads through O_DIRECT.
type device struct {
	f    *os.File
	size int64
	// sector is the logical block size: offsets and lengths of direct
	// writes are rounded to it.
	sector int64
	buf    []byte
}

// openDevice opens path with open.
func openDevice(open func(string) (*os.File, error), path string) (*device, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	d := &device{f: f, sector: 512}
	if d.size, err = f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, fmt.Errorf("size of %s: %w", path, err)
	}
	if ss, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET); err == nil && ss > 0 {
		d.sector = int64(ss)
	}
	if d.buf, err = alignedBuffer(readWindow); err != nil {
		f.Close()
		return nil, err
	}
	return d, nil
}

// Close releases the buffer and closes the device.
func (d *device) Close() error {
	if d.buf != nil {
		unix.Munmap(d.buf)
		d.buf = nil
	}
	return d.f.Close()
}

// span is a range of a device, in bytes.
type span struct{ off, n int64 }

// blocks returns s widened to whole logical blocks and clipped to the
// device; n is 0 when nothing of it lies on the device.
func (d *device) blocks(s span) span {
	end := min(roundUp(s.off+s.n, d.sector), d.size)
	off := max(s.off/d.sector*d.sector, 0)
	return span{off, max(end-off, 0)}
}

// writeZeros writes zeros over s, widened to whole logical blocks and
// clipped to the device, in writes of at most maxPassChunk bytes from
// the shared zero pages. ctx is checked between writes.
func (d *device) writeZeros(ctx context.Context, s span) error {
	zero, err := zeroPages()
	if err != nil {
		return err
	}
	s = d.blocks(s)
	for off, end := s.off, s.off+s.n; off < end; {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := min(end-off, int64(len(zero)))
		if _, err := d.f.WriteAt(zero[:c], off); err != nil {
			return fmt.Errorf("write %d bytes at offset %d: %w", c, off, err)
		}
		off += c
	}
	return nil
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// ReadAt reads len(p) bytes at off through the aligned buffer, so that it
// works on a device opened with O_DIRECT.
func (d *device) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		start := pos / d.sector * d.sector
		end := min(roundUp(off+int64(len(p)), d.sector), start+int64(len(d.buf)), d.size)
		if start >= end {
			return done, io.EOF
		}
		n, err := d.f.ReadAt(d.buf[:end-start], start)
		if n <= int(pos-start) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return done, err
		}
		done += copy(p[done:], d.buf[pos-start:n])
	}
	return done, nil
}

// windowReader reads a device through whole readWindow-aligned windows,
// each read from the device at most once and kept: the partition-table
// readers ask for the MBR, a GPT header and its entries one after the
// other, which all lie in the disk's first (or, for the backup GPT, last)
// window. It is for reading before anything is written.
type windowReader struct {
	d       *device
	windows map[int64][]byte
}

// newWindowReader reads d through windows.
func newWindowReader(d *device) *windowReader {
	return &windowReader{d: d, windows: map[int64][]byte{}}
}

// ReadAt reads len(p) bytes at off.
func (r *windowReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at negative offset %d", off)
	}
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		if pos >= r.d.size {
			return done, io.EOF
		}
		start := pos / readWindow * readWindow
		w, ok := r.windows[start]
		if !ok {
			w = make([]byte, min(readWindow, r.d.size-start))
			if _, err := r.d.ReadAt(w, start); err != nil {
				return done, err
			}
			r.windows[start] = w
		}
		done += copy(p[done:], w[pos-start:])
	}
	return done, nil
}

// sync flushes the device's writes to stable storage.
func (d *device) sync() error {
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// rereadPartitions asks the kernel to re-read the partition table
// (BLKRRPART). EINVAL, a device without partition scanning such as a loop
// device set up without it, is not an error; EBUSY, a partition briefly
// opened by someone else, is retried for about a second.
func (d *device) rereadPartitions(ctx context.Context) error {
	var err error
	for try := 0; try < 5; try++ {
		err = ioctlNoArg(d.f, unix.BLKRRPART)
		if err == nil || errors.Is(err, unix.EINVAL) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("re-read partition table: %w", err)
}

// ioctlNoArg issues an ioctl that takes no argument.
func ioctlNoArg(f *os.File, req uintptr) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno unix.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, req, 0)
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// partition is a partition of a disk as the kernel sees it, in bytes.
type partition struct {
	name        string
	start, size int64
}

// partitions lists the kernel's partitions of the disk kname from sysfs.
func (s system) partitions(kname string) ([]partition, error) {
	dir := filepath.Join(s.sysRoot, "class", "block", kname)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", kname, err)
	}
	var out []partition
	for _, e := range entries {
		base := filepath.Join(dir, e.Name())
		if !strings.HasPrefix(e.Name(), kname) || !exists(filepath.Join(base, "partition")) {
			continue
		}
		start, err := readInt(filepath.Join(base, "start"))
		if err != nil {
			return nil, fmt.Errorf("partition %s: %w", e.Name(), err)
		}
		size, err := readInt(filepath.Join(base, "size"))
		if err != nil {
			return nil, fmt.Errorf("partition %s: %w", e.Name(), err)
		}
		out = append(out, partition{name: e.Name(), start: start * 512, size: size * 512})
	}
	return out, nil
}
