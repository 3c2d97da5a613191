package image

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// allocBuffer maps size bytes of anonymous memory for the pipeline's ring.
// The memory is page-aligned, as O_DIRECT writes need, lives outside the
// Go heap (the collector never scans or moves it) and goes back to the
// kernel as soon as freeBuffer unmaps it, so the agent's resident memory
// falls at the end of a write instead of whenever the heap is scavenged.
func allocBuffer(size int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("map a %d-byte image buffer: %w", size, err)
	}
	return b, nil
}

// freeBuffer unmaps a buffer from allocBuffer; b may be a reslice of it
// with its full capacity. Nothing may use b afterwards.
func freeBuffer(b []byte) error {
	if err := unix.Munmap(b[:cap(b)]); err != nil {
		return fmt.Errorf("unmap an image buffer: %w", err)
	}
	return nil
}
