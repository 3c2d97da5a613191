// Package loopdev gives tests that write to disks a loop device over a
// file of their own, so that no real disk is ever touched. It needs root
// and losetup; without them the test is skipped.
package loopdev

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Require skips the test unless it runs as root with losetup available.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to set up loop devices")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("needs losetup")
	}
}

// NewFile writes a file of size bytes, every byte fill, in the test's
// temporary directory and returns its path.
func NewFile(t testing.TB, size int64, fill byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(file, bytes.Repeat([]byte{fill}, int(size)), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// Attach attaches file to a free loop device, with the kernel scanning its
// partition table when partscan is set, and detaches it when the test
// ends. It returns the device's path; a losetup failure skips the test.
func Attach(t testing.TB, file string, partscan bool) string {
	t.Helper()
	Require(t)
	args := []string{"--find", "--show"}
	if partscan {
		args = append(args, "--partscan")
	}
	out, err := exec.Command("losetup", append(args, file)...).CombinedOutput()
	if err != nil {
		t.Skipf("losetup %v: %v: %s", args, err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("detach %s: %v: %s", dev, err, out)
		}
	})
	return dev
}

// ReadAt returns n bytes of file at offset off.
func ReadAt(t testing.TB, file string, off, n int64) []byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}
