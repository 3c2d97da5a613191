package generic

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// discardChunk is the size of each BLKDISCARD request: the context is
// checked and progress logged between them, since one request on a large
// disk cannot be interrupted.
const discardChunk = 1 << 30

// canDiscard reports whether the kernel lets d discard blocks: its queue's
// discard_max_bytes is above 0.
func (s system) canDiscard(d disk) bool {
	n, err := readInt(filepath.Join(s.sysRoot, "class", "block", d.kname, "queue", "discard_max_bytes"))
	return err == nil && n > 0
}

// discard has d discard every block (the BLKDISCARD ioctl, what blkdiscard
// does), in chunks of discardChunk, checking ctx between them. A discarded
// block reads back as zeros on a loop device or a thinly provisioned
// volume; on an SSD it may read back as zeros or as anything, so the
// caller erases the metadata afterwards as well.
func (m *Manager) discard(ctx context.Context, log hclog.Logger, d disk) error {
	f, err := m.open(m.sys.devNode(d.kname))
	if err != nil {
		return err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("size of %s: %w", d.Name, err)
	}
	start := time.Now()
	last := start
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(int64(discardChunk), size-off)
		if err := blkDiscard(f, off, n); err != nil {
			return fmt.Errorf("discard %d bytes at offset %d: %w", n, off, err)
		}
		off += n
		if now := time.Now(); now.Sub(last) >= progressInterval {
			last = now
			log.Info("discard progress", "discarded", off, "percent", 100*off/size)
		}
	}
	log.Info("discarded every block", "bytes", size, "duration", time.Since(start).String())
	return nil
}

// blkDiscard discards n bytes at off of the block device f.
func blkDiscard(f *os.File, off, n int64) error {
	rng := [2]uint64{uint64(off), uint64(n)}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno unix.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, unix.BLKDISCARD, uintptr(unsafe.Pointer(&rng)))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}
