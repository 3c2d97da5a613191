//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every agent boot runs in a private mount namespace with a tmpfs over
// /sys/fs/pstore that holds canary records, so that the erase_pstore
// clean step can be tested without touching the build machine's own
// pstore. The namespace is made by unshare(1) and a short shell script
// that mounts the tmpfs, writes the canaries and then execs the agent:
// no fork happens, so the PID the rig started, signals and stops is the
// agent's own (bootAgent checks this through /proc/PID/exe).

// pstoreDir is where the kernel mounts pstore and where IPA's
// erase_pstore looks for it.
const pstoreDir = "/sys/fs/pstore"

// pstoreMountSource is the tmpfs's source name. /proc/mounts then shows
// "pstore /sys/fs/pstore tmpfs": the device and mount point of a real
// pstore, but not its file-system type (see README.md).
const pstoreMountSource = "pstore"

// pstoreCanaries are the records each boot finds in its pstore: the
// names ramoops gives a crash dump and a console log.
var pstoreCanaries = []string{"dmesg-ramoops-0", "dmesg-ramoops-1", "console-ramoops-0"}

// namespaceTools are the commands that set up a boot's namespace.
var namespaceTools = []string{"unshare", "mount", "sh"}

// pstoreCanaryText is the content of a canary record.
func pstoreCanaryText(name string) string {
	return "metalagent-e2e pstore canary " + name + "\n"
}

// namespaceScript is the shell script that runs inside the new mount
// namespace: it mounts the tmpfs over the pstore directory, writes the
// canaries and replaces itself with the agent ("$@").
func namespaceScript() string {
	var b strings.Builder
	b.WriteString("set -eu\n")
	fmt.Fprintf(&b, "mount -t tmpfs -o size=64k,mode=0750,nosuid,nodev,noexec %s %s\n", pstoreMountSource, pstoreDir)
	for _, name := range pstoreCanaries {
		fmt.Fprintf(&b, "printf '%%s' '%s' > %s\n", pstoreCanaryText(name), filepath.Join(pstoreDir, name))
	}
	b.WriteString("exec \"$@\"\n")
	return b.String()
}

// inBootNamespace wraps an agent command line so that it runs in a
// private mount namespace with the canary pstore. The mount propagation
// is private, so nothing mounted there reaches the build machine.
func inBootNamespace(argv []string) []string {
	return append([]string{"unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", namespaceScript(), "metalagent-e2e-boot"}, argv...)
}

// waitForExec waits until the process pid runs the executable exe (the
// namespace script has exec'd the agent), so that the PID the rig holds is
// the agent's. It gives up when the process ends or after timeout.
func waitForExec(p *process, exe string, timeout time.Duration) error {
	want, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", exe, err)
	}
	want, err = filepath.Abs(want)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", exe, err)
	}
	deadline := time.Now().Add(timeout)
	var got string
	for {
		got, err = os.Readlink(fmt.Sprintf("/proc/%d/exe", p.pid()))
		if err == nil && got == want {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("pid %d ended (%s) before it ran %s", p.pid(), p.exitStatus(), want)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d still runs %q, not %s, after %s (readlink: %v)", p.pid(), got, want, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pstoreFiles lists the pstore directory as the process pid sees it, in
// its own mount namespace, through /proc/PID/root. The process must
// still run.
func pstoreFiles(pid int) ([]string, error) {
	dir := fmt.Sprintf("/proc/%d/root%s", pid, pstoreDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list the pstore of pid %d: %w", pid, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

// checkPstoreCanaries checks that every canary is in the boot's pstore
// with its content: the namespace works and the agent sees the records.
func checkPstoreCanaries(pid int) error {
	names, err := pstoreFiles(pid)
	if err != nil {
		return err
	}
	for _, name := range pstoreCanaries {
		if !slices.Contains(names, name) {
			return fmt.Errorf("pstore of pid %d lacks canary %s (has %v)", pid, name, names)
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/root%s/%s", pid, pstoreDir, name))
		if err != nil {
			return fmt.Errorf("read canary %s of pid %d: %w", name, pid, err)
		}
		if string(data) != pstoreCanaryText(name) {
			return fmt.Errorf("canary %s of pid %d reads %q", name, pid, data)
		}
	}
	return nil
}

// hostPstore describes the build machine's own pstore directory: what is
// mounted there (from the rig's own mountinfo) and what it lists. The
// boots' namespaces must leave both unchanged.
func hostPstore() (string, error) {
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	var b strings.Builder
	for _, line := range strings.Split(string(mounts), "\n") {
		// Field 5 of mountinfo is the mount point.
		if f := strings.Fields(line); len(f) > 4 && f[4] == pstoreDir {
			fmt.Fprintf(&b, "mount: %s\n", strings.Join(f[4:], " "))
		}
	}
	entries, err := os.ReadDir(pstoreDir)
	if err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("list %s: %w", pstoreDir, err)
	}
	for _, e := range entries {
		fmt.Fprintf(&b, "file: %s\n", e.Name())
	}
	return b.String(), nil
}

// TestBootNamespace runs the boot wrapper around a shell instead of the
// agent: the shell must see the canaries in its pstore, keep the PID it
// was started with, and leave the machine's pstore as it was.
func TestBootNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (mount namespace)")
	}
	for _, tool := range namespaceTools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	before, err := hostPstore()
	if err != nil {
		t.Fatal(err)
	}
	// The inner shell prints its PID ($$ is the exec'd process's own) and
	// the pstore; exec keeps the PID unshare was started with.
	argv := inBootNamespace([]string{"sh", "-c", `echo pid=$$; for f in /sys/fs/pstore/*; do echo "$f: $(cat "$f")"; done; grep " /sys/fs/pstore " /proc/self/mounts`})
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", argv[:4], err, out)
	}
	text := string(out)
	if want := "pid=" + strconv.Itoa(cmd.Process.Pid) + "\n"; !strings.HasPrefix(text, want) {
		t.Errorf("output starts %q, want %q: the PID changed", firstLine(text, 40), want)
	}
	for _, name := range pstoreCanaries {
		if want := "/sys/fs/pstore/" + name + ": " + strings.TrimSuffix(pstoreCanaryText(name), "\n"); !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if want := "pstore /sys/fs/pstore tmpfs "; !strings.Contains(text, want) {
		t.Errorf("mounts lack %q:\n%s", want, text)
	}
	after, err := hostPstore()
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("the machine's pstore changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
