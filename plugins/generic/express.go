package generic

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
)

// stepEraseExpress is IPA's erase_devices_express.
const stepEraseExpress = "erase_devices_express"

// eraseDevicesExpress is IPA's erase_devices_express, a quick erase of
// every disk it may touch: an NVMe disk formats itself (as in
// erase_block_device, when agent_enable_nvme_secure_erase allows); any
// other disk, and an NVMe disk whose format failed, discards all its
// blocks when it can and then has its metadata erased as
// erase_devices_metadata does. Read-only disks and md RAID members are
// skipped, as IPA does. Every disk is checked before anything is sent to
// any: one in use aborts the step. The disks are erased in parallel;
// failures are gathered into one BlockDeviceEraseError.
func (m *Manager) eraseDevicesExpress(ctx context.Context, n node) (json.RawMessage, error) {
	log := sdk.ContextLogger(ctx, m.log).With("step", stepEraseExpress)
	secure, err := secureEraseOptionsOf(n)
	if err != nil {
		return nil, err
	}
	targets, err := m.eraseTargets(ctx, log, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stepEraseExpress, err)
	}
	erasable := m.erasable(log, targets)
	if len(erasable) == 0 {
		log.Info("no erasable device found")
		return json.RawMessage("null"), nil
	}
	ok, failures, err := m.refuseInUse(log, stepEraseExpress, erasable)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, d := range ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dlog := log.With("device", d.Name)
			start := time.Now()
			how, err := m.expressErase(ctx, dlog, d, secure.nvme)
			if err != nil {
				if ctx.Err() == nil {
					dlog.Error("express erase failed", "error", err)
				}
				mu.Lock()
				failures[d.Name] = err
				mu.Unlock()
				return
			}
			dlog.Info("express erase done", "method", how, "duration", time.Since(start).String())
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		log.Warn("express erase interrupted", "error", err)
		return nil, fmt.Errorf("%s: %w", stepEraseExpress, err)
	}
	if err := blockdev.EraseError("an express erase", failures); err != nil {
		return nil, err
	}
	return json.RawMessage("null"), nil
}

// erasable returns the disks of targets an erase step may write, as IPA's
// _list_erasable_devices does: read-only disks and md RAID members are
// left out, and logged.
func (m *Manager) erasable(log hclog.Logger, targets []disk) []disk {
	var out []disk
	for _, d := range targets {
		if d.readOnly {
			log.Info("skipping read-only device", "device", d.Name)
			continue
		}
		member, why, err := m.raidMember(d)
		if err != nil {
			log.Debug("could not look for md superblocks; judged by sysfs and udev only", "device", d.Name, "error", err)
		}
		if member {
			log.Warn("skipping RAID member device, as IPA does: its data is not erased here", "device", d.Name, "reason", why)
			continue
		}
		out = append(out, d)
	}
	return out
}

// expressErase erases one disk for erase_devices_express and says how:
// "nvme format", "discard and metadata" or "metadata". A failed NVMe
// format is logged and falls back to the rest, as in IPA; a failed
// discard is logged and the metadata is still erased. The error is the
// metadata erase's, joined to the format's when both failed.
func (m *Manager) expressErase(ctx context.Context, log hclog.Logger, d disk, nvme bool) (string, error) {
	var secureErr error
	if isNVMe(d) {
		if !nvme {
			log.Info("NVMe secure erase is disabled (agent_enable_nvme_secure_erase)")
		} else if done, err := m.nvmeErase(ctx, log, d); err == nil && done {
			return "nvme format", nil
		} else if ctx.Err() != nil {
			return "", fmt.Errorf("nvme format: %w", ctx.Err())
		} else {
			log.Error("NVMe secure erase failed; falling back to discard and metadata erase", "error", err)
			secureErr = err
		}
	}
	how := "metadata"
	if m.sys.canDiscard(d) {
		if err := m.discard(ctx, log, d); err != nil {
			if ctx.Err() != nil {
				return "", fmt.Errorf("discard: %w", ctx.Err())
			}
			log.Warn("discard failed; erasing the metadata only", "error", err)
		} else {
			how = "discard and metadata"
		}
	} else {
		log.Info("the device cannot discard (queue/discard_max_bytes is 0); erasing the metadata only")
	}
	if err := m.wipeMetadata(ctx, log, d); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("metadata erase: %w", ctx.Err())
		}
		if secureErr != nil {
			return "", fmt.Errorf("secure erase failed: %v; fallback to metadata erase also failed: %w", secureErr, err)
		}
		return "", err
	}
	return how, nil
}
