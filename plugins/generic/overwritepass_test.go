package generic

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/sdktest/loopdev"
)

// openLoop opens the loop device for a pass, as the overwrite does.
func openLoop(t *testing.T, dev string) *device {
	t.Helper()
	d, err := openDevice(openForWrite, dev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// runPass runs one pass of kind ("zero" or "random") over d with writes of
// chunk bytes; a random pass gets a new keystream and bufs, or buffers of
// its own when bufs is nil.
func runPass(t *testing.T, ctx context.Context, d *device, kind string, chunk int64, bufs *randomBuffers, progress func(int64)) error {
	t.Helper()
	if kind == "zero" {
		return d.zeroPass(ctx, chunk, progress)
	}
	if bufs == nil {
		var err error
		if bufs, err = newRandomBuffers(chunk); err != nil {
			t.Fatal(err)
		}
		defer bufs.Close()
	}
	ks, err := newKeystream()
	if err != nil {
		t.Fatal(err)
	}
	return d.randomPass(ctx, bufs, ks, progress)
}

// blockHashes returns the SHA-256 of each 4 KiB block of data.
func blockHashes(data []byte) [][32]byte {
	var out [][32]byte
	for off := 0; off < len(data); off += 4096 {
		out = append(out, sha256.Sum256(data[off:min(off+4096, len(data))]))
	}
	return out
}

// compressedRatio returns how much of its size data keeps under flate.
func compressedRatio(t *testing.T, data []byte) float64 {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return float64(buf.Len()) / float64(len(data))
}

func TestPassLoop(t *testing.T) {
	tests := []struct {
		name  string
		size  int64
		chunk int64
	}{
		{"whole writes", 32 * mib, zeroChunk},
		{"a last partial write", 20*mib + 4096, randomChunk},
		{"small writes", 9 * mib, mib},
		{"disk smaller than one write", 3 * mib, zeroChunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ld := newLoopDisk(t, tt.size, false, nil)
			d := openLoop(t, ld.dev)

			// Two random passes sharing their buffers, as the overwrite
			// runs them: each covers the disk with data that neither
			// repeats a 4 KiB block, within the pass or across the two,
			// nor compresses.
			bufs, err := newRandomBuffers(tt.chunk)
			if err != nil {
				t.Fatal(err)
			}
			defer bufs.Close()
			seen := map[[32]byte]string{}
			for pass := 1; pass <= 2; pass++ {
				var reported int64
				if err := runPass(t, context.Background(), d, "random", tt.chunk, bufs, func(w int64) { reported = w }); err != nil {
					t.Fatalf("random pass %d: %v", pass, err)
				}
				if reported != tt.size {
					t.Errorf("random pass %d: progress reported %d bytes written, want %d", pass, reported, tt.size)
				}
				data := readAt(t, ld.file, 0, ld.size)
				if all(data, 0) {
					t.Fatalf("random pass %d wrote only zeros", pass)
				}
				for i, h := range blockHashes(data) {
					where := fmt.Sprintf("pass %d block %d", pass, i)
					if prev, dup := seen[h]; dup {
						t.Fatalf("%s repeats %s", where, prev)
					}
					seen[h] = where
				}
				if r := compressedRatio(t, data); r < 0.99 {
					t.Errorf("random pass %d compresses to %.3f of its size", pass, r)
				}
			}

			var reported int64
			if err := runPass(t, context.Background(), d, "zero", tt.chunk, nil, func(w int64) { reported = w }); err != nil {
				t.Fatalf("zero pass: %v", err)
			}
			if reported != tt.size {
				t.Errorf("zero pass: progress reported %d bytes written, want %d", reported, tt.size)
			}
			if !all(readAt(t, ld.file, 0, ld.size), 0) {
				t.Error("the zero pass left non-zero bytes")
			}
		})
	}
}

func TestPassRejectsWriteSize(t *testing.T) {
	ld := newLoopDisk(t, 4*mib, false, nil)
	d := openLoop(t, ld.dev)
	for _, chunk := range []int64{0, -mib, mib + 100, 2 * maxPassChunk} {
		if err := d.zeroPass(context.Background(), chunk, nil); err == nil {
			t.Errorf("zero pass: write size %d accepted", chunk)
		}
		bufs, err := newRandomBuffers(chunk)
		if err != nil {
			continue
		}
		ks, err := newKeystream()
		if err != nil {
			t.Fatal(err)
		}
		if err := d.randomPass(context.Background(), bufs, ks, nil); err == nil {
			t.Errorf("random pass: write size %d accepted", chunk)
		}
		bufs.Close()
	}
	if !all(readAt(t, ld.file, 0, ld.size), pattern) {
		t.Error("a refused pass wrote to the disk")
	}
}

func TestPassCancelledLoop(t *testing.T) {
	const size, chunk, cancelAt = 64 * mib, mib, 8 * mib
	for _, kind := range []string{"zero", "random"} {
		t.Run(kind, func(t *testing.T) {
			ld := newLoopDisk(t, size, false, nil)
			d := openLoop(t, ld.dev)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var cancelled time.Time
			var after int64 // bytes reported written after the cancel
			err := runPass(t, ctx, d, kind, chunk, nil, func(w int64) {
				if cancelled.IsZero() && w >= cancelAt {
					cancelled = time.Now()
					cancel()
				} else if !cancelled.IsZero() {
					after = w - cancelAt
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want context.Canceled", err)
			}
			if cancelled.IsZero() {
				t.Fatal("the pass never reached the cancel point")
			}
			if d := time.Since(cancelled); d > 2*time.Second {
				t.Errorf("the pass returned %v after the cancel", d)
			}
			if after > 0 {
				t.Errorf("%d bytes written after the cancel", after)
			}
			// The cancel came between two writes: nothing may follow.
			data := readAt(t, ld.file, 0, size)
			if all(data[:cancelAt], pattern) {
				t.Error("nothing was written before the cancel")
			}
			for off := int64(cancelAt); off < size; off += chunk {
				if !all(data[off:off+chunk], pattern) {
					t.Errorf("written at offset %d, after the cancel at %d", off, cancelAt)
				}
			}
		})
	}
}

func TestPassCancelledBeforeStartLoop(t *testing.T) {
	ld := newLoopDisk(t, 4*mib, false, nil)
	d := openLoop(t, ld.dev)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, kind := range []string{"zero", "random"} {
		if err := runPass(t, ctx, d, kind, mib, nil, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("%s pass: error %v, want context.Canceled", kind, err)
		}
	}
	if !all(readAt(t, ld.file, 0, ld.size), pattern) {
		t.Error("a cancelled pass wrote to the disk")
	}
}

// smallTmpfsLoop attaches a loop device over a sparse file of size bytes
// on a tmpfs of room bytes mounted for the test, so that writes past
// about room bytes fail with ENOSPC. It returns the device and the file.
func smallTmpfsLoop(t *testing.T, size, room int64) (dev, file string) {
	t.Helper()
	requireLoop(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.FormatInt(room, 10)); err != nil {
		t.Skipf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	file = filepath.Join(dir, "disk.img")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(file, size); err != nil {
		t.Fatal(err)
	}
	return loopdev.Attach(t, file, false), file
}

var offsetRE = regexp.MustCompile(`write (\d+) bytes at offset (\d+)`)

func TestPassWriteErrorLoop(t *testing.T) {
	const size, room, chunk = 16 * mib, 4 * mib, mib
	for _, kind := range []string{"zero", "random"} {
		t.Run(kind, func(t *testing.T) {
			dev, file := smallTmpfsLoop(t, size, room)
			d := openLoop(t, dev)
			var written int64
			err := runPass(t, context.Background(), d, kind, chunk, nil, func(w int64) { written = w })
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("error %v, want ENOSPC", err)
			}
			m := offsetRE.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("error %q does not give the offset", err)
			}
			off, _ := strconv.ParseInt(m[2], 10, 64)
			if off != written {
				t.Errorf("failed at offset %d, but %d bytes were reported written", off, written)
			}
			if off <= 0 || off >= size || off%chunk != 0 {
				t.Errorf("failed at offset %d, want a write boundary inside the %d-byte disk", off, size)
			}
			var st unix.Stat_t
			if err := unix.Stat(file, &st); err != nil {
				t.Fatal(err)
			}
			if stored := st.Blocks * 512; stored < off {
				t.Errorf("the tmpfs holds %d bytes, less than the %d written before the failure", stored, off)
			}
		})
	}
}

func TestEraseBlockDeviceWriteErrorLoop(t *testing.T) {
	dev, _ := smallTmpfsLoop(t, 16*mib, 4*mib)
	m, _ := liveManager(t, dev)
	_, err := m.Execute(context.Background(), eraseBlockDeviceReq(dev, `{}`))
	if err == nil {
		t.Fatal("erase_block_device of a disk that runs out of space succeeded")
	}
	if sdk.TypeOf(err) != "BlockDeviceEraseError" {
		t.Errorf("error %v (%s), want a BlockDeviceEraseError", err, sdk.TypeOf(err))
	}
	msg := err.Error()
	if !strings.Contains(msg, "random pass 1 of 2") || offsetRE.FindString(msg) == "" || !strings.Contains(msg, "no space left") {
		t.Errorf("error %q does not name the pass, the offset and the cause", msg)
	}
}
