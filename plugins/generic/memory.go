package generic

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// memory builds IPA's Memory: total is MemTotal of /proc/meminfo in bytes
// (psutil's virtual_memory().total), physical_mb the summed size of the
// SMBIOS memory devices (type 17) in MiB, as lshw's memory banks give it.
// Without SMBIOS memory devices physical_mb is the online memory blocks of
// /sys/devices/system/memory in MiB, or null when there are none.
func (s system) memory(log hclog.Logger) (*sdk.Memory, error) {
	total, err := s.memTotal()
	if err != nil {
		return nil, err
	}
	return &sdk.Memory{Total: total, PhysicalMB: s.installedMB(log)}, nil
}

// installedMB returns memory's physical_mb: the SMBIOS memory devices'
// total, else the online memory blocks', else nil.
func (s system) installedMB(log hclog.Logger) *int {
	if mb, ok := s.smbios(log).physicalMB(); ok {
		return &mb
	}
	if mb, err := s.physicalMB(); err == nil && mb > 0 {
		return &mb
	}
	return nil
}

// memTotal returns MemTotal of /proc/meminfo in bytes.
func (s system) memTotal() (int64, error) {
	path := filepath.Join(s.procRoot, "meminfo")
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read memory info: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse MemTotal in %s: %w", path, err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read memory info: %w", err)
	}
	return 0, fmt.Errorf("no MemTotal in %s", path)
}

// physicalMB returns the size of the online memory blocks in MiB:
// block_size_bytes (hexadecimal) times the blocks whose online attribute
// is 1 (or whose state is "online" where there is no such attribute).
func (s system) physicalMB() (int, error) {
	dir := filepath.Join(s.sysRoot, "devices", "system", "memory")
	hex, err := readString(filepath.Join(dir, "block_size_bytes"))
	if err != nil {
		return 0, fmt.Errorf("memory block size: %w", err)
	}
	blockSize, err := strconv.ParseUint(strings.TrimPrefix(hex, "0x"), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("parse memory block size %q: %w", hex, err)
	}
	blocks, err := filepath.Glob(filepath.Join(dir, "memory[0-9]*"))
	if err != nil {
		return 0, fmt.Errorf("list memory blocks: %w", err)
	}
	var online uint64
	for _, b := range blocks {
		if v, err := readString(filepath.Join(b, "online")); err == nil {
			if v == "1" {
				online++
			}
			continue
		}
		if v, err := readString(filepath.Join(b, "state")); err == nil && v == "online" {
			online++
		}
	}
	return int(online * blockSize / (1 << 20)), nil
}
