package image

import (
	"bytes"
	"context"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/metalagent/metalagent/plugin-sdk/sdktest/loopdev"
)

// TestAlignedPrefix checks what part of a write direct I/O can take.
func TestAlignedPrefix(t *testing.T) {
	buf, err := allocBuffer(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = freeBuffer(buf) })
	w := &deviceWriter{align: 512}
	tests := []struct {
		name string
		p    []byte
		off  int64
		want int
	}{
		{"whole buffer at 0", buf, 0, 1 << 20},
		{"whole buffer at a multiple", buf, 4 << 20, 1 << 20},
		{"tail cut to blocks", buf[:1000], 512, 512},
		{"shorter than a block", buf[:100], 0, 0},
		{"unaligned offset", buf, 100, 0},
		{"unaligned memory", buf[1:513], 0, 0},
		{"aligned memory inside the buffer", buf[512:1536], 0, 1024},
		{"empty", buf[:0], 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := w.alignedPrefix(tc.p, tc.off); got != tc.want {
				t.Errorf("alignedPrefix = %d, want %d", got, tc.want)
			}
		})
	}
}

// directFlags returns whether O_DIRECT is set on f.
func directFlags(t *testing.T, f *os.File) bool {
	t.Helper()
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	return flags&unix.O_DIRECT != 0
}

// TestDeviceWriterLoop writes through O_DIRECT to a loop device: aligned
// writes stay direct, the first unaligned one turns direct I/O off for the
// rest, and the device holds every byte either way.
func TestDeviceWriterLoop(t *testing.T) {
	loopdev.Require(t)
	const size = 8 << 20
	dev := loopdev.Attach(t, loopdev.NewFile(t, size, 0), false)
	buf, err := allocBuffer(2 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = freeBuffer(buf) })
	r := testImage(len(buf))
	copy(buf, r)

	type write struct {
		p   []byte
		off int64
	}
	tests := []struct {
		name       string
		writes     []write
		wantDirect bool
	}{
		{"aligned writes stay direct", []write{{buf, 0}, {buf[:1<<20], 2 << 20}}, true},
		{"unaligned tail goes through the cache", []write{{buf, 0}, {buf[:1<<20+100], 2 << 20}}, false},
		{"unaligned offset", []write{{buf[:4096], 100}, {buf, 1 << 20}}, false},
		{"unaligned memory", []write{{buf[1:4097], 0}}, false},
		{"tail shorter than a block", []write{{buf[:7], 3 << 20}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.OpenFile(dev, os.O_WRONLY|unix.O_DIRECT, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w := newDeviceWriter(f, true, hclog.NewNullLogger())
			if w.align != 512 {
				t.Errorf("align = %d, want the loop device's 512", w.align)
			}
			want := make([]byte, size)
			old, err := os.ReadFile(dev)
			if err != nil {
				t.Fatal(err)
			}
			copy(want, old)
			for _, wr := range tc.writes {
				n, err := w.WriteAt(wr.p, wr.off)
				if err != nil || n != len(wr.p) {
					t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", len(wr.p), wr.off, n, err)
				}
				copy(want[wr.off:], wr.p)
			}
			if w.direct != tc.wantDirect || directFlags(t, f) != tc.wantDirect {
				t.Errorf("direct = %v, O_DIRECT on the file %v; want %v", w.direct, directFlags(t, f), tc.wantDirect)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(dev)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Error("the device does not hold what was written")
			}
		})
	}
}

// TestWriteOpensDirect checks that Write opens a block device with
// O_DIRECT and, when the kernel refuses that, opens it again without and
// still writes the image.
func TestWriteOpensDirect(t *testing.T) {
	loopdev.Require(t)
	data := testImage(5<<20 + 1234)
	url := serve(t, &imageServer{data: data, ranges: true}).URL + "/image.raw"
	info := Info{ID: "img-1", URLs: []string{url}, OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)}
	tests := []struct {
		name       string
		refuse     bool
		wantDirect []bool // O_DIRECT in each open's flags
	}{
		{"direct", false, []bool{true}},
		{"refused, buffered", true, []bool{true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dev := loopdev.Attach(t, loopdev.NewFile(t, 8<<20, 0), false)
			opts := testOptions(t)
			var mu sync.Mutex
			var opened []bool
			opts.open = func(name string, flag int, perm os.FileMode) (*os.File, error) {
				mu.Lock()
				opened = append(opened, flag&syscall.O_DIRECT != 0)
				mu.Unlock()
				if tc.refuse && flag&syscall.O_DIRECT != 0 {
					return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EINVAL}
				}
				return os.OpenFile(name, flag, perm)
			}
			if _, err := Write(context.Background(), info, dev, opts); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if len(opened) != len(tc.wantDirect) {
				t.Fatalf("opens with O_DIRECT %v, want %v", opened, tc.wantDirect)
			}
			for i := range opened {
				if opened[i] != tc.wantDirect[i] {
					t.Fatalf("opens with O_DIRECT %v, want %v", opened, tc.wantDirect)
				}
			}
			got := loopdev.ReadAt(t, dev, 0, int64(len(data)))
			if !bytes.Equal(got, data) {
				t.Error("the device does not hold the image")
			}
		})
	}
}
