// Package blockdev holds the block-device safety rules every metalagent
// component that touches disks shares: the operator's allow-list and the
// refusal to write to a disk that is in use (mounted, swap, or held by a
// device-mapper or md device).
package blockdev

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// AllowList is the operator's list of block devices the agent may see and
// touch. The zero value allows every device.
type AllowList struct {
	paths map[string]bool
}

// NewAllowList returns an allow-list of the given device paths; symbolic
// links (such as /dev/disk/by-id names) are resolved.
func NewAllowList(paths []string) AllowList {
	if len(paths) == 0 {
		return AllowList{}
	}
	a := AllowList{paths: make(map[string]bool, len(paths))}
	for _, p := range paths {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		a.paths[resolve(p)] = true
	}
	return a
}

// Limited reports whether the list limits anything.
func (a AllowList) Limited() bool { return len(a.paths) > 0 }

// Allows reports whether dev may be used.
func (a AllowList) Allows(dev string) bool {
	if !a.Limited() {
		return true
	}
	return a.paths[resolve(dev)]
}

// Paths returns the listed devices, sorted.
func (a AllowList) Paths() []string {
	out := make([]string, 0, len(a.paths))
	for p := range a.paths {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// Checker finds whether a block device is in use. The zero value reads the
// running system's /sys and /proc; tests point the roots at fixtures.
type Checker struct {
	// SysRoot and ProcRoot default to "/sys" and "/proc".
	SysRoot, ProcRoot string
}

func (c Checker) sys() string {
	if c.SysRoot == "" {
		return "/sys"
	}
	return c.SysRoot
}

func (c Checker) proc() string {
	if c.ProcRoot == "" {
		return "/proc"
	}
	return c.ProcRoot
}

// CheckNotInUse returns a ProtectedDeviceError when the device, one of its
// partitions or one of their holders is mounted or used as swap, so that a
// destructive step never touches the machine's own disks.
func (c Checker) CheckNotInUse(dev string) error {
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return fmt.Errorf("stat %s: %w", dev, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return sdk.HardwareError("ProtectedDeviceError", "%s is not a block device", dev)
	}
	id := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	return c.checkDevID(dev, id)
}

// checkDevID does CheckNotInUse for the device with sysfs id "major:minor".
func (c Checker) checkDevID(dev, id string) error {
	names, ids := c.family(id)
	mounts, err := c.mounts()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if ids[m.id] || names[filepath.Base(resolve(m.source))] {
			return sdk.HardwareError("ProtectedDeviceError",
				"refusing to touch %s: %s is mounted on %s", dev, m.source, m.point)
		}
	}
	swaps, err := c.swaps()
	if err != nil {
		return err
	}
	for _, s := range swaps {
		if names[filepath.Base(resolve(s))] {
			return sdk.HardwareError("ProtectedDeviceError", "refusing to touch %s: %s is in use as swap", dev, s)
		}
	}
	return nil
}

// family returns the kernel names and ids of the device with id, its
// partitions and everything that holds them (device-mapper, md).
func (c Checker) family(id string) (names, ids map[string]bool) {
	names, ids = map[string]bool{}, map[string]bool{id: true}
	link, err := os.Readlink(filepath.Join(c.sys(), "dev", "block", id))
	if err != nil {
		return names, ids
	}
	dir := filepath.Join(c.sys(), "dev", "block", link)
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		if depth > 8 {
			return
		}
		name := filepath.Base(dir)
		names[name] = true
		if b, err := os.ReadFile(filepath.Join(dir, "dev")); err == nil {
			ids[strings.TrimSpace(string(b))] = true
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), name) {
				if _, err := os.Stat(filepath.Join(dir, e.Name(), "partition")); err == nil {
					walk(filepath.Join(dir, e.Name()), depth+1)
				}
			}
		}
		holders, _ := os.ReadDir(filepath.Join(dir, "holders"))
		for _, h := range holders {
			walk(filepath.Join(c.sys(), "class", "block", h.Name()), depth+1)
		}
	}
	walk(dir, 0)
	return names, ids
}

type mount struct{ id, source, point string }

// mounts parses mountinfo: field 3 is major:minor, field 5 the mount point,
// and the first field after " - " and the fs type is the source.
func (c Checker) mounts() ([]mount, error) {
	f, err := os.Open(filepath.Join(c.proc(), "self", "mountinfo"))
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	var out []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 2 {
			continue
		}
		out = append(out, mount{id: pf[2], point: pf[4], source: qf[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return out, nil
}

// swaps lists the active swap devices from /proc/swaps.
func (c Checker) swaps() ([]string, error) {
	b, err := os.ReadFile(filepath.Join(c.proc(), "swaps"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read swaps: %w", err)
	}
	var out []string
	for i, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); i > 0 && len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out, nil
}

// VirtualMediaDevice returns the /dev path of the disk Ironic attached as
// virtual media (filesystem label ir-vfd-dev), or "" when there is none.
// devRoot is "/dev" outside tests.
func VirtualMediaDevice(devRoot string) string {
	link := filepath.Join(devRoot, "disk", "by-label", "ir-vfd-dev")
	target, err := os.Readlink(link)
	if err != nil {
		return ""
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(link), target)
	}
	rel, err := filepath.Rel(devRoot, filepath.Clean(target))
	if err != nil || strings.HasPrefix(rel, "..") {
		return ""
	}
	return "/dev/" + rel
}
