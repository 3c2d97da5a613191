//go:build bench

package bench

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metalagent/metalagent/agent/pluginhost"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// agentGOMAXPROCS is the agent's default --plugin-gomaxprocs.
const agentGOMAXPROCS = 1

// testPlugin builds the host's test plugin (agent/pluginhost/testdata) once.
func testPlugin(tb testing.TB) string {
	tb.Helper()
	root := repoRoot(tb)
	out := filepath.Join(os.TempDir(), "metalagent-bench-testplugin")
	cmd := exec.Command("go", "build", "-o", out, "./agent/pluginhost/testdata/testplugin")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build test plugin: %v\n%s", err, b)
	}
	return out
}

// pluginDir holds copies of the plugin under the given names.
func pluginDir(tb testing.TB, bin string, names ...string) string {
	tb.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// BenchmarkLaunch measures launching plugins to their first answered
// calls (exec, handshake, AutoMTLS, support level and version), one and
// four in parallel, beside exec of /bin/true.
func BenchmarkLaunch(b *testing.B) {
	bin := testPlugin(b)
	b.Run("baseline-exec-bin-true", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, n := range []int{1, 4} {
		names := make([]string, n)
		for i := range names {
			names[i] = "p" + strconv.Itoa(i) + "-1"
		}
		dir := pluginDir(b, bin, names...)
		b.Run(strconv.Itoa(n)+"-plugins-mtls", func(b *testing.B) {
			for b.Loop() {
				h, err := pluginhost.Start(context.Background(), pluginhost.Options{Dirs: []string{dir}, GOMAXPROCS: agentGOMAXPROCS})
				if err != nil {
					b.Fatal(err)
				}
				if len(h.Managers()) != n {
					b.Fatalf("%d managers, want %d", len(h.Managers()), n)
				}
				h.Close()
			}
		})
	}
}

// inProcess is the test plugin's shared_step answered in process: the
// baseline for a dispatched call.
type inProcess struct{}

func (inProcess) EvaluateHardwareSupport(context.Context, sdk.HostConfig) (sdk.SupportLevel, error) {
	return sdk.SupportGeneric, nil
}
func (inProcess) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: "x", Version: "1"}, nil
}
func (inProcess) Inventory(context.Context) (*sdk.Inventory, error) {
	return &sdk.Inventory{}, nil
}
func (inProcess) Steps(context.Context, sdk.StepsRequest) ([]sdk.Step, error) { return nil, nil }
func (inProcess) Execute(context.Context, sdk.ExecuteRequest) (json.RawMessage, error) {
	return json.Marshal("inproc")
}

// BenchmarkDispatch measures one small call through the host's dispatch to
// a plugin process, beside the same dispatch to an in-process manager, and
// reports the median and p99.
func BenchmarkDispatch(b *testing.B) {
	bin := testPlugin(b)
	remote, err := pluginhost.Start(context.Background(), pluginhost.Options{Dirs: []string{pluginDir(b, bin, "remote-1")}, GOMAXPROCS: agentGOMAXPROCS})
	if err != nil {
		b.Fatal(err)
	}
	defer remote.Close()
	// The same plugin with the Go runtime's default GOMAXPROCS (2 here).
	remoteDefault, err := pluginhost.Start(context.Background(), pluginhost.Options{Dirs: []string{pluginDir(b, bin, "remote-1")}})
	if err != nil {
		b.Fatal(err)
	}
	defer remoteDefault.Close()
	local, err := pluginhost.Start(context.Background(), pluginhost.Options{Builtins: []pluginhost.Builtin{{Name: "local", Manager: inProcess{}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer local.Close()
	req := sdk.ExecuteRequest{Method: "shared_step", Args: json.RawMessage(`{}`), Node: json.RawMessage(`{}`)}
	for _, tc := range []struct {
		name string
		h    *pluginhost.Host
	}{{"baseline-in-process", local}, {"plugin-process-grpc-mtls", remote}, {"plugin-process-grpc-mtls-default-gomaxprocs", remoteDefault}} {
		b.Run(tc.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := tc.h.Dispatch(context.Background(), req); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "µs-p50")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "µs-p99")
		})
	}
}

// rssKiB reads a process's resident set size.
func rssKiB(tb testing.TB, pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	tb.Fatalf("no VmRSS for %d", pid)
	return 0
}

// childPIDs lists a process's children by scanning /proc for their parent.
func childPIDs(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name, which ends with the last ')'.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		if f := strings.Fields(rest); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

// BenchmarkIdleMemory reports the resident memory of a standalone agent
// with the generic plugin loaded and idle, and of its plugin processes.
func BenchmarkIdleMemory(b *testing.B) {
	root := repoRoot(b)
	cmdline := filepath.Join(b.TempDir(), "cmdline")
	if err := os.WriteFile(cmdline, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	var host, plugins int
	for b.Loop() {
		port := freePort(b)
		cmd := exec.Command(filepath.Join(root, "bin", "metalagent"), "--standalone", "--listen-host", "127.0.0.1",
			"--listen-port", strconv.Itoa(port), "--plugin-dir", filepath.Join(root, "bin", "plugins"),
			"--cmdline-file", cmdline, "--allowed-disks", "/dev/nonexistent", "--disk-wait-attempts", "1")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		waitReady(b, "http://127.0.0.1:"+strconv.Itoa(port)+"/v1/status")
		time.Sleep(300 * time.Millisecond) // idle
		host = rssKiB(b, cmd.Process.Pid)
		plugins = 0
		for _, c := range childPIDs(cmd.Process.Pid) {
			plugins += rssKiB(b, c)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	b.ReportMetric(float64(host)/1024, "MiB-host-rss")
	b.ReportMetric(float64(plugins)/1024, "MiB-plugins-rss")
}
