package generic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

func TestMetadataRanges(t *testing.T) {
	const disk = 64 * mib
	tests := []struct {
		name  string
		parts []partition
		size  int64
		want  []metadataRange
	}{
		{"no partitions", nil, disk, []metadataRange{
			{span{0, mib}, []string{"disk head"}},
			{span{disk - mib, mib}, []string{"disk tail"}},
		}},
		{"a disk of 2 MiB or less is zeroed whole", nil, 2 * mib, []metadataRange{
			{span{0, 2 * mib}, []string{"disk"}},
		}},
		{"a partition right after the disk head, another touching the first", []partition{
			{"p1", mib, 20 * mib}, {"p2", 21 * mib, 20 * mib},
		}, disk, []metadataRange{
			{span{0, 2 * mib}, []string{"disk head", "partition p1 head"}},
			{span{20 * mib, 2 * mib}, []string{"partition p1 tail", "partition p2 head"}},
			{span{40 * mib, mib}, []string{"partition p2 tail"}},
			{span{disk - mib, mib}, []string{"disk tail"}},
		}},
		{"the same partition from the kernel and, shifted, from the table; a small one at the end", []partition{
			{"p1", 4 * mib, 10 * mib}, {"GPT entry 1", 4*mib + 512, 10 * mib}, {"p2", disk - mib - 4096, mib},
		}, disk, []metadataRange{
			{span{0, mib}, []string{"disk head"}},
			{span{4 * mib, mib + 512}, []string{"partition p1 head", "partition GPT entry 1 head"}},
			{span{13 * mib, mib + 512}, []string{"partition p1 tail", "partition GPT entry 1 tail"}},
			{span{disk - mib - 4096, mib + 4096}, []string{"partition p2", "disk tail"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := metadataRanges(tt.parts, tt.size)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(metadataRange{}, span{})); diff != "" {
				t.Errorf("ranges (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWindowReader reads the places the partition-table readers read
// through a windowReader over a plain file: the bytes must be the file's,
// and each window must be read once.
func TestWindowReader(t *testing.T) {
	const size = 3*readWindow + 1536 // not a whole number of windows
	content := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	file := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(file, content, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := openDevice(func(p string) (*os.File, error) { return os.Open(p) }, file)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r := newWindowReader(d)
	reads := []struct {
		name    string
		off, n  int64
		windows int // windows read so far
		err     error
	}{
		{"MBR", 0, 512, 1, nil},
		{"GPT header", 512, 92, 1, nil},
		{"GPT entries", 1024, 16384, 1, nil},
		{"across two windows", readWindow - 100, 200, 2, nil},
		{"backup GPT header", size - 512, 92, 3, nil},
		{"backup GPT entries, in the last two windows", size - 33*512, 32 * 512, 4, nil},
		{"the MBR again", 0, 512, 4, nil},
		{"past the end", size - 10, 20, 4, io.EOF},
		{"beyond the disk", size + readWindow, 10, 4, io.EOF},
	}
	for _, rd := range reads {
		p := make([]byte, rd.n)
		n, err := r.ReadAt(p, rd.off)
		if !errors.Is(err, rd.err) {
			t.Errorf("%s: error %v, want %v", rd.name, err, rd.err)
		}
		want := content[min(rd.off, size):min(rd.off+rd.n, size)]
		if !bytes.Equal(p[:n], want) {
			t.Errorf("%s: read %d bytes that differ from the disk's %d", rd.name, n, len(want))
		}
		if got := len(r.windows); got != rd.windows {
			t.Errorf("%s: %d windows read, want %d", rd.name, got, rd.windows)
		}
	}
	if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("read at a negative offset succeeded")
	}
}

// TestEraseDevicesMetadataConcurrentLoop erases four loop devices in one
// step: each disk's open waits until every disk has been opened, which
// only a concurrent erase gets past, and one disk's open fails, which
// must be reported for that disk alone while the others are erased.
func TestEraseDevicesMetadataConcurrentLoop(t *testing.T) {
	var disks []loopDisk
	var devs []string
	for range 4 {
		ld := newLoopDisk(t, 48*mib, false, writeGPT)
		disks = append(disks, ld)
		devs = append(devs, ld.dev)
	}
	failing := devs[2]
	m, _ := liveManager(t, devs...)
	var mu sync.Mutex
	opened := map[string]bool{}
	allOpen := make(chan struct{})
	m.open = func(path string) (*os.File, error) {
		mu.Lock()
		opened[path] = true
		if len(opened) == len(devs) {
			close(allOpen)
		}
		mu.Unlock()
		select {
		case <-allOpen:
		case <-time.After(10 * time.Second):
			t.Errorf("%s: the other disks were not opened meanwhile: the erase is not concurrent", path)
		}
		if path == failing {
			return nil, errors.New("injected open failure")
		}
		return openForWrite(path)
	}
	_, err := m.Execute(context.Background(), sdk.ExecuteRequest{Method: stepEraseMetadata, Kind: sdk.StepKindClean, Node: json.RawMessage(`{"uuid": "test"}`)})
	if sdk.TypeOf(err) != "BlockDeviceEraseError" {
		t.Fatalf("error %v (%s), want BlockDeviceEraseError", err, sdk.TypeOf(err))
	}
	want := `Failed to conduct metadata erase on device(s): "` + failing + `": injected open failure`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
	for _, ld := range disks {
		head, tail := readAt(t, ld.file, 0, 2*mib), readAt(t, ld.file, ld.size-mib, mib)
		if ld.dev == failing {
			if !bytes.Equal(head[512:520], []byte("EFI PART")) {
				t.Errorf("%s: the failing disk's GPT was touched", ld.dev)
			}
			continue
		}
		if !all(head, 0) || !all(tail, 0) {
			t.Errorf("%s: not erased", ld.dev)
		}
		if !all(readAt(t, ld.file, 45*mib, mib), pattern) {
			t.Errorf("%s: data outside the metadata areas was changed", ld.dev)
		}
	}
}
