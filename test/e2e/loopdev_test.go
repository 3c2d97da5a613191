//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Layout of the node's disk: a sparse 1 GiB file behind a loop device,
// pre-filled with a GPT (primary at the start, backup at the end) and two
// small ext4 file systems, one near each end, plus a canary block in the
// middle that metadata cleaning must not touch. 1 GiB keeps the
// clean-erase phase, which overwrites the whole disk twice, to seconds;
// the node's root device hint (its name) lifts the 4 GiB minimum that
// applies to a disk chosen without hints.
const (
	sectorSize     = 512
	mib            = 1 << 20
	diskSize       = 1 << 30
	diskSectors    = diskSize / sectorSize
	headPartStart  = 2048                             // sector: 1 MiB
	partSectors    = 64 * mib / sectorSize            // 64 MiB each
	tailPartStart  = diskSectors - 2048 - partSectors // ends 1 MiB before the disk end
	canaryOffset   = diskSize / 2                     // byte offset of the canary block
	canarySize     = 4096
	ext4MagicAt    = 1080 // superblock (1024) + s_magic (56) inside a partition
	gptHeaderMagic = "EFI PART"
)

// loopDisk is the node's disk: a backing file attached to a loop device.
type loopDisk struct {
	file   string
	dev    string // /dev/loopN
	canary []byte
}

// signatureProbe is a known metadata signature at a fixed byte offset.
type signatureProbe struct {
	name   string
	offset int64
	magic  []byte
}

// preparedSignatures are the signatures the pre-fill writes; cleaning
// must remove every one of them.
var preparedSignatures = []signatureProbe{
	{"protective MBR (0x55AA at byte 510)", 510, []byte{0x55, 0xAA}},
	{"primary GPT header (LBA 1)", sectorSize, []byte(gptHeaderMagic)},
	{"backup GPT header (last LBA)", diskSize - sectorSize, []byte(gptHeaderMagic)},
	{"ext4 superblock of partition 1 (near the start)", headPartStart*sectorSize + ext4MagicAt, []byte{0x53, 0xEF}},
	{"ext4 superblock of partition 2 (near the end)", tailPartStart*sectorSize + ext4MagicAt, []byte{0x53, 0xEF}},
}

// newLoopDisk creates the sparse backing file in dir, pre-fills it and
// attaches it with partition scanning.
func newLoopDisk(ctx context.Context, dir string) (*loopDisk, error) {
	d := &loopDisk{file: filepath.Join(dir, "node-disk.img")}
	f, err := os.Create(d.file)
	if err != nil {
		return nil, err
	}
	err = f.Truncate(diskSize)
	f.Close()
	if err != nil {
		return nil, err
	}
	if err := d.prefill(ctx, d.file); err != nil {
		return nil, fmt.Errorf("pre-fill %s: %w", d.file, err)
	}
	out, err := runCommand(ctx, "losetup", "--find", "--show", "--partscan", d.file)
	if err != nil {
		return nil, err
	}
	d.dev = strings.TrimSpace(out)
	if !strings.HasPrefix(d.dev, "/dev/loop") {
		return nil, fmt.Errorf("losetup printed %q, not a loop device", d.dev)
	}
	d.rescanPartitions(ctx)
	return d, nil
}

// prefill writes the GPT, the two file systems and the canary into
// target: the backing file before it is attached, or the loop device
// when a phase restores the layout (see restoreLayout).
func (d *loopDisk) prefill(ctx context.Context, target string) error {
	steps := [][]string{
		{"sgdisk", "--clear",
			fmt.Sprintf("--new=1:%d:%d", headPartStart, headPartStart+partSectors-1), "--typecode=1:8300", "--change-name=1:e2e-head",
			fmt.Sprintf("--new=2:%d:%d", tailPartStart, tailPartStart+partSectors-1), "--typecode=2:8300", "--change-name=2:e2e-tail",
			target},
		{"mkfs.ext4", "-q", "-F", "-L", "e2e-head", "-E", fmt.Sprintf("offset=%d,nodiscard", headPartStart*sectorSize), target, "64M"},
		{"mkfs.ext4", "-q", "-F", "-L", "e2e-tail", "-E", fmt.Sprintf("offset=%d,nodiscard", tailPartStart*sectorSize), target, "64M"},
	}
	for _, argv := range steps {
		if _, err := runCommand(ctx, argv...); err != nil {
			return err
		}
	}
	d.canary = make([]byte, canarySize)
	rand.NewChaCha8([32]byte{'c', 'a', 'n', 'a', 'r', 'y'}).Read(d.canary)
	f, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt(d.canary, canaryOffset); err != nil {
		return fmt.Errorf("write canary to %s: %w", target, err)
	}
	return f.Sync()
}

// restoreLayout writes the pre-filled layout again, through the attached
// loop device, when a phase before has erased it: the phases that check
// what cleaning removed need the signatures and the canary in place. It
// does nothing when all of them are still there.
func (d *loopDisk) restoreLayout(ctx context.Context) error {
	found, err := d.present(ctx, preparedSignatures)
	if err != nil {
		return err
	}
	intact, err := d.canaryIntact(ctx)
	if err != nil {
		return err
	}
	if len(found) == len(preparedSignatures) && intact {
		return nil
	}
	logf("restoring the pre-filled layout on %s (signatures present: %d of %d, canary intact: %v)",
		d.dev, len(found), len(preparedSignatures), intact)
	if err := d.prefill(ctx, d.dev); err != nil {
		return fmt.Errorf("restore the layout on %s: %w", d.dev, err)
	}
	if found, err = d.present(ctx, preparedSignatures); err != nil {
		return err
	}
	if len(found) != len(preparedSignatures) {
		return fmt.Errorf("restored layout on %s is incomplete: found only %v", d.dev, found)
	}
	if intact, err = d.canaryIntact(ctx); err != nil || !intact {
		return fmt.Errorf("restored canary on %s does not read back (err %v)", d.dev, err)
	}
	return nil
}

// rescanPartitions makes the kernel's view of the partitions match the
// disk's table, as a freshly booted kernel would see it. The build
// machines' kernel does not parse GPT itself (losetup --partscan finds
// nothing), so the table is handed over with partx, which is what a
// real node's kernel does at boot. Errors (no table) are ignored.
func (d *loopDisk) rescanPartitions(ctx context.Context) {
	_, _ = runCommand(ctx, "blockdev", "--rereadpt", d.dev)
	if out, err := runCommand(ctx, "partx", "--show", "--noheadings", d.dev); err == nil && strings.TrimSpace(out) != "" {
		_, _ = runCommand(ctx, "partx", "--update", d.dev)
	}
}

// partitions lists the kernel's partition devices of the disk.
func (d *loopDisk) partitions() []string {
	base := filepath.Base(d.dev)
	matches, _ := filepath.Glob(filepath.Join("/sys/block", base, base+"p*"))
	var parts []string
	for _, m := range matches {
		parts = append(parts, "/dev/"+filepath.Base(m))
	}
	return parts
}

// detach releases the loop device. The backing file is removed with the
// test's temporary directory.
func (d *loopDisk) detach(ctx context.Context) error {
	if d == nil || d.dev == "" {
		return nil
	}
	_, err := runCommand(ctx, "losetup", "--detach", d.dev)
	if err == nil {
		d.dev = ""
	}
	return err
}

// readAt reads n bytes at off from the loop device after dropping the
// device's buffer cache, so what was written through any path is seen.
func (d *loopDisk) readAt(ctx context.Context, off int64, n int) ([]byte, error) {
	_, _ = runCommand(ctx, "blockdev", "--flushbufs", d.dev)
	f, err := os.Open(d.dev)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("read %s at %d: %w", d.dev, off, err)
	}
	return buf, nil
}

// present reports which of the probes' signatures are on the disk.
func (d *loopDisk) present(ctx context.Context, probes []signatureProbe) ([]string, error) {
	var found []string
	for _, p := range probes {
		got, err := d.readAt(ctx, p.offset, len(p.magic))
		if err != nil {
			return nil, err
		}
		if bytes.Equal(got, p.magic) {
			found = append(found, p.name)
		}
	}
	return found, nil
}

// byteRange is a region of the disk that a check looks at.
type byteRange struct {
	name        string
	offset, len int64
}

// nonZero returns the names (with the first non-zero offset) of the
// ranges that are not all zero.
func (d *loopDisk) nonZero(ctx context.Context, ranges []byteRange) ([]string, error) {
	var bad []string
	for _, r := range ranges {
		buf, err := d.readAt(ctx, r.offset, int(r.len))
		if err != nil {
			return nil, err
		}
		if i := firstNonZero(buf); i >= 0 {
			bad = append(bad, fmt.Sprintf("%s (first non-zero byte at disk offset %d)", r.name, r.offset+int64(i)))
		}
	}
	return bad, nil
}

// scanChunk is how much allZero reads at a time.
const scanChunk = 4 * mib

// allZero reads the whole device after dropping its buffer cache and
// returns the offset of its first non-zero byte, or -1 if every byte is
// zero, and how long the read took.
func (d *loopDisk) allZero(ctx context.Context) (int64, time.Duration, error) {
	_, _ = runCommand(ctx, "blockdev", "--flushbufs", d.dev)
	start := time.Now()
	f, err := os.Open(d.dev)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	buf, zeros := make([]byte, scanChunk), make([]byte, scanChunk)
	for off := int64(0); off < diskSize; off += scanChunk {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		n := min(int64(scanChunk), diskSize-off)
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return 0, 0, fmt.Errorf("read %s at %d: %w", d.dev, off, err)
		}
		// bytes.Equal compares with vector instructions; the byte loop
		// only runs to locate a difference.
		if !bytes.Equal(buf[:n], zeros[:n]) {
			return off + int64(firstNonZero(buf[:n])), time.Since(start), nil
		}
	}
	return -1, time.Since(start), nil
}

// firstNonZero returns the index of the first non-zero byte, or -1.
func firstNonZero(buf []byte) int {
	for i, c := range buf {
		if c != 0 {
			return i
		}
	}
	return -1
}

// canaryIntact reports whether the canary block is still in place.
func (d *loopDisk) canaryIntact(ctx context.Context) (bool, error) {
	got, err := d.readAt(ctx, canaryOffset, canarySize)
	if err != nil {
		return false, err
	}
	return bytes.Equal(got, d.canary), nil
}

// libblkidSignatures lists what wipefs (libblkid) still finds on the disk
// and on any partition the kernel knows; empty means a clean disk.
func (d *loopDisk) libblkidSignatures(ctx context.Context) string {
	var b strings.Builder
	for _, dev := range append([]string{d.dev}, d.partitions()...) {
		out, err := runCommand(ctx, "wipefs", "--no-act", "--noheadings", "--output", "DEVICE,OFFSET,TYPE,LABEL", dev)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", dev, err)
			continue
		}
		b.WriteString(out)
	}
	return strings.TrimSpace(b.String())
}
