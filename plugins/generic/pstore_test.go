package generic

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// pstoreRecords are files as the kernel's ramoops and efi-pstore back-ends
// name them.
var pstoreRecords = []string{"console-ramoops-0", "dmesg-efi-170000000001001", "dmesg-ramoops-0"}

// pstoreSystem builds a temporary sysfs with fs/pstore holding
// pstoreRecords (unless noDir) and a procfs whose mountinfo lists mounts
// (lines after the root's; "DIR" stands for the pstore directory).
func pstoreSystem(t *testing.T, noDir bool, mounts ...string) (system, string) {
	t.Helper()
	root := t.TempDir()
	s := system{sysRoot: filepath.Join(root, "sys"), procRoot: filepath.Join(root, "proc")}
	dir := filepath.Join(s.sysRoot, "fs", "pstore")
	if !noDir {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, r := range pstoreRecords {
			if err := os.WriteFile(filepath.Join(dir, r), []byte("Oops: panic in a previous tenant's kernel\n"), 0o444); err != nil {
				t.Fatal(err)
			}
		}
	}
	info := "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n" +
		"23 22 0:21 / " + filepath.Join(root, "sys") + " rw,nosuid shared:2 - sysfs sysfs rw\n"
	for _, m := range mounts {
		info += strings.ReplaceAll(m, "DIR", strings.ReplaceAll(dir, " ", `\040`)) + "\n"
	}
	if err := os.MkdirAll(filepath.Join(s.procRoot, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.procRoot, "self", "mountinfo"), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestErasePstore(t *testing.T) {
	const (
		pstoreMount = "30 23 0:30 / DIR rw,nosuid,nodev,noexec,relatime shared:9 - pstore pstore rw"
		tmpfsMount  = "31 23 0:45 / DIR rw,relatime - tmpfs tmpfs rw,size=1024k"
	)
	tests := []struct {
		name     string
		noDir    bool
		mounts   []string
		canMount bool
		mountErr error
		wantOps  []string // mount and unmount calls
		wantLeft []string // entries left in the directory
	}{
		{"pstore mounted", false, []string{pstoreMount}, true, nil, nil, nil},
		{"tmpfs mounted over it (the rig)", false, []string{pstoreMount, tmpfsMount}, true, nil, nil, nil},
		{"nothing mounted: mount, erase, unmount", false, nil, true, nil, []string{"mount", "unmount"}, nil},
		{"nothing mounted, kernel without pstore", false, nil, true, unix.ENODEV, []string{"mount"}, pstoreRecords},
		{"no pstore directory", true, nil, true, unix.ENOENT, []string{"mount"}, nil},
		{"nothing mounted, cannot mount", false, nil, false, nil, nil, pstoreRecords},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := pstoreSystem(t, tt.noDir, tt.mounts...)
			var ops []string
			if tt.canMount {
				s.mountPstore = func(d string) error {
					if d != dir {
						t.Errorf("mount on %s, want %s", d, dir)
					}
					ops = append(ops, "mount")
					return tt.mountErr
				}
				s.unmountPstore = func(d string) error {
					if d != dir {
						t.Errorf("unmount %s, want %s", d, dir)
					}
					ops = append(ops, "unmount")
					return nil
				}
			}
			m := newManager(s, testLogger(t))
			res, err := m.Execute(context.Background(), sdk.ExecuteRequest{Method: stepErasePstore, Kind: sdk.StepKindClean})
			if err != nil || string(res) != "null" {
				t.Fatalf("erase_pstore: %s, %v; want null", res, err)
			}
			if diff := cmp.Diff(tt.wantOps, ops); diff != "" {
				t.Errorf("mounts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantLeft, listDir(t, dir)); diff != "" {
				t.Errorf("left in %s (-want +got):\n%s", dir, diff)
			}
		})
	}
}

func TestErasePstoreSubdirectoryAndCancel(t *testing.T) {
	s, dir := pstoreSystem(t, false, "30 23 0:30 / DIR rw - pstore pstore rw")
	if err := os.MkdirAll(filepath.Join(dir, "efi", "nested"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := newManager(s, testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Execute(ctx, sdk.ExecuteRequest{Method: stepErasePstore}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v, want context.Canceled", err)
	}
	if got := listDir(t, dir); len(got) != 4 {
		t.Errorf("a cancelled step removed records: %v left", got)
	}
	if _, err := m.Execute(context.Background(), sdk.ExecuteRequest{Method: stepErasePstore, Kind: sdk.StepKindClean}); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("left: %v", got)
	}
}

func TestMountedAt(t *testing.T) {
	root := t.TempDir()
	proc := filepath.Join(root, "proc")
	if err := os.MkdirAll(filepath.Join(proc, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	info := `22 1 254:0 / / rw - ext4 /dev/vda rw
30 22 0:30 / /sys/fs/pstore rw - pstore pstore rw
31 22 0:31 / /mnt/with\040space rw - tmpfs tmpfs rw
32 30 0:32 / /sys/fs/pstore rw - tmpfs canary rw
`
	if err := os.WriteFile(filepath.Join(proc, "self", "mountinfo"), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir, fstype string
		mounted     bool
	}{
		{"/sys/fs/pstore", "tmpfs", true},
		{"/sys/fs/pstore/", "tmpfs", true},
		{"/mnt/with space", "tmpfs", true},
		{"/sys/fs", "", false},
	}
	for _, tt := range tests {
		fstype, mounted, err := mountedAt(proc, tt.dir)
		if err != nil || fstype != tt.fstype || mounted != tt.mounted {
			t.Errorf("mountedAt(%q) = %q, %v, %v; want %q, %v", tt.dir, fstype, mounted, err, tt.fstype, tt.mounted)
		}
	}
	if _, _, err := mountedAt(filepath.Join(root, "none"), "/sys/fs/pstore"); err == nil {
		t.Error("no mountinfo: no error")
	}
}

// TestErasePstoreTmpfs does what the Ironic rig does: a tmpfs mounted
// on <sys>/fs/pstore with canary files, found through the real
// /proc/self/mountinfo. The files go, and the tmpfs stays mounted: the
// step unmounts only what it mounted.
func TestErasePstoreTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	sysRoot := t.TempDir()
	dir := filepath.Join(sysRoot, "fs", "pstore")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount the test's tmpfs: %v", err)
		}
	})
	for _, r := range pstoreRecords {
		if err := os.WriteFile(filepath.Join(dir, r), []byte("canary\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := system{sysRoot: sysRoot, procRoot: "/proc", mountPstore: func(string) error {
		t.Error("mounted pstore over a mounted tmpfs")
		return errors.New("no")
	}, unmountPstore: func(string) error {
		t.Error("unmounted what the step did not mount")
		return errors.New("no")
	}}
	m := newManager(s, testLogger(t))
	res, err := m.Execute(context.Background(), sdk.ExecuteRequest{Method: stepErasePstore, Kind: sdk.StepKindClean, Node: json.RawMessage(`{"uuid": "test"}`)})
	if err != nil || string(res) != "null" {
		t.Fatalf("erase_pstore: %s, %v", res, err)
	}
	if left := listDir(t, dir); len(left) != 0 {
		t.Errorf("left: %v", left)
	}
	fstype, mounted, err := mountedAt("/proc", dir)
	if err != nil || !mounted || fstype != "tmpfs" {
		t.Errorf("after the step: %q, %v, %v; want the tmpfs still mounted", fstype, mounted, err)
	}
	if out, err := exec.Command("findmnt", "-n", "-o", "FSTYPE", dir).Output(); err == nil && strings.TrimSpace(string(out)) != "tmpfs" {
		t.Errorf("findmnt says %q", out)
	}
}
