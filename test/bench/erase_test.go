//go:build bench

package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/sdktest/loopdev"
	"github.com/metalagent/metalagent/plugins/generic"
)

// benchDiskSize is the size of each loop device of the erase benchmarks.
const benchDiskSize = 256 << 20

// benchDisk attaches a loop device over a new file of benchDiskSize bytes,
// detached when the benchmark ends. With directIO it turns on the loop
// driver's direct I/O to the file, so that writes reach the file's disk
// rather than stopping in the page cache, and reports whether that worked
// (the backing file system may refuse).
func benchDisk(b *testing.B, partscan, directIO bool) (dev string, on bool) {
	b.Helper()
	dev = loopdev.Attach(b, loopdev.NewFile(b, benchDiskSize, 0xA5), partscan)
	if !directIO {
		return dev, false
	}
	if out, err := exec.Command("losetup", "--direct-io=on", dev).CombinedOutput(); err != nil {
		b.Logf("losetup --direct-io=on %s: %v: %s (measuring without)", dev, err, strings.TrimSpace(string(out)))
		return dev, false
	}
	return dev, true
}

// benchManager returns the generic manager, logging to /dev/null, with
// devs as the disk allow-list (loop devices count as disks only then).
func benchManager(b *testing.B, devs ...string) *generic.Manager {
	b.Helper()
	var m *generic.Manager
	quietly(b, func() { m = generic.New() })
	if _, err := m.EvaluateHardwareSupport(context.Background(), sdk.HostConfig{AllowedDisks: devs}); err != nil {
		b.Fatal(err)
	}
	return m
}

// Partitions of the prepared disks, in 512-byte sectors.
var benchParts = [2]struct{ start, sectors uint32 }{{2048, 100 << 11}, {2048 + 100<<11, 100 << 11}}

// prepareDisk writes, through the device, an MBR with two 100 MiB Linux
// partitions, an ext4 superblock magic in the first, an LVM label and a
// swap signature in the second, flushes, and has the kernel read the
// table (so that with partition scanning it has the partitions too).
func prepareDisk(b *testing.B, dev string) {
	b.Helper()
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	mbr := make([]byte, 512)
	for i, p := range benchParts {
		e := mbr[446+16*i:]
		e[4] = 0x83
		binary.LittleEndian.PutUint32(e[8:], p.start)
		binary.LittleEndian.PutUint32(e[12:], p.sectors)
	}
	mbr[510], mbr[511] = 0x55, 0xAA
	p1, p2 := int64(benchParts[0].start)*512, int64(benchParts[1].start)*512
	for _, w := range []struct {
		off  int64
		data []byte
	}{
		{0, mbr},
		{p1 + 1080, []byte{0x53, 0xEF}},        // ext4 magic
		{p2 + 512, []byte("LABELONE")},         // LVM label
		{p2 + 4096 - 10, []byte("SWAPSPACE2")}, // swap signature (4 KiB pages)
		{p2 + int64(benchParts[1].sectors)*512 - 8192, []byte{0xfc, 0x4e, 0x2b, 0xa9}}, // md 0.90 magic
	} {
		if _, err := f.WriteAt(w.data, w.off); err != nil {
			b.Fatalf("prepare %s: %v", dev, err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := unix.IoctlSetInt(int(f.Fd()), unix.BLKRRPART, 0); err != nil {
		b.Fatalf("BLKRRPART %s: %v", dev, err)
	}
}

// mbrSignature reads the MBR signature of dev.
func mbrSignature(b *testing.B, dev string) []byte {
	b.Helper()
	f, err := os.Open(dev)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sig := make([]byte, 2)
	if _, err := f.ReadAt(sig, 510); err != nil {
		b.Fatal(err)
	}
	return sig
}

// BenchmarkEraseDevicesMetadata measures the generic manager's
// erase_devices_metadata step on four 256 MiB loop devices, each prepared
// before every run with an MBR, two partitions the kernel knows, and file
// system, LVM, swap and md signatures; with the loop driver's default
// (buffered: writes land in the backing file's page cache until the step's
// fsync) and with its direct I/O (every write reaches the disk). Only the
// step is timed; each run checks that the partition tables are gone.
func BenchmarkEraseDevicesMetadata(b *testing.B) {
	loopdev.Require(b)
	for _, directIO := range []bool{false, true} {
		name := "buffered-loop"
		if directIO {
			name = "direct-io-loop"
		}
		b.Run(name, func(b *testing.B) { eraseMetadata(b, directIO) })
	}
}

// eraseMetadata is one case of BenchmarkEraseDevicesMetadata.
func eraseMetadata(b *testing.B, directIO bool) {
	devs := make([]string, 4)
	allOn := true
	for i := range devs {
		var on bool
		devs[i], on = benchDisk(b, true, directIO)
		allOn = allOn && on
	}
	m := benchManager(b, devs...)
	req := sdk.ExecuteRequest{Method: "erase_devices_metadata", Kind: sdk.StepKind("clean"), Node: json.RawMessage(`{"uuid":"bench"}`)}
	var runs []time.Duration
	for b.Loop() {
		b.StopTimer()
		for _, d := range devs {
			prepareDisk(b, d)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := m.Execute(context.Background(), req); err != nil {
			b.Fatalf("erase_devices_metadata: %v", err)
		}
		runs = append(runs, time.Since(start))
		b.StopTimer()
		for _, d := range devs {
			if sig := mbrSignature(b, d); sig[0] != 0 || sig[1] != 0 {
				b.Fatalf("%s: MBR signature %x after the erase", d, sig)
			}
		}
		b.StartTimer()
	}
	figure("erase_devices_metadata",
		"disks", len(devs), "disk_size", "256MiB", "loop_direct_io", onOff(allOn),
		"median", ms(median(runs)), "max", ms(slicesMax(runs)), "target", "<=100ms",
		"runs", len(runs), "gomaxprocs", runtime.GOMAXPROCS(0), "load", loadAvg())
}

// BenchmarkOverwrite measures one overwrite pass of the generic manager's
// erase_block_device over a 256 MiB loop device, a zero pass and a
// pseudo-random (AES-CTR) pass, beside dd if=/dev/zero of=DEV bs=4M
// oflag=direct (count=64, the whole device) on the same device in the same
// iterations (the three in turn, their order rotating). Beside the ratios
// of the totals it gives the median of the iterations' ratios. Each of
// the manager's figures covers the whole method: the disk listing and
// in-use check, the pass, fsync and the partition re-read. The agent runs
// plugins with GOMAXPROCS=1; the figures say which setting they ran with
// (run with GOMAXPROCS=1 in the environment to match the agent).
func BenchmarkOverwrite(b *testing.B) {
	loopdev.Require(b)
	if _, err := exec.LookPath("dd"); err != nil {
		b.Skip("needs dd")
	}
	dev, directIO := benchDisk(b, false, true)
	m := benchManager(b, dev)
	args := json.RawMessage(fmt.Sprintf(`{"block_device":{"name":%q}}`, dev))
	pass := func(iterations int, zeroize bool) func() error {
		req := sdk.ExecuteRequest{
			Method: "erase_block_device", Kind: sdk.StepKind("clean"), Args: args,
			Node: json.RawMessage(fmt.Sprintf(`{"uuid":"bench","driver_internal_info":{"agent_erase_devices_iterations":%d,"agent_erase_devices_zeroize":%t}}`, iterations, zeroize)),
		}
		return func() error {
			_, err := m.Execute(context.Background(), req)
			return err
		}
	}
	ways := []struct {
		name string
		run  func() error
	}{
		{"dd", func() error {
			// count stops dd at the end of the device: without it dd
			// writes until ENOSPC and fails.
			out, err := exec.Command("dd", "if=/dev/zero", "of="+dev, "bs=4M", "oflag=direct", fmt.Sprintf("count=%d", benchDiskSize/(4<<20))).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		}},
		{"zero", pass(0, true)},
		{"random", pass(1, false)},
	}
	total := make([]time.Duration, len(ways))
	// Each iteration's ratio of a pass to the dd beside it: the machine's
	// other load changes less within an iteration than over the run.
	var zeroRatios, randomRatios []float64
	n := 0
	for b.Loop() {
		took := make([]time.Duration, len(ways))
		for k := range ways {
			i := (k + n) % len(ways)
			start := time.Now()
			if err := ways[i].run(); err != nil {
				b.Fatalf("%s: %v", ways[i].name, err)
			}
			took[i] = time.Since(start)
			total[i] += took[i]
		}
		zeroRatios = append(zeroRatios, took[0].Seconds()/took[1].Seconds())
		randomRatios = append(randomRatios, took[0].Seconds()/took[2].Seconds())
		n++
	}
	mbps := func(d time.Duration) float64 { return float64(benchDiskSize) * float64(n) / d.Seconds() / 1e6 }
	dd, zero, random := mbps(total[0]), mbps(total[1]), mbps(total[2])
	b.ReportMetric(dd, "MB/s-dd")
	b.ReportMetric(zero, "MB/s-zero")
	b.ReportMetric(random, "MB/s-random")
	figure("overwrite",
		"disk_size", "256MiB", "loop_direct_io", onOff(directIO),
		"dd_zero_4M_direct", fmt.Sprintf("%.0fMB/s", dd),
		"zero_pass", fmt.Sprintf("%.0fMB/s", zero), "zero_ratio", fmt.Sprintf("%.2f", zero/dd),
		"zero_ratio_median", fmt.Sprintf("%.2f", medianOf(zeroRatios)),
		"random_pass", fmt.Sprintf("%.0fMB/s", random), "random_ratio", fmt.Sprintf("%.2f", random/dd),
		"random_ratio_median", fmt.Sprintf("%.2f", medianOf(randomRatios)),
		"target_ratio", ">=0.9", "runs", n, "gomaxprocs", runtime.GOMAXPROCS(0), "load", loadAvg())
}

// medianOf returns the middle of xs (the upper middle for an even count),
// 0 for none.
func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// onOff spells a setting.
func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
