package generic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
)

// methodEraseBlockDevice is IPA's erase_block_device hardware method.
const methodEraseBlockDevice = sdk.MethodEraseBlockDevice

// progressInterval is how often a long overwrite pass logs its progress.
const progressInterval = 30 * time.Second

// overwriteOptions are erase_block_device's settings from the node's
// driver_internal_info, with IPA's defaults.
type overwriteOptions struct {
	// passes is agent_erase_devices_iterations: random passes (1).
	passes int
	// zeroize is agent_erase_devices_zeroize: a final zero pass (true).
	zeroize bool
	// skipReadOnly is agent_erase_skip_read_only: skip, rather than fail
	// on, read-only disks (false).
	skipReadOnly bool
}

// overwriteOptionsOf reads erase_block_device's settings from the node.
func overwriteOptionsOf(n node) (o overwriteOptions, err error) {
	if o.passes, err = n.intInfo("agent_erase_devices_iterations", 1); err != nil {
		return o, err
	}
	if o.passes < 0 {
		return o, sdk.InvalidArgument("driver_internal_info.agent_erase_devices_iterations: %d is negative", o.passes)
	}
	if o.zeroize, err = n.boolInfo("agent_erase_devices_zeroize", true); err != nil {
		return o, err
	}
	o.skipReadOnly, err = n.boolInfo("agent_erase_skip_read_only", false)
	return o, err
}

// eraseBlockDevice is IPA's erase_block_device for one disk, in IPA's
// order: the virtual-media disk and md RAID members are left alone, a
// read-only disk is skipped or refused, then the disk erases itself when
// it can (NVMe format, ATA security erase: see secureErase), and
// otherwise it is overwritten as IPA's shred does:
// agent_erase_devices_iterations passes of pseudo-random data, then a
// pass of zeros when agent_erase_devices_zeroize is set. The host's
// erase_devices step calls it once per disk (the skip list and the in-use
// check of all disks are the host's); the manager still refuses a disk
// outside the allow-list, a disk it does not know and, before anything
// is written or any erase command sent, a disk in use. The result is
// null, as IPA's.
func (m *Manager) eraseBlockDevice(ctx context.Context, args json.RawMessage, n node) (json.RawMessage, error) {
	var a struct {
		BlockDevice *struct {
			Name string `json:"name"`
		} `json:"block_device"`
	}
	if len(bytes.TrimSpace(args)) > 0 {
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, sdk.InvalidArgument("%s: block_device: %v", methodEraseBlockDevice, err)
		}
	}
	if a.BlockDevice == nil || a.BlockDevice.Name == "" {
		return nil, sdk.InvalidArgument("%s needs the argument block_device, an inventory disk with a name", methodEraseBlockDevice)
	}
	name := a.BlockDevice.Name
	log := sdk.ContextLogger(ctx, m.log).With("method", methodEraseBlockDevice, "device", name)
	opts, err := overwriteOptionsOf(n)
	if err != nil {
		return nil, err
	}
	secure, err := secureEraseOptionsOf(n)
	if err != nil {
		return nil, err
	}
	allow := m.config().allow
	if !allow.Allows(name) {
		log.Error("refusing to erase a device outside the allow-list")
		return nil, sdk.HardwareError("ProtectedDeviceError", "refusing to erase %s: it is not on the disk allow-list", name)
	}
	d, err := m.findDisk(ctx, allow, name)
	if err != nil {
		return nil, err
	}
	if vmedia := blockdev.VirtualMediaDevice(m.sys.devRoot); vmedia != "" && d.Name == vmedia {
		log.Info("skipping virtual media device")
		return json.RawMessage("null"), nil
	}
	member, why, err := m.raidMember(d)
	if err != nil {
		log.Debug("could not look for md superblocks; judged by sysfs and udev only", "error", err)
	}
	if member {
		log.Warn("skipping RAID member device, as IPA does: its data is not erased here", "reason", why)
		return json.RawMessage("null"), nil
	}
	if d.readOnly {
		if opts.skipReadOnly {
			log.Info("skipping read-only device")
			return json.RawMessage("null"), nil
		}
		return nil, sdk.HardwareError("BlockDeviceEraseError", "cannot erase %s: the device is flagged read-only", d.Name)
	}
	if err := m.inUse(m.sys.devNode(d.kname)); err != nil {
		log.Error("refusing to erase", "error", err)
		if sdk.TypeOf(err) != "" {
			return nil, err
		}
		return nil, sdk.HardwareError("BlockDeviceEraseError", "cannot erase %s: check whether in use: %v", d.Name, err)
	}
	done, err := m.secureErase(ctx, log, d, secure)
	if err != nil {
		return nil, err
	}
	if done {
		return json.RawMessage("null"), nil
	}
	if err := m.overwrite(ctx, log, d, opts); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			log.Warn("erase interrupted", "error", err)
			return nil, fmt.Errorf("%s %s: %w", methodEraseBlockDevice, d.Name, ctxErr)
		}
		log.Error("erase failed", "error", err)
		return nil, sdk.HardwareError("BlockDeviceEraseError", "erase of %s failed: %v", d.Name, err)
	}
	return json.RawMessage("null"), nil
}

// findDisk returns the whole disk named name (a /dev path, symbolic links
// resolved) among those the manager reports.
func (m *Manager) findDisk(ctx context.Context, allow blockdev.AllowList, name string) (disk, error) {
	disks, err := m.sys.wholeDisks(ctx, allow)
	if err != nil {
		return disk{}, err
	}
	want := name
	if r, err := filepath.EvalSymlinks(name); err == nil && m.sys.devRoot == "/dev" {
		want = r
	}
	for _, d := range disks {
		if d.Name == name || d.Name == want {
			return d, nil
		}
	}
	return disk{}, sdk.HardwareError("BlockDeviceEraseError", "cannot erase %s: it is not a whole disk the generic hardware manager reports", name)
}

// overwrite runs the passes of opts over the whole of d, each followed by
// an fsync: random passes write a keystream of their own (see keystream)
// in writes of randomChunk through buffers they share, zero passes the
// shared zero pages in writes of zeroChunk. The partition table is
// re-read once at the end.
func (m *Manager) overwrite(ctx context.Context, log hclog.Logger, d disk, opts overwriteOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dev, err := openDevice(m.open, m.sys.devNode(d.kname))
	if err != nil {
		return err
	}
	defer dev.Close()
	var bufs *randomBuffers
	if opts.passes > 0 {
		if bufs, err = newRandomBuffers(randomChunk); err != nil {
			return err
		}
		defer bufs.Close()
	}
	total := opts.passes
	if opts.zeroize {
		total++
	}
	for pass := 1; pass <= total; pass++ {
		kind := "zero"
		if pass <= opts.passes {
			kind = "random"
		}
		plog := log.With("pass", pass, "passes", total, "data", kind)
		plog.Info("overwrite pass started", "bytes", dev.size)
		start := time.Now()
		last := start
		progress := func(written int64) {
			if now := time.Now(); now.Sub(last) >= progressInterval {
				last = now
				plog.Info("overwrite progress", "written", written, "percent", 100*written/max(dev.size, 1))
			}
		}
		if kind == "random" {
			ks, err := newKeystream()
			if err == nil {
				err = dev.randomPass(ctx, bufs, ks, progress)
			}
			if err != nil {
				return fmt.Errorf("%s pass %d of %d: %w", kind, pass, total, err)
			}
		} else if err := dev.zeroPass(ctx, zeroChunk, progress); err != nil {
			return fmt.Errorf("%s pass %d of %d: %w", kind, pass, total, err)
		}
		if err := dev.sync(); err != nil {
			return fmt.Errorf("%s pass %d of %d: %w", kind, pass, total, err)
		}
		elapsed := time.Since(start)
		plog.Info("overwrite pass done", "duration", elapsed.String(),
			"mib_per_s", float64(dev.size)/mib/max(elapsed.Seconds(), 1e-3))
	}
	if total == 0 {
		log.Warn("no overwrite pass requested: agent_erase_devices_iterations is 0 and agent_erase_devices_zeroize is false")
		return nil
	}
	return dev.rereadPartitions(ctx)
}
