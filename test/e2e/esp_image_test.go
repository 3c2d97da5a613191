//go:build e2e

package e2e

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// imageESPFixture is the EFI system partition put into the test image's
// partition 1: a Debian-like shim layout whose EFI/debian/BOOTX64.CSV
// names shimx64.efi with the label "debian" (made by
// agent/esp/testdata/make-fixtures.sh).
const imageESPFixture = "agent/esp/testdata/esp-debian.fat16.gz"

// imageESPOffset is where partition 1 of the test image starts (sector 2048).
const imageESPOffset = 2048 * sectorSize

// The NVRAM entry install_bootloader must make for the test image.
const (
	imageESPLabel  = "debian"
	imageESPLoader = `\EFI\debian\shimx64.efi`
)

// writeImageESP writes the ESP fixture into the image file at path, at
// the start of its partition 1, so that install_bootloader finds a boot
// loader there.
func writeImageESP(path string) error {
	root, err := findRepoRoot()
	if err != nil {
		return err
	}
	in, err := os.Open(filepath.Join(root, imageESPFixture))
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return fmt.Errorf("%s: %w", imageESPFixture, err)
	}
	fat, err := io.ReadAll(zr)
	if err != nil {
		return fmt.Errorf("%s: %w", imageESPFixture, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(fat, imageESPOffset); err != nil {
		f.Close()
		return fmt.Errorf("write the ESP into %s: %w", path, err)
	}
	return f.Close()
}

// efibootmgrRecorded returns a check that the boot's sandbox recorded
// install_bootloader's efibootmgr command lines for the test image on the
// node's disk (and ran none of them), and the power-off of tear_down_agent.
func (r *rig) efibootmgrRecorded(sb string) func(context.Context) error {
	return func(context.Context) error {
		recs, err := readSandbox(sb)
		if err != nil {
			return err
		}
		want := fmt.Sprintf(`efibootmgr -v -c -d %s -p 1 -w -L %s -l '%s'`, r.disk.dev, imageESPLabel, imageESPLoader)
		var lines []string
		created, powered := false, false
		for _, rec := range recs {
			cmd, _ := rec.Arguments["command"].(string)
			lines = append(lines, rec.Action+" "+cmd)
			switch {
			case rec.Action == "run" && cmd == want && rec.CommandID != "":
				created = true
				logf("sandbox record of command %s: %s (%s)", rec.CommandID, cmd, rec.Effect)
			case rec.Action == "power" && rec.Arguments["action"] == "power off":
				powered = true
			}
		}
		if !created {
			return fmt.Errorf("no record of %q; records:\n%s", want, strings.Join(lines, "\n"))
		}
		if !powered {
			return fmt.Errorf("no record of the power off; records:\n%s", strings.Join(lines, "\n"))
		}
		return nil
	}
}
