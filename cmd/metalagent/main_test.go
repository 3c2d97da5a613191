package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Binaries built once for the tests: the agent and the plugin host's test
// plugin.
var agentBin, testPlugin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "metalagent-cmd-test")
	if err != nil {
		panic(err)
	}
	agentBin, testPlugin = filepath.Join(dir, "metalagent"), filepath.Join(dir, "testplugin")
	for out, pkg := range map[string]string{agentBin: ".", testPlugin: "../../agent/pluginhost/testdata/testplugin"} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			panic("build " + pkg + ": " + err.Error() + "\n" + string(b))
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pluginDir makes a directory holding the test plugin under each name.
func pluginDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// agentArgs are the flags every run gets: an empty kernel command line.
func agentArgs(t *testing.T, args ...string) []string {
	t.Helper()
	cmdline := filepath.Join(t.TempDir(), "cmdline")
	if err := os.WriteFile(cmdline, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return append(args, "--cmdline-file", cmdline)
}

// runAgent runs the agent binary and returns stdout, stderr and the exit
// code.
func runAgent(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(agentBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _ := procStat(child); ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// procStat returns a process's parent and state ('Z' for a zombie), or
// 0 and 0 when it does not exist.
func procStat(pid int) (int, byte) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	rest := string(b[bytes.LastIndexByte(b, ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 2 {
		return 0, 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid, f[0][0]
}

func TestSIGKILLedAgentLeavesNoPlugin(t *testing.T) {
	dir := pluginDir(t, "a-1", "b-2")
	cmd := exec.Command(agentBin, agentArgs(t, "--standalone", "--listen-host", "127.0.0.1", "--listen-port", "0", "--plugin-dir", dir)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var kids []int
	for deadline := time.Now().Add(20 * time.Second); len(kids) < 2 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		kids = children(cmd.Process.Pid)
	}
	if len(kids) != 2 {
		t.Fatalf("agent has children %v, want its 2 plugins; log:\n%s", kids, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(time.Second)
	for _, pid := range kids {
		for {
			_, state := procStat(pid)
			if state == 0 || state == 'Z' { // gone, or dead and awaiting its new parent's reaping
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("plugin process %d survived the agent's SIGKILL (state %c)", pid, state)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestPluginsCommand(t *testing.T) {
	dir := pluginDir(t, "vendor-3", "generic-1")
	// Without a manifest: unverified, and refused when one is required.
	out, stderr, code := runAgent(t, agentArgs(t, "plugins", "--plugin-dir", dir)...)
	if code != 0 || !strings.Contains(out, "not verified (no manifest)") || !strings.Contains(stderr, "checksums are not verified") {
		t.Fatalf("plugins without manifest: exit %d\n%s\n%s", code, out, stderr)
	}
	out, _, code = runAgent(t, agentArgs(t, "plugins", "--plugin-dir", dir, "--require-plugin-manifest")...)
	if code != 1 || strings.Count(out, "refused") != 2 {
		t.Errorf("plugins with a manifest required: exit %d\n%s", code, out)
	}

	// The manifest subcommand, then every plugin verified.
	if _, stderr, code := runAgent(t, "plugins", "manifest", dir); code != 0 {
		t.Fatalf("plugins manifest: exit %d: %s", code, stderr)
	}
	out, stderr, code = runAgent(t, agentArgs(t, "plugins", "--plugin-dir", dir, "--require-plugin-manifest")...)
	if code != 0 || strings.Count(out, " verified ") != 2 {
		t.Fatalf("plugins with the manifest: exit %d\n%s\n%s", code, out, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, want := range []string{"ORDER", "vendor-3", "generic-1", "metalagent-builtin"} {
		if i >= len(lines) || !strings.Contains(lines[i], want) {
			t.Errorf("line %d is not %s:\n%s", i, want, out)
		}
	}

	// A swapped binary is refused, naming the file.
	if err := os.WriteFile(filepath.Join(dir, "generic-1.new"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "generic-1.new"), filepath.Join(dir, "generic-1")); err != nil {
		t.Fatal(err)
	}
	out, _, code = runAgent(t, agentArgs(t, "plugins", "--plugin-dir", dir)...)
	if code != 1 || !strings.Contains(out, "mismatch") || !strings.Contains(out, filepath.Join(dir, "generic-1")+" has sha256") {
		t.Errorf("swapped plugin: exit %d\n%s", code, out)
	}
}

func TestToolCommands(t *testing.T) {
	dir := pluginDir(t, "vendor-3", "generic-1")
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		noStdout bool
	}{
		{name: "steps", args: []string{"steps", "--plugin-dir", dir}, stdout: []string{
			"clean shared_step vendor-3 30 deploy", "clean vendor_step vendor-3 5 raid", "deploy write_image metalagent-builtin 0 deploy"}},
		{name: "steps of one kind", args: []string{"steps", "--plugin-dir", dir, "--kind", "service"}, stdout: []string{"service shared_step vendor-3 30"}},
		{name: "steps with a bad kind", args: []string{"steps", "--kind", "bake"}, code: 2, stderr: []string{"--kind"}},
		{name: "inventory by plugin", args: []string{"inventory", "--plugin-dir", dir, "--by-plugin"}, stdout: []string{`"vendor-3"`, `"hostname"`, `"/dev/sda"`}},
		{name: "run-step needs an allow-list", args: []string{"run-step", "vendor_step", "--plugin-dir", dir}, code: 2,
			stderr: []string{"--allowed-disks"}, noStdout: true},
		{name: "run-step with bad args", args: []string{"run-step", "vendor_step", "--args", "[1]", "--allowed-disks", "/dev/loop7"}, code: 2,
			stderr: []string{"JSON object"}},
		{name: "run-step", args: []string{"run-step", "vendor_step", "--plugin-dir", dir, "--allowed-disks", "/dev/loop7"},
			stdout: []string{`"done by vendor"`}},
		{name: "run-step of a step nobody has", args: []string{"run-step", "nope", "--plugin-dir", dir, "--allowed-disks", "/dev/loop7"},
			code: 1, stderr: []string{"HardwareManagerMethodNotFound"}},
		{name: "run-step crash names the plugin", args: []string{"run-step", "crash", "--plugin-dir", dir, "--allowed-disks", "/dev/loop7"},
			code: 1, stderr: []string{"PluginError", "plugin vendor-3 exited while running crash"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runAgent(t, agentArgs(t, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.code, out, stderr)
			}
			// Table columns are compared with single spaces.
			var flat []string
			for _, l := range strings.Split(out, "\n") {
				flat = append(flat, strings.Join(strings.Fields(l), " "))
			}
			for _, w := range tt.stdout {
				if !strings.Contains(strings.Join(flat, "\n"), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if tt.noStdout && out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
}
