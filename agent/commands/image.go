package commands

import (
	"context"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ipa"
)

// efiDir exists when the ramdisk booted in UEFI mode.
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

// installBootloader sets up booting of the written image. This agent
// version handles whole-disk images, which carry their own bootloader: in
// BIOS mode nothing is needed; in UEFI mode an NVRAM entry must be written,
// which needs a ramdisk booted through UEFI. When that cannot be done the
// command fails, unless ignore_bootloader_failure (parameter or
// configuration) says to go on, in which case the skipped setup is logged.
func (d *Deps) installBootloader(_ context.Context, log hclog.Logger, p Params) (any, error) {
	var bp bootloaderParams
	for _, k := range []string{"root_uuid", "efi_system_part_uuid", "prep_boot_part_uuid", "target_boot_mode"} {
		var s string
		if err := p.Decode(k, &s); err != nil {
			return nil, err
		}
		switch k {
		case "root_uuid":
			bp.RootUUID = s
		case "efi_system_part_uuid":
			bp.EFISystemPartUUID = s
		case "prep_boot_part_uuid":
			bp.PrepBootPartUUID = s
		case "target_boot_mode":
			bp.TargetBootMode = s
		}
	}
	if err := p.Decode("ignore_bootloader_failure", &bp.IgnoreBootloaderFailure); err != nil {
		return nil, err
	}
	ignore := d.Config.IgnoreBootloaderFailure
	if bp.IgnoreBootloaderFailure != nil {
		ignore = *bp.IgnoreBootloaderFailure
	}
	log = log.With("root_uuid", bp.RootUUID, "target_boot_mode", bp.TargetBootMode)
	wholeDisk := bp.RootUUID == "" || bp.RootUUID == "0x00000000" || bp.EFISystemPartUUID == "" && isDiskID(bp.RootUUID)
	if !wholeDisk {
		err := ipa.New("CommandExecutionError", "installing a bootloader for partition images is not supported by this agent version")
		return nil, bootloaderFailure(log, err, ignore)
	}
	if bp.TargetBootMode != "uefi" {
		log.Info("whole-disk image in BIOS mode: the image's own bootloader is used; nothing to install")
		return nil, nil
	}
	if _, err := os.Stat(efiDir); err != nil {
		err := ipa.New("CommandExecutionError", "cannot write a UEFI boot entry: the ramdisk did not boot in UEFI mode (%s is missing)", efiDir)
		return nil, bootloaderFailure(log, err, ignore)
	}
	err := ipa.New("CommandExecutionError", "writing UEFI boot entries (efibootmgr) is not supported by this agent version")
	return nil, bootloaderFailure(log, err, ignore)
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
