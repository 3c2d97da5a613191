package generic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/sdktest/loopdev"
)

// These tests write to loop devices they create. They need root and a
// working losetup and are skipped otherwise.

// pattern fills the test disks, so that zeroed ranges stand out.
const pattern = 0xA5

// The GPT layout of the test disks, in bytes.
var testLayout = []struct{ start, size int64 }{{1 * mib, 20 * mib}, {21 * mib, 20 * mib}}

// loopDisk is a loop device over a file in the test's temporary directory.
type loopDisk struct {
	dev, file string
	size      int64
}

func requireLoop(t *testing.T) {
	t.Helper()
	loopdev.Require(t)
}

// newLoopDisk makes a file of size bytes, lets prepare write to it, and
// attaches it to a free loop device, detached when the test ends.
func newLoopDisk(t *testing.T, size int64, partscan bool, prepare func(t *testing.T, file string)) loopDisk {
	t.Helper()
	requireLoop(t)
	file := loopdev.NewFile(t, size, pattern)
	if prepare != nil {
		prepare(t, file)
	}
	return loopDisk{dev: loopdev.Attach(t, file, partscan), file: file, size: size}
}

// writeGPT writes the test layout's GPT (with sgdisk when there is one)
// and file-system, swap, LVM and md signatures inside it.
func writeGPT(t *testing.T, file string) {
	t.Helper()
	if _, err := exec.LookPath("sgdisk"); err == nil {
		out, err := exec.Command("sgdisk", "-n", "1:2048:+20M", "-n", "2:0:+20M", file).CombinedOutput()
		if err != nil {
			t.Fatalf("sgdisk: %v: %s", err, out)
		}
	} else {
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		im := make(image, 34*512)
		im.putMBREntry(0, 0, 0, 0xEE, 1, uint32(st.Size()/512-1))
		im.putGPT(512, 1, 2, [2]uint64{2048, 43007}, [2]uint64{43008, 83967})
		writeAt(t, file, 0, im)
		tail := make(image, 34*512)
		copy(tail[33*512:], "EFI PART")
		writeAt(t, file, st.Size()-34*512, tail)
	}
	p1, p2 := testLayout[0].start, testLayout[1].start
	writeAt(t, file, p1+1080, []byte{0x53, 0xEF})      // ext4
	writeAt(t, file, p2+512, []byte("LABELONE"))       // LVM
	writeAt(t, file, p2+4096-10, []byte("SWAPSPACE2")) // swap
	writeAt(t, file, p2+20*mib-8192, []byte{0xfc, 0x4e, 0x2b, 0xa9})
}

func writeAt(t *testing.T, file string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func readAt(t *testing.T, file string, off, n int64) []byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

func all(b []byte, v byte) bool { return len(bytes.Trim(b, string([]byte{v}))) == 0 }

// kernelPartitions lists the kernel's partitions of the loop device.
func kernelPartitions(t *testing.T, dev string) []string {
	t.Helper()
	name := filepath.Base(dev)
	matches, _ := filepath.Glob(filepath.Join("/sys/class/block", name, name+"p*"))
	return matches
}

// liveManager returns a manager of the running machine limited to the
// given disks, recording every device it opens for writing.
func liveManager(t *testing.T, disks ...string) (*Manager, func() []string) {
	t.Helper()
	m := newManager(liveSystem(), testLogger(t))
	if _, err := m.EvaluateHardwareSupport(context.Background(), sdk.HostConfig{AllowedDisks: disks}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var opened []string
	m.open = func(path string) (*os.File, error) {
		mu.Lock()
		opened = append(opened, path)
		mu.Unlock()
		return openForWrite(path)
	}
	return m, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), opened...)
	}
}

func TestEraseDevicesMetadataLoop(t *testing.T) {
	tests := []struct {
		name     string
		partscan bool
	}{
		{"partitions known to the kernel", true},
		{"partitions only on disk", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ld := newLoopDisk(t, 64*mib, tt.partscan, writeGPT)
			if tt.partscan && len(kernelPartitions(t, ld.dev)) == 0 {
				// A kernel without a GPT parser: add them by hand.
				if out, err := exec.Command("partx", "--add", ld.dev).CombinedOutput(); err != nil {
					t.Skipf("partx --add: %v: %s", err, out)
				}
			}
			if tt.partscan {
				if parts := kernelPartitions(t, ld.dev); len(parts) != 2 {
					t.Fatalf("kernel partitions before the erase: %v", parts)
				}
				if _, err := exec.LookPath("mkfs.ext4"); err == nil {
					if out, err := exec.Command("mkfs.ext4", "-q", "-F", ld.dev+"p1").CombinedOutput(); err != nil {
						t.Fatalf("mkfs.ext4: %v: %s", err, out)
					}
				}
			}
			m, opened := liveManager(t, ld.dev)
			res, err := m.Execute(context.Background(), sdk.ExecuteRequest{Method: "erase_devices_metadata", Kind: sdk.StepKindClean, Node: json.RawMessage(`{"uuid": "test"}`)})
			if err != nil {
				t.Fatalf("erase_devices_metadata: %v", err)
			}
			if string(res) != "null" {
				t.Errorf("result %s, want null", res)
			}
			if got := opened(); len(got) != 1 || got[0] != ld.dev {
				t.Errorf("opened %v, want only %s", got, ld.dev)
			}
			type area struct {
				what     string
				off, len int64
			}
			zeroed := []area{{"disk head", 0, mib}, {"disk tail", ld.size - mib, mib}}
			for _, p := range testLayout {
				zeroed = append(zeroed, area{"partition head", p.start, mib}, area{"partition tail", p.start + p.size - mib, mib})
			}
			for _, z := range zeroed {
				if b := readAt(t, ld.file, z.off, z.len); !all(b, 0) {
					t.Errorf("%s at %d not zeroed", z.what, z.off)
				}
			}
			if !all(readAt(t, ld.file, 45*mib, mib), pattern) {
				t.Error("data outside the metadata areas was changed")
			}
			if tt.partscan {
				if parts := kernelPartitions(t, ld.dev); len(parts) != 0 {
					t.Errorf("kernel still has partitions %v after the re-read", parts)
				}
			}
			if _, err := exec.LookPath("wipefs"); err == nil {
				out, err := exec.Command("wipefs", "--no-act", "--noheadings", ld.dev).CombinedOutput()
				if err != nil || len(bytes.TrimSpace(out)) != 0 {
					t.Errorf("wipefs still finds signatures: %v: %s", err, out)
				}
			}
		})
	}
}

// eraseBlockDeviceReq asks for erase_block_device of dev with the node's
// driver_internal_info info (a JSON object), as the host's erase_devices
// clean step does.
func eraseBlockDeviceReq(dev, info string) sdk.ExecuteRequest {
	return sdk.ExecuteRequest{
		Method: sdk.MethodEraseBlockDevice, Kind: sdk.StepKindClean,
		Args: json.RawMessage(`{"block_device": {"name": "` + dev + `", "size": 1}}`),
		Node: json.RawMessage(`{"uuid": "test", "driver_internal_info": ` + info + `}`),
	}
}

// eraseRequests are the requests of the erase steps and methods for dev.
func eraseRequests(dev string) map[string]sdk.ExecuteRequest {
	return map[string]sdk.ExecuteRequest{
		stepEraseMetadata:          {Method: stepEraseMetadata, Kind: sdk.StepKindClean},
		stepEraseExpress:           {Method: stepEraseExpress, Kind: sdk.StepKindClean},
		sdk.MethodEraseBlockDevice: eraseBlockDeviceReq(dev, `{}`),
	}
}

func TestEraseBlockDeviceLoop(t *testing.T) {
	tests := []struct {
		name      string
		info      string
		wantZero  bool
		wantWrite bool
	}{
		{"random then zero (IPA default)", `{}`, true, true},
		{"zero only", `{"agent_erase_devices_iterations": 0}`, true, true},
		{"random only", `{"agent_erase_devices_iterations": 1, "agent_erase_devices_zeroize": false}`, false, true},
		{"two random passes, strings", `{"agent_erase_devices_iterations": "2", "agent_erase_devices_zeroize": "false"}`, false, true},
		{"nothing", `{"agent_erase_devices_iterations": 0, "agent_erase_devices_zeroize": false}`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ld := newLoopDisk(t, 64*mib+4096, false, writeGPT)
			other := newLoopDisk(t, 16*mib, false, nil)
			m, opened := liveManager(t, ld.dev, other.dev)
			res, err := m.Execute(context.Background(), eraseBlockDeviceReq(ld.dev, tt.info))
			if err != nil {
				t.Fatalf("erase_block_device: %v", err)
			}
			if string(res) != "null" {
				t.Errorf("result %s, want null", res)
			}
			if got := opened(); tt.wantWrite && (len(got) != 1 || got[0] != ld.dev) {
				t.Errorf("opened %v, want only %s", got, ld.dev)
			}
			data := readAt(t, ld.file, 0, ld.size)
			if got := all(data, 0); got != tt.wantZero {
				t.Errorf("all zero = %v, want %v", got, tt.wantZero)
			}
			unchanged := 0
			for off := 0; off < len(data); off += 4096 {
				if all(data[off:off+4096], pattern) {
					unchanged++
				}
			}
			if tt.wantWrite && unchanged > 0 {
				t.Errorf("%d blocks of 4 KiB were not overwritten", unchanged)
			}
			if !tt.wantWrite && unchanged < len(data)/4096-20 {
				t.Errorf("the disk was written although no pass was asked for")
			}
			if !all(readAt(t, other.file, 0, other.size), pattern) {
				t.Error("erase_block_device wrote to another disk")
			}
		})
	}
}

func TestEraseBlockDeviceReadOnly(t *testing.T) {
	if _, err := exec.LookPath("blockdev"); err != nil {
		t.Skip("needs blockdev")
	}
	ld := newLoopDisk(t, 16*mib, false, nil)
	if out, err := exec.Command("blockdev", "--setro", ld.dev).CombinedOutput(); err != nil {
		t.Skipf("blockdev --setro: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("blockdev", "--setrw", ld.dev).Run() })
	m, opened := liveManager(t, ld.dev)
	_, err := m.Execute(context.Background(), eraseBlockDeviceReq(ld.dev, `{}`))
	if sdk.TypeOf(err) != "BlockDeviceEraseError" || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("read-only disk: %v (%s), want a BlockDeviceEraseError about read-only", err, sdk.TypeOf(err))
	}
	res, err := m.Execute(context.Background(), eraseBlockDeviceReq(ld.dev, `{"agent_erase_skip_read_only": true}`))
	if err != nil || string(res) != "null" {
		t.Errorf("read-only disk with agent_erase_skip_read_only: %s, %v; want null", res, err)
	}
	if got := opened(); len(got) != 0 {
		t.Errorf("opened %v for writing", got)
	}
	if !all(readAt(t, ld.file, 0, ld.size), pattern) {
		t.Error("a read-only disk was written")
	}
}

func TestEraseDevicesCancelled(t *testing.T) {
	ld := newLoopDisk(t, 16*mib, false, nil)
	m, _ := liveManager(t, ld.dev)
	for method, req := range eraseRequests(ld.dev) {
		ctx, cancel := context.WithCancel(context.Background())
		m.open = func(path string) (*os.File, error) {
			cancel() // the step is cancelled right after it opens the disk
			return openForWrite(path)
		}
		_, err := m.Execute(ctx, req)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: error %v, want context.Canceled", method, err)
		}
	}
	if !all(readAt(t, ld.file, 0, ld.size), pattern) {
		t.Error("a cancelled step wrote to the disk")
	}
}

// rootDisk returns the /dev path of the whole disk holding the root file
// system, or "" when it is not on a plain disk (overlay, tmpfs, dm).
func rootDisk(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	id := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && fields[4] == "/" {
			id = fields[2]
		}
	}
	link, err := os.Readlink(filepath.Join("/sys/dev/block", id))
	if id == "" || err != nil {
		return ""
	}
	dir := filepath.Join("/sys/dev/block", link)
	if exists(filepath.Join(dir, "partition")) {
		dir = filepath.Dir(dir)
	}
	name := filepath.Base(dir)
	if strings.HasPrefix(name, "dm-") || strings.HasPrefix(name, "md") || strings.HasPrefix(name, "loop") {
		return ""
	}
	return devPath(name)
}

func TestEraseRefusesRootDisk(t *testing.T) {
	requireLoop(t)
	root := rootDisk(t)
	if root == "" {
		t.Skip("the root file system is not on a plain disk")
	}
	ld := newLoopDisk(t, 64*mib, false, writeGPT)
	// The first KiB of a disk with a file system on it never changes; the
	// machine may forbid reading the root disk, in which case the open hook
	// alone proves nothing was written.
	before := make([]byte, 1024)
	f, readErr := os.Open(root)
	if readErr == nil {
		_, readErr = f.ReadAt(before, 0)
		f.Close()
	}
	if readErr != nil {
		t.Logf("cannot read %s (%v): checking the open hook only", root, readErr)
	}
	m, opened := liveManager(t, root, ld.dev)
	for method, req := range eraseRequests(root) {
		_, err := m.Execute(context.Background(), req)
		if sdk.TypeOf(err) != "ProtectedDeviceError" || !strings.Contains(err.Error(), root) {
			t.Errorf("%s: error %v (%s), want a ProtectedDeviceError naming %s", method, err, sdk.TypeOf(err), root)
		}
	}
	if got := opened(); len(got) != 0 {
		t.Errorf("devices opened for writing: %v; the refusal must come first", got)
	}
	if readErr == nil {
		if after := readAt(t, root, 0, 1024); !bytes.Equal(before, after) {
			t.Errorf("the root disk's first KiB changed")
		}
	}
	if !all(readAt(t, ld.file, 2*mib, mib), pattern) || !bytes.Equal(readAt(t, ld.file, 512, 8), []byte("EFI PART")) {
		t.Error("the loop device was written although the step was refused")
	}
}

func TestEraseOutsideAllowList(t *testing.T) {
	inside := newLoopDisk(t, 64*mib, false, writeGPT)
	outside := newLoopDisk(t, 64*mib, false, writeGPT)
	want := readAt(t, outside.file, 0, outside.size)
	m, opened := liveManager(t, inside.dev)
	for method, req := range eraseRequests(inside.dev) {
		if _, err := m.Execute(context.Background(), req); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
	}
	_, err := m.Execute(context.Background(), eraseBlockDeviceReq(outside.dev, `{}`))
	if sdk.TypeOf(err) != "ProtectedDeviceError" || !strings.Contains(err.Error(), "allow-list") {
		t.Errorf("erase_block_device outside the allow-list: %v (%s), want ProtectedDeviceError", err, sdk.TypeOf(err))
	}
	if got := readAt(t, outside.file, 0, outside.size); !bytes.Equal(got, want) {
		t.Error("a disk outside the allow-list was written")
	}
	if !all(readAt(t, inside.file, 0, inside.size), 0) {
		t.Error("the allowed disk was not erased")
	}
	for _, p := range opened() {
		if p != inside.dev {
			t.Errorf("opened %s, which is not on the allow-list", p)
		}
	}
}
