package commands

import (
	"context"
	"errors"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ipa"
	"github.com/metalagent/metalagent/plugin-sdk/tool"
)

// efiDir exists when the ramdisk booted in UEFI mode (tests change it).
var efiDir = "/sys/firmware/efi"

func registerImage(r *Runner, d *Deps) {
	r.Register("image", "install_bootloader", Command{Async: true, Run: d.installBootloader})
}

// bootloaderParams are install_bootloader's parameters.
type bootloaderParams struct {
	RootUUID                string `json:"root_uuid"`
	EFISystemPartUUID       string `json:"efi_system_part_uuid"`
	PrepBootPartUUID        string `json:"prep_boot_part_uuid"`
	TargetBootMode          string `json:"target_boot_mode"`
	IgnoreBootloaderFailure *bool  `json:"ignore_bootloader_failure"`
}

// decodeBootloaderParams reads install_bootloader's parameters; null
// strings are empty.
func decodeBootloaderParams(p Params) (bootloaderParams, error) {
	var bp bootloaderParams
	for k, dst := range map[string]*string{
		"root_uuid": &bp.RootUUID, "efi_system_part_uuid": &bp.EFISystemPartUUID,
		"prep_boot_part_uuid": &bp.PrepBootPartUUID, "target_boot_mode": &bp.TargetBootMode,
	} {
		if err := p.Decode(k, dst); err != nil {
			return bp, err
		}
	}
	err := p.Decode("ignore_bootloader_failure", &bp.IgnoreBootloaderFailure)
	return bp, err
}

// installBootloader makes the written image bootable, as IPA 9.4 does:
// when the ramdisk booted through UEFI, it writes NVRAM boot entries for
// the loaders found on the install device's EFI system partition
// (efibootmgr, see uefi.go), and that is all; otherwise, or when the ESP
// holds no loader, a whole-disk image (root_uuid empty or an MBR disk
// identifier) boots with its own boot loader and nothing more is done.
// Partition images (grub-install in the image) are not supported.
// Failures fail the command unless ignore_bootloader_failure (parameter,
// else configuration) says to go on.
func (d *Deps) installBootloader(ctx context.Context, log hclog.Logger, p Params) (any, error) {
	bp, err := decodeBootloaderParams(p)
	if err != nil {
		return nil, err
	}
	ignore := d.Config.IgnoreBootloaderFailure
	if bp.IgnoreBootloaderFailure != nil {
		ignore = *bp.IgnoreBootloaderFailure
	}
	dev, err := installDevice(ctx, d, nil)
	if err != nil {
		return nil, err
	}
	log = log.With("device", dev, "root_uuid", bp.RootUUID, "target_boot_mode", bp.TargetBootMode)
	done, err := d.efiBootSetup(ctx, log, dev, bp.EFISystemPartUUID, bp.TargetBootMode)
	if err != nil {
		if err := bootloaderFailure(log, err, ignore); err != nil {
			return nil, err
		}
	}
	if done {
		return nil, nil
	}
	wholeDisk := bp.RootUUID == "" || bp.RootUUID == "0x00000000" || bp.EFISystemPartUUID == "" && isDiskID(bp.RootUUID)
	if wholeDisk {
		log.Info("no grub-install: no root partition UUID, a whole-disk image boots with its own boot loader")
		return nil, nil
	}
	err = ipa.New("CommandExecutionError", "installing a bootloader for partition images is not supported by this agent version")
	return nil, bootloaderFailure(log, err, ignore)
}

// efiBootSetup writes the NVRAM entries when the ramdisk booted through
// UEFI and efibootmgr is there: done reports that entries were written.
// Booted otherwise, it does nothing (warning when target_boot_mode is
// not the mode booted). With a sandbox, efibootmgr never runs: a ramdisk
// not booted through UEFI is taken for one when the target is uefi, so
// that the whole UEFI path runs and its efibootmgr lines are recorded.
func (d *Deps) efiBootSetup(ctx context.Context, log hclog.Logger, dev, espUUID, target string) (bool, error) {
	current := "bios"
	if _, err := os.Stat(efiDir); err == nil {
		current = "uefi"
	} else if d.Sandbox.Enabled() && target == "uefi" {
		log.Info("sandbox: the ramdisk did not boot through UEFI; the UEFI setup runs as if it had, its efibootmgr commands recorded, not run")
		current = "uefi"
	}
	if target != "" && target != current {
		log.Warn("boot mode mismatch: installing the boot loader may fail or work incorrectly", "target", target, "current", current)
	}
	if current != "uefi" {
		return false, nil
	}
	if !d.Sandbox.Enabled() {
		if _, err := d.tools().Run(ctx, "efibootmgr", "--version"); errors.Is(err, tool.ErrMissing) {
			log.Warn("efibootmgr is not in the ramdisk: no UEFI boot entry written")
			return false, nil
		}
	}
	return d.manageUEFI(ctx, log, dev, espUUID)
}

// bootloaderFailure returns err, or logs it and returns nil when failures
// are to be ignored.
func bootloaderFailure(log hclog.Logger, err error, ignore bool) error {
	if !ignore {
		return err
	}
	log.Warn("bootloader setup skipped: ignore_bootloader_failure is set", "reason", err.Error())
	return nil
}

// isDiskID reports whether s looks like an MBR disk identifier ("0x1234abcd").
func isDiskID(s string) bool {
	return len(s) == 10 && s[:2] == "0x"
}
