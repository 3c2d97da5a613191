package image

import (
	"bufio"
	"context"
	"crypto/sha256"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/hashicorp/go-hclog"
)

// mapped reports whether addr lies in a mapping of this process.
func mapped(t *testing.T, addr uintptr) bool {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rng, _, _ := strings.Cut(sc.Text(), " ")
		lo, hi, ok := strings.Cut(rng, "-")
		if !ok {
			continue
		}
		l, err1 := strconv.ParseUint(lo, 16, 64)
		h, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil && uint64(addr) >= l && uint64(addr) < h {
			return true
		}
	}
	return false
}

// TestPipelineFreesBuffers checks that closing the pipeline unmaps the
// buffers given back to it and leaves a buffer still out mapped.
func TestPipelineFreesBuffers(t *testing.T) {
	_, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	p := newPipeline(&recordingWriter{}, sha256.New(), cancel, hclog.NewNullLogger(), nil)
	var addrs []uintptr
	var bufs [][]byte
	for range 3 {
		b, err := p.buffer(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		bufs = append(bufs, b)
		addrs = append(addrs, uintptr(unsafe.Pointer(&b[0])))
	}
	p.send(bufs[0][:100])
	p.release(bufs[1])
	held := bufs[2] // still out at close: must stay mapped
	size, _, err := p.close()
	if err != nil || size != 100 {
		t.Fatalf("close: %d bytes, %v", size, err)
	}
	for i, want := range []bool{false, false, true} {
		if got := mapped(t, addrs[i]); got != want {
			t.Errorf("buffer %d mapped after close: %v, want %v", i, got, want)
		}
	}
	held[0] = 1 // faults if it was unmapped
	if err := freeBuffer(held); err != nil {
		t.Fatal(err)
	}
	if p.allocated != 0 {
		t.Errorf("allocated = %d after close", p.allocated)
	}
}

// TestBufferAlignment checks that buffers, however many are mapped, are
// page-aligned, as direct I/O needs.
func TestBufferAlignment(t *testing.T) {
	for i := range 4 {
		b, err := allocBuffer(bufSize)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = freeBuffer(b) }()
		if a := uintptr(unsafe.Pointer(&b[0])); a%uintptr(os.Getpagesize()) != 0 || len(b) != bufSize {
			t.Errorf("buffer %d at %#x, %d bytes: want page-aligned, %d bytes", i, a, len(b), bufSize)
		}
	}
}
