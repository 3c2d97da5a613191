package blockdev

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// fakeSystem builds a sysfs and proc tree: sda (8:0) with partitions sda1
// (8:1) and sda2 (8:2), sda2 held by dm-0 (253:0); sdb (8:16) alone.
func fakeSystem(t *testing.T, mountinfo, swaps string) Checker {
	t.Helper()
	root := t.TempDir()
	sys, proc := filepath.Join(root, "sys"), filepath.Join(root, "proc")
	mk := func(p, dev string) {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "dev"), []byte(dev+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	blk := filepath.Join(sys, "devices", "pci", "block")
	mk(filepath.Join(blk, "sda"), "8:0")
	mk(filepath.Join(blk, "sda", "sda1"), "8:1")
	mk(filepath.Join(blk, "sda", "sda2"), "8:2")
	mk(filepath.Join(blk, "sdb"), "8:16")
	mk(filepath.Join(sys, "devices", "virtual", "block", "dm-0"), "253:0")
	for _, p := range []string{"sda/sda1", "sda/sda2"} {
		if err := os.WriteFile(filepath.Join(blk, p, "partition"), []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(blk, "sda", "sda2", "holders"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../virtual/block/dm-0", filepath.Join(blk, "sda", "sda2", "holders", "dm-0")); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"dev/block/8:0":    "../../devices/pci/block/sda",
		"dev/block/8:16":   "../../devices/pci/block/sdb",
		"class/block/dm-0": "../../devices/virtual/block/dm-0",
	}
	for l, target := range links {
		p := filepath.Join(sys, l)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(proc, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "self", "mountinfo"), []byte(mountinfo), 0o644); err != nil {
		t.Fatal(err)
	}
	if swaps != "" {
		if err := os.WriteFile(filepath.Join(proc, "swaps"), []byte(swaps), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Checker{SysRoot: sys, ProcRoot: proc}
}

const baseMounts = "22 1 0:21 / /proc rw - proc proc rw\n"

func TestCheckNotInUse(t *testing.T) {
	swapHeader := "Filename Type Size Used Priority\n"
	tests := []struct {
		name, mounts, swaps, dev string
		inUse                    bool
		why                      string
	}{
		{"unused disk", baseMounts, "", "8:16", false, ""},
		{"whole disk mounted by id", baseMounts + "30 1 8:16 / / rw - ext4 /dev/sdb rw\n", "", "8:16", true, "mounted on /"},
		{"partition mounted", baseMounts + "31 1 8:1 / /boot rw - ext4 /dev/sda1 rw\n", "", "8:0", true, "/dev/sda1 is mounted on /boot"},
		{"holder mounted", baseMounts + "32 1 253:0 / /srv rw - xfs /dev/mapper/vg-srv rw\n", "", "8:0", true, "mounted on /srv"},
		{"other disk mounted", baseMounts + "31 1 8:1 / /boot rw - ext4 /dev/sda1 rw\n", "", "8:16", false, ""},
		{"swap partition", baseMounts, swapHeader + "/dev/sda2 partition 1024 0 -2\n", "8:0", true, "swap"},
		{"no swaps file", baseMounts, "", "8:0", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakeSystem(t, tt.mounts, tt.swaps)
			err := c.checkDevID("/dev/x", tt.dev)
			if !tt.inUse {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			if err == nil || sdk.TypeOf(err) != "ProtectedDeviceError" || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("err = %v, want ProtectedDeviceError about %q", err, tt.why)
			}
		})
	}
}

func TestCheckNotInUseRejectsNonBlockDevice(t *testing.T) {
	f := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (Checker{}).CheckNotInUse(f); err == nil || sdk.TypeOf(err) != "ProtectedDeviceError" {
		t.Fatalf("err = %v, want ProtectedDeviceError", err)
	}
}

func TestAllowList(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "loop7")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "by-id-disk")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		list []string
		dev  string
		want bool
	}{
		{nil, "/dev/sda", true},
		{[]string{"/dev/loop3", " "}, "/dev/loop3", true},
		{[]string{"/dev/loop3"}, "/dev/loop30", false},
		{[]string{"/dev/loop3"}, "/dev/sda", false},
		{[]string{link}, target, true},
		{[]string{target}, link, true},
	}
	for _, tt := range tests {
		if got := NewAllowList(tt.list).Allows(tt.dev); got != tt.want {
			t.Errorf("NewAllowList(%v).Allows(%s) = %v, want %v", tt.list, tt.dev, got, tt.want)
		}
	}
	if NewAllowList(nil).Limited() || !NewAllowList([]string{"/dev/x"}).Limited() {
		t.Error("Limited wrong")
	}
}

func TestVirtualMediaDevice(t *testing.T) {
	dev := t.TempDir()
	if got := VirtualMediaDevice(dev); got != "" {
		t.Fatalf("no label: got %q", got)
	}
	if err := os.MkdirAll(filepath.Join(dev, "disk", "by-label"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../sr0", filepath.Join(dev, "disk", "by-label", "ir-vfd-dev")); err != nil {
		t.Fatal(err)
	}
	if got := VirtualMediaDevice(dev); got != "/dev/sr0" {
		t.Errorf("got %q, want /dev/sr0", got)
	}
}
