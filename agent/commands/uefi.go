package commands

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/esp"
	"github.com/metalagent/metalagent/agent/ipa"
)

// bootRecord is a line of `efibootmgr -v`: Boot0003* debian HD(...)...
var bootRecord = regexp.MustCompile(`^Boot([0-9a-fA-F]+)\*?\s(.*)$`)

// manageUEFI finds the ESP of dev (the partition typed as one, else the
// one with espUUID), reads its boot loaders in place and writes an NVRAM
// entry for each with efibootmgr, removing first the entries with the
// same label, as IPA's efi_utils.manage_uefi does. An ESP without a boot
// loader writes nothing (done false); no ESP at all is DeviceNotFound.
func (d *Deps) manageUEFI(ctx context.Context, log hclog.Logger, dev, espUUID string) (bool, error) {
	rereadPartitions(log, dev)
	f, err := os.Open(dev)
	if err != nil {
		return false, ipa.New("CommandExecutionError", "Could not configure UEFI boot on device %s: %v", dev, err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return false, ipa.New("CommandExecutionError", "Could not configure UEFI boot on device %s: size: %v", dev, err)
	}
	part, ok, err := esp.Find(f, size, espUUID)
	if err != nil {
		return false, ipa.New("CommandExecutionError", "Could not configure UEFI boot on device %s: %v", dev, err)
	}
	if !ok {
		return false, ipa.New("DeviceNotFound", "No EFI partition could be detected on device %s and EFI partition UUID has not been recorded during deployment (which is often the case for whole disk images). Are you using a UEFI-compatible image?", dev)
	}
	log = log.With("esp_partition", part.Number)
	fs, err := esp.OpenFAT(f, part.Offset, part.Size)
	if err != nil {
		return false, ipa.New("CommandExecutionError", "Could not configure UEFI boot on device %s: EFI system partition %d: %v", dev, part.Number, err)
	}
	loaders, err := esp.FindLoaders(fs)
	if err != nil {
		return false, ipa.New("CommandExecutionError", "Could not configure UEFI boot on device %s: read EFI system partition %d: %v", dev, part.Number, err)
	}
	if len(loaders) == 0 {
		log.Warn("empty EFI partition: no boot loader found, no NVRAM entry written")
		return false, nil
	}
	entries, err := esp.BootEntries(fs, loaders)
	if err != nil {
		return false, ipa.New("CommandExecutionError", "Could not configure UEFI boot on device %s: %v", dev, err)
	}
	records, err := d.bootRecords(ctx)
	if err != nil {
		return false, ipa.New("CommandExecutionError", "Could not configure UEFI boot on device %s: %v", dev, err)
	}
	for _, e := range entries {
		for _, r := range records {
			if !strings.Contains(r.text, e.Label) {
				continue
			}
			effect := fmt.Sprintf("NVRAM boot entry Boot%s (%s) would be removed", r.num, r.text)
			if _, err := d.Sandbox.Run(ctx, d.tools(), effect, "efibootmgr", "-b", r.num, "-B"); err != nil {
				return false, ipa.New("CommandExecutionError", "Could not configure UEFI boot on device %s: %v", dev, err)
			}
		}
		log.Info("adding UEFI boot entry", "loader", e.Loader, "label", e.Label, "from", e.From)
		effect := fmt.Sprintf("NVRAM boot entry %q would start %s from partition %d of %s, first in the boot order", e.Label, e.Loader, part.Number, dev)
		if _, err := d.Sandbox.Run(ctx, d.tools(), effect,
			"efibootmgr", "-v", "-c", "-d", dev, "-p", strconv.Itoa(part.Number), "-w", "-L", e.Label, "-l", e.Loader); err != nil {
			return false, ipa.New("CommandExecutionError", "Could not configure UEFI boot on device %s: %v", dev, err)
		}
	}
	return true, nil
}

// nvramRecord is a boot entry efibootmgr lists.
type nvramRecord struct{ num, text string }

// bootRecords lists the NVRAM boot entries (`efibootmgr -v`); in a
// sandbox the command is recorded and there are none.
func (d *Deps) bootRecords(ctx context.Context) ([]nvramRecord, error) {
	out, err := d.Sandbox.Run(ctx, d.tools(), "reads the NVRAM boot entries (none in the sandbox)", "efibootmgr", "-v")
	if err != nil {
		return nil, fmt.Errorf("list NVRAM boot entries: %w", err)
	}
	var recs []nvramRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := bootRecord.FindStringSubmatch(sc.Text()); m != nil {
			recs = append(recs, nvramRecord{num: m[1], text: m[2]})
		}
	}
	return recs, nil
}
