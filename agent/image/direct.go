package image

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// defaultAlign is the alignment assumed for direct I/O when the device
// does not tell its logical block size: a multiple of every common one.
const defaultAlign = 4096

// deviceWriter writes the image at the offsets the pipeline gives. On a
// block device opened with O_DIRECT the data goes from the pipeline's
// buffers to the device without passing through the page cache: no copy
// into freshly allocated cache pages and no write-back at the final fsync,
// which on these machines cost more CPU than hashing (profile in
// docs/benchmarks.md, "Image engine"). Direct I/O needs the offset, the
// length and the memory aligned to the device's logical block size; a
// piece that is not (the image's tail when its size is not a multiple of
// it) is written with O_DIRECT cleared, through the page cache, and so is
// everything after it. A device that refuses direct I/O (EINVAL) gets the
// same treatment from its first write on.
type deviceWriter struct {
	f      *os.File
	direct bool  // O_DIRECT is set on f
	align  int64 // logical block size, a power of two
	log    hclog.Logger
}

// newDeviceWriter wraps f; direct says whether f was opened with O_DIRECT.
func newDeviceWriter(f *os.File, direct bool, log hclog.Logger) *deviceWriter {
	w := &deviceWriter{f: f, direct: direct, align: defaultAlign, log: log}
	if direct {
		if n, err := logicalBlockSize(f); err == nil && n > 0 && n&(n-1) == 0 {
			w.align = int64(n)
		} else {
			log.Debug("logical block size unknown, aligning direct writes to the default", "align", defaultAlign, "error", err)
		}
	}
	return w
}

// WriteAt writes p at off: the aligned part directly when direct I/O is
// on, the rest through the page cache.
func (w *deviceWriter) WriteAt(p []byte, off int64) (int, error) {
	if !w.direct {
		return w.f.WriteAt(p, off)
	}
	head := w.alignedPrefix(p, off)
	n := 0
	if head > 0 {
		m, err := w.f.WriteAt(p[:head], off)
		n = m
		switch {
		case err == nil && head == len(p):
			return n, nil
		case err != nil && !(m == 0 && errors.Is(err, syscall.EINVAL)):
			return n, err
		case err != nil:
			w.log.Info("the device refused a direct write, writing through the page cache", "offset", off, "error", err)
		}
	}
	if err := w.buffered(off + int64(n)); err != nil {
		return n, err
	}
	m, err := w.f.WriteAt(p[n:], off+int64(n))
	return n + m, err
}

// alignedPrefix returns how many bytes of p, written at off, direct I/O
// can take: len(p) rounded down to the alignment when off and p's address
// are aligned, else 0.
func (w *deviceWriter) alignedPrefix(p []byte, off int64) int {
	if len(p) == 0 || off&(w.align-1) != 0 || int64(uintptr(unsafe.Pointer(&p[0])))&(w.align-1) != 0 {
		return 0
	}
	return len(p) &^ int(w.align-1)
}

// buffered clears O_DIRECT on the file for the rest of the write.
func (w *deviceWriter) buffered(off int64) error {
	if err := setDirect(w.f, false); err != nil {
		return fmt.Errorf("turn off direct I/O at offset %d: %w", off, err)
	}
	w.direct = false
	w.log.Debug("writing through the page cache from here on", "offset", off)
	return nil
}

// setDirect sets or clears O_DIRECT on an open file.
func setDirect(f *os.File, on bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	err = rc.Control(func(fd uintptr) {
		flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			opErr = err
			return
		}
		if on {
			flags |= unix.O_DIRECT
		} else {
			flags &^= unix.O_DIRECT
		}
		_, opErr = unix.FcntlInt(fd, unix.F_SETFL, flags)
	})
	if err != nil {
		return err
	}
	return opErr
}

// logicalBlockSize asks a block device for its logical block size
// (BLKSSZGET).
func logicalBlockSize(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var opErr error
	err = rc.Control(func(fd uintptr) {
		n, opErr = unix.IoctlGetInt(int(fd), unix.BLKSSZGET)
	})
	if err != nil {
		return 0, err
	}
	return n, opErr
}
