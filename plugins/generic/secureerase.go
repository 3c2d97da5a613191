package generic

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// secureEraseOptions are the settings of erase_block_device's secure
// erase, from the node's driver_internal_info, with IPA's defaults.
type secureEraseOptions struct {
	// nvme is agent_enable_nvme_secure_erase: format NVMe disks (true).
	nvme bool
	// ata is agent_enable_ata_secure_erase: ATA security erase (true).
	ata bool
	// fallback is agent_continue_if_secure_erase_failed, or when that is
	// absent the older agent_continue_if_ata_erase_failed: overwrite a
	// disk whose secure erase failed instead of failing (false).
	fallback bool
}

// secureEraseOptionsOf reads the secure-erase settings from the node.
func secureEraseOptionsOf(n node) (o secureEraseOptions, err error) {
	if o.nvme, err = n.boolInfo("agent_enable_nvme_secure_erase", true); err != nil {
		return o, err
	}
	if o.ata, err = n.boolInfo("agent_enable_ata_secure_erase", true); err != nil {
		return o, err
	}
	// IPA reads the older name only when the newer one is absent, so
	// that a new agent works with an old conductor.
	key := "agent_continue_if_secure_erase_failed"
	if v, ok := n.DriverInternalInfo[key]; !ok || v == nil {
		key = "agent_continue_if_ata_erase_failed"
	}
	o.fallback, err = n.boolInfo(key, false)
	return o, err
}

// errSecureErase marks the failure of a disk's own erase (NVMe format,
// ATA security erase), IPA's BlockDeviceEraseError inside
// erase_block_device, which the fallback setting may turn into an
// overwrite.
var errSecureErase = errors.New("secure erase failed")

// secureEraseFailure is a failure of a disk's own erase: errors.Is finds
// errSecureErase in it; its message is the cause alone.
type secureEraseFailure struct{ msg string }

// Error returns the cause.
func (e *secureEraseFailure) Error() string { return e.msg }

// Is makes errors.Is(err, errSecureErase) true.
func (e *secureEraseFailure) Is(target error) bool { return target == errSecureErase }

// secureEraseError returns a secureEraseFailure with the message of
// format and a.
func secureEraseError(format string, a ...any) error {
	return &secureEraseFailure{msg: fmt.Sprintf(format, a...)}
}

// secureErase has d erase itself as IPA's erase_block_device does before
// it shreds: NVMe disks (named nvme*) with nvme format, the others with
// the ATA security erase, each when its setting allows. done is true when
// the disk erased itself. When the disk cannot (no ATA security feature),
// done is false and err nil: the caller overwrites. When it can but the
// erase fails, the failure is logged (once, here) and either left to the
// overwrite when o.fallback is set, or returned as an
// IncompatibleHardwareMethodError.
func (m *Manager) secureErase(ctx context.Context, log hclog.Logger, d disk, o secureEraseOptions) (done bool, err error) {
	switch {
	case isNVMe(d):
		if !o.nvme {
			log.Info("NVMe secure erase is disabled (agent_enable_nvme_secure_erase)")
			return false, nil
		}
		done, err = m.nvmeErase(ctx, log, d)
	case !o.ata:
		log.Info("ATA secure erase is disabled (agent_enable_ata_secure_erase)")
		return false, nil
	default:
		done, err = m.ataErase(ctx, log, d)
	}
	if err == nil {
		return done, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		log.Warn("secure erase interrupted", "error", err)
		return false, fmt.Errorf("secure erase of %s: %w", d.Name, ctxErr)
	}
	if o.fallback {
		log.Warn("secure erase failed; falling back to overwrite (agent_continue_if_secure_erase_failed)", "error", err)
		return false, nil
	}
	log.Error("secure erase failed; falling back to overwrite is not enabled (agent_continue_if_secure_erase_failed)", "error", err)
	// IPA raises IncompatibleHardwareMethodError here, which its dispatch
	// takes as "try the next manager". This manager is the last one, so
	// the error is final (a hardware error) and keeps its message, which
	// Ironic would otherwise never see.
	return false, sdk.HardwareError("IncompatibleHardwareMethodError",
		"Failed to invoke secure erase of %s, fallback to overwrite is not enabled: %v", d.Name, err)
}
