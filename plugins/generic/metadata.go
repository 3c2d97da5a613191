package generic

import (
	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"

	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// stepEraseMetadata is IPA's erase_devices_metadata.
const stepEraseMetadata = "erase_devices_metadata"

// metadataConcurrency bounds how many disks erase_devices_metadata erases
// at once. Each disk's erase is a few small writes and one fsync, so the
// step takes about as long as its slowest disk up to this many disks.
const metadataConcurrency = 16

// eraseDevicesMetadata removes partition tables and file-system, RAID and
// LVM signatures from every disk it may touch: the first and last MiB of
// each partition and of the whole disk are zeroed (the MBR, both GPT
// copies and the superblocks of ext4, xfs, btrfs, swap, LVM and md all
// live there), then the kernel re-reads the now empty partition table.
// Read-only disks are skipped, as IPA does. Any disk in use aborts the step
// before anything is written; then the disks are erased concurrently
// (at most metadataConcurrency at once) and their failures gathered into
// one BlockDeviceEraseError, as IPA gathers them.
func (m *Manager) eraseDevicesMetadata(ctx context.Context, n node) (json.RawMessage, error) {
	log := sdk.ContextLogger(ctx, m.log).With("step", stepEraseMetadata)
	targets, err := m.eraseTargets(ctx, log, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stepEraseMetadata, err)
	}
	var writable []disk
	for _, d := range targets {
		if d.readOnly {
			log.Info("skipping read-only device", "device", d.Name)
			continue
		}
		writable = append(writable, d)
	}
	ok, failures, err := m.refuseInUse(log, stepEraseMetadata, writable)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, metadataConcurrency)
	for _, d := range ok {
		wg.Go(func() {
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
			case <-ctx.Done():
				return
			}
			dlog := log.With("device", d.Name)
			start := time.Now()
			dlog.Info("erasing partition tables and signatures")
			if err := m.wipeMetadata(ctx, dlog, d); err != nil {
				if ctx.Err() != nil {
					dlog.Warn("metadata erase interrupted", "error", err)
					return
				}
				dlog.Error("metadata erase failed", "error", err)
				mu.Lock()
				failures[d.Name] = err
				mu.Unlock()
				return
			}
			dlog.Info("metadata erased", "duration", time.Since(start).String())
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", stepEraseMetadata, err)
	}
	if err := blockdev.EraseError("metadata erase", failures); err != nil {
		return nil, err
	}
	return json.RawMessage("null"), nil
}

// wipeMetadata zeroes both ends of every partition of d (those the kernel
// knows and those its MBR and GPT describe) and of d itself, flushes once,
// and has the kernel re-read the partition table. The tables are read
// through a windowReader (the disk's first and last 64 KiB, read once
// each, hold the MBR and both GPTs), and overlapping or touching ends are
// written as one range.
func (m *Manager) wipeMetadata(ctx context.Context, log hclog.Logger, d disk) error {
	kernel, err := m.sys.partitions(d.kname)
	if err != nil {
		return err
	}
	dev, err := openDevice(m.open, m.sys.devNode(d.kname))
	if err != nil {
		return err
	}
	defer dev.Close()
	parts := mergePartitions(kernel, tablePartitions(newWindowReader(dev), dev.size, dev.sector))
	for _, p := range parts {
		log.Debug("zeroing both ends of a partition", "partition", p.name, "offset", p.start, "bytes", p.size)
	}
	for _, r := range metadataRanges(parts, dev.size) {
		if err := dev.writeZeros(ctx, r.span); err != nil {
			return fmt.Errorf("zero %s: %w", strings.Join(r.what, ", "), err)
		}
	}
	if err := dev.sync(); err != nil {
		return err
	}
	return dev.rereadPartitions(ctx)
}

// metadataRange is a range to zero and what lies there.
type metadataRange struct {
	span
	what []string
}

// metadataRanges returns the first and last MiB of each partition and of
// the whole disk of size bytes (all of one that is at most 2 MiB), in
// order of offset, overlapping and touching ranges merged.
func metadataRanges(parts []partition, size int64) []metadataRange {
	var rs []metadataRange
	ends := func(name string, off, n int64) {
		if n <= 2*mib {
			rs = append(rs, metadataRange{span{off, n}, []string{name}})
			return
		}
		rs = append(rs,
			metadataRange{span{off, mib}, []string{name + " head"}},
			metadataRange{span{off + n - mib, mib}, []string{name + " tail"}})
	}
	for _, p := range parts {
		ends("partition "+p.name, p.start, p.size)
	}
	ends("disk", 0, size)
	slices.SortStableFunc(rs, func(a, b metadataRange) int { return cmp.Compare(a.off, b.off) })
	var out []metadataRange
	for _, r := range rs {
		if k := len(out) - 1; k >= 0 && r.off <= out[k].off+out[k].n {
			out[k].n = max(out[k].n, r.off+r.n-out[k].off)
			out[k].what = append(out[k].what, r.what...)
			continue
		}
		out = append(out, r)
	}
	return out
}
