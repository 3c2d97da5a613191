package generic

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/plugin-sdk/tool"
)

// ataPassword is the user password the ATA security erase sets and erases
// with, IPA's: hdparm takes the word NULL as the empty password (before
// hdparm 9.51, as the four letters).
const ataPassword = "NULL"

// ataUnlockPasswords are the passwords tried, in order, to unlock a drive
// left locked by an earlier erase: NULL for either meaning of it, then the
// empty string.
var ataUnlockPasswords = []string{ataPassword, ""}

// ataSecurity is the "Security:" section of hdparm -I as IPA reads it:
// its lines, trimmed, tabs turned into spaces ("not frozen", "supported:
// enhanced erase"). Each state is tested as a whole line.
type ataSecurity []string

// has reports whether line is one of the section's lines.
func (s ataSecurity) has(line string) bool { return slices.Contains(s, line) }

// parseATASecurity returns the "Security:" section of hdparm -I's output:
// the tab-indented lines after the line "Security:". An output without
// one (a drive without the ATA security feature set) gives none.
func parseATASecurity(out string) ataSecurity {
	var sec ataSecurity
	in := false
	for _, line := range strings.Split(out, "\n") {
		if !in {
			in = strings.TrimSpace(line) == "Security:"
			continue
		}
		if !strings.HasPrefix(line, "\t") {
			break
		}
		sec = append(sec, strings.ReplaceAll(strings.TrimSpace(line), "\t", " "))
	}
	return sec
}

// isATA reports whether d is behind libata, by the SCSI vendor the kernel
// gives ATA disks or udev's ID_ATA.
func (s system) isATA(d disk) bool {
	base := filepath.Join(s.sysRoot, "class", "block", d.kname)
	if v, _ := readString(filepath.Join(base, "device", "vendor")); v == "ATA" {
		return true
	}
	devID, _ := readString(filepath.Join(base, "dev"))
	return s.udevProperties(devID)["ID_ATA"] == "1"
}

// ataSecurityOf runs hdparm -I on d and returns its security section.
func (m *Manager) ataSecurityOf(ctx context.Context, log hclog.Logger, d disk) (ataSecurity, error) {
	out, err := m.run(ctx, log, "hdparm", "-I", d.Name)
	if err != nil {
		return nil, err
	}
	return parseATASecurity(string(out)), nil
}

// ataErase erases d with the ATA security erase as IPA's _ata_erase does.
// It returns false without error when the drive cannot: it has no
// security feature set, smartctl says ATA commands do not reach it, or,
// for a disk that is not an ATA disk, hdparm is missing or cannot
// identify it. From then on every failure wraps errSecureErase: a frozen
// drive, a password that does not unlock it, a failed erase, or security
// still enabled after it. A drive left locked by an earlier attempt is
// first unlocked with the passwords of ataUnlockPasswords; one whose
// password is set (by an earlier attempt) but that is not locked is
// erased with ataPassword.
func (m *Manager) ataErase(ctx context.Context, log hclog.Logger, d disk) (bool, error) {
	sec, err := m.ataSecurityOf(ctx, log, d)
	if err != nil {
		if ctx.Err() != nil {
			return false, err
		}
		if m.sys.isATA(d) {
			return false, secureEraseError("read the ATA security state of %s: %v", d.Name, err)
		}
		if errors.Is(err, tool.ErrMissing) {
			log.Info("not an ATA disk, and hdparm is not installed: no ATA secure erase", "error", err)
		} else {
			log.Info("hdparm cannot identify the disk, which is not an ATA disk: no ATA secure erase", "error", err)
		}
		return false, nil
	}
	if !sec.has("supported") {
		log.Info("the drive does not support the ATA security erase")
		return false, nil
	}
	if !m.smartctlAllowsATA(ctx, log, d) {
		return false, nil
	}
	if !sec.has("not frozen") {
		return false, secureEraseError("block device %s is frozen and cannot be erased (the firmware froze its security; a suspend and resume or a power cycle may unfreeze it)", d.Name)
	}
	if sec, err = m.ataUnlock(ctx, log, d, sec); err != nil {
		return false, err
	}
	if !sec.has("not locked") {
		return false, secureEraseError("block device %s already has a security password set and stays locked", d.Name)
	}
	if sec.has("not enabled") {
		log.Info("setting the ATA user password for the erase")
		if _, err := m.run(ctx, log, "hdparm", "--user-master", "u", "--security-set-pass", ataPassword, d.Name); err != nil {
			return false, secureEraseError("set the security password of %s: %v", d.Name, err)
		}
	} else {
		log.Info("the drive already has a user password, from an earlier attempt; erasing with it")
	}
	option := "--security-erase-enhanced"
	if sec.has("not supported: enhanced erase") {
		option = "--security-erase"
	}
	log.Info("ATA security erase started", "option", option)
	if _, err := m.run(ctx, log, "hdparm", "--user-master", "u", option, ataPassword, d.Name); err != nil {
		if ctx.Err() != nil {
			return false, err
		}
		// Unlock the drive so that the overwrite, if allowed, can write
		// to it; its result does not change the failure.
		if _, uerr := m.ataUnlock(ctx, log, d, nil); uerr != nil {
			log.Warn("unlocking the drive after the failed erase failed", "error", uerr)
		}
		return false, secureEraseError("erase of %s failed: %v", d.Name, err)
	}
	if sec, err = m.ataSecurityOf(ctx, log, d); err != nil {
		return false, secureEraseError("read the ATA security state of %s after the erase: %v", d.Name, err)
	}
	if !sec.has("not enabled") {
		return false, secureEraseError("security is still enabled on %s after the erase: an unknown error occurred", d.Name)
	}
	log.Info("ATA security erase done", "option", option)
	return true, nil
}

// ataUnlock unlocks a locked drive with each of ataUnlockPasswords in
// turn, reading its state after each attempt, and returns the last state
// read (sec itself when it was not locked). A nil sec is read first. A
// failed unlock is logged and the next password tried.
func (m *Manager) ataUnlock(ctx context.Context, log hclog.Logger, d disk, sec ataSecurity) (ataSecurity, error) {
	var err error
	if sec == nil {
		if sec, err = m.ataSecurityOf(ctx, log, d); err != nil {
			return nil, secureEraseError("read the ATA security state of %s: %v", d.Name, err)
		}
	}
	for _, pw := range ataUnlockPasswords {
		if sec.has("not locked") {
			break
		}
		if _, err := m.run(ctx, log, "hdparm", "--user-master", "u", "--security-unlock", pw, d.Name); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			log.Info("security unlock failed", "password", tool.CommandLine(pw), "error", err)
		}
		if sec, err = m.ataSecurityOf(ctx, log, d); err != nil {
			return nil, secureEraseError("read the ATA security state of %s: %v", d.Name, err)
		}
	}
	return sec, nil
}

// smartctlAllowsATA asks smartctl, as IPA does, whether ATA security
// commands reach d (a SATA drive behind a SAS bridge may answer hdparm's
// identify but not take the erase): "Unavailable" or a failed smartctl
// means no. A missing smartctl is no objection (IPA's behaviour).
func (m *Manager) smartctlAllowsATA(ctx context.Context, log hclog.Logger, d disk) bool {
	out, err := m.run(ctx, log, "smartctl", "-d", "ata", d.Name, "-g", "security")
	var ee *tool.ExitError
	switch {
	case errors.Is(err, tool.ErrMissing):
		log.Info("smartctl is not installed; ATA security erase attempted without its check", "error", err)
		return true
	case errors.As(err, &ee) && ee.Code == 127:
		// The exit code of a shell that found no smartctl: IPA accepts it.
	case err != nil:
		log.Warn("refusing ATA secure erase: smartctl cannot send ATA commands to the drive", "error", err)
		return false
	}
	if strings.Contains(string(out), "Unavailable") {
		log.Info("smartctl reports ATA security unavailable: no ATA secure erase")
		return false
	}
	return true
}
