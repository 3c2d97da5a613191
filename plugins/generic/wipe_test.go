package generic

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestMapHuge(t *testing.T) {
	for _, n := range []int{4096, hugePage, 3 * mib, 2 * randomChunk} {
		mem, mapping, err := mapHuge(n, unix.PROT_READ|unix.PROT_WRITE)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		start := uintptr(unsafe.Pointer(&mem[0]))
		base := uintptr(unsafe.Pointer(&mapping[0]))
		if len(mem) != n || cap(mem) != n {
			t.Errorf("%d bytes: got len %d cap %d", n, len(mem), cap(mem))
		}
		if start%hugePage != 0 {
			t.Errorf("%d bytes: start %#x is not huge-page aligned", n, start)
		}
		if start < base || start+uintptr(n) > base+uintptr(len(mapping)) {
			t.Errorf("%d bytes: [%#x, +%d) lies outside the mapping [%#x, +%d)", n, start, n, base, len(mapping))
		}
		mem[0], mem[n-1] = 1, 2 // writable from end to end
		if !all(mem[1:n-1], 0) {
			t.Errorf("%d bytes: fresh memory is not zero", n)
		}
		if err := unix.Munmap(mapping); err != nil {
			t.Errorf("%d bytes: unmap: %v", n, err)
		}
	}
}

func TestZeroPages(t *testing.T) {
	zero, err := zeroPages()
	if err != nil {
		t.Fatal(err)
	}
	if len(zero) != maxPassChunk || uintptr(unsafe.Pointer(&zero[0]))%4096 != 0 {
		t.Errorf("zero pages: %d bytes at %p, want %d page-aligned bytes", len(zero), &zero[0], maxPassChunk)
	}
	if !all(zero, 0) {
		t.Error("the zero pages are not all zeros")
	}
	again, err := zeroPages()
	if err != nil || &again[0] != &zero[0] {
		t.Error("the zero pages are mapped again rather than shared")
	}
}
