package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metalagent/metalagent/agent/ipa"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// infoOf returns the host's record of the named plugin.
func infoOf(t *testing.T, h *Host, name string) PluginInfo {
	t.Helper()
	for _, p := range h.Plugins() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no plugin %s in %+v", name, h.Plugins())
	return PluginInfo{}
}

// pluginError asserts err is a PluginError whose details contain every
// string of want.
func pluginError(t *testing.T, err error, want ...string) {
	t.Helper()
	var ierr *ipa.Error
	if !errors.As(err, &ierr) || ierr.Type != "PluginError" {
		t.Fatalf("err = %v, want a PluginError", err)
	}
	for _, w := range want {
		if !strings.Contains(ierr.Details, w) {
			t.Errorf("PluginError %q does not contain %q", ierr.Details, w)
		}
	}
}

// pidOf asks the highest manager for its process id (waiting for a
// restart in progress).
func pidOf(t *testing.T, h *Host) int {
	t.Helper()
	res, err := h.Dispatch(context.Background(), sdk.ExecuteRequest{Method: "pid", Kind: sdk.StepKindClean})
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := json.Unmarshal(res, &pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitGone waits until process pid no longer exists.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return
		}
	}
	t.Errorf("plugin process %d still exists", pid)
}

// waitState waits until the named plugin leaves StateRestarting.
func waitSettled(t *testing.T, h *Host, name string) PluginInfo {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if p := infoOf(t, h, name); p.State != StateRestarting {
			return p
		}
	}
	t.Fatalf("plugin %s still restarting", name)
	return PluginInfo{}
}

func TestBadPluginsAtStart(t *testing.T) {
	h := startHost(t, pluginDir(t, "good-1", "exitstart-1", "stdout-1", "v2-1"))
	tests := []struct {
		plugin string
		state  State
		want   []string
	}{
		{plugin: "good-1", state: StateRunning},
		{plugin: "exitstart-1", state: StateFailed, want: []string{"exitstart-1", "exited before"}},
		{plugin: "stdout-1", state: StateFailed, want: []string{"stdout-1", "Unrecognized remote plugin message", "hello on stdout"}},
		{plugin: "v2-1", state: StateRefused, want: []string{"v2-1", "offers protocol version 2", "supports [1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.plugin, func(t *testing.T) {
			p := infoOf(t, h, tt.plugin)
			if p.State != tt.state || p.Checksum != ChecksumNotVerified {
				t.Errorf("state %s, checksum %q; want %s, %q", p.State, p.Checksum, tt.state, ChecksumNotVerified)
			}
			for _, w := range tt.want {
				if !strings.Contains(p.Error, w) {
					t.Errorf("error %q does not contain %q", p.Error, w)
				}
			}
		})
	}
	var failed []string
	for _, f := range h.Failures() {
		failed = append(failed, f.Name)
	}
	slices.Sort(failed)
	if diff := cmp.Diff([]string{"exitstart-1", "stdout-1", "v2-1"}, failed); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	// The others keep working.
	res, err := h.Dispatch(context.Background(), sdk.ExecuteRequest{Method: "shared_step", Kind: sdk.StepKindClean})
	if err != nil || string(res) != `"good"` {
		t.Errorf("dispatch = %s, %v; want the good plugin's answer", res, err)
	}
}

func TestManifestVerification(t *testing.T) {
	dir := pluginDir(t, "good-1", "swapped-2", "extra-1")
	sum, err := FileSHA256(testPluginPath)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("ab", 32)
	man := &Manifest{Plugins: []ManifestEntry{
		{Name: "good-1", File: "good-1", SHA256: sum, ProtocolVersion: 1},
		{Name: "swapped-2", File: "swapped-2", SHA256: wrong, ProtocolVersion: 1},
		{Name: "gone-1", File: "gone-1", SHA256: sum, ProtocolVersion: 1},
	}}
	if err := WriteManifest(dir, man); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, dir)
	tests := []struct {
		plugin   string
		state    State
		checksum Checksum
		want     []string
	}{
		{plugin: "good-1", state: StateRunning, checksum: ChecksumVerified},
		{plugin: "swapped-2", state: StateRefused, checksum: ChecksumMismatch, want: []string{filepath.Join(dir, "swapped-2"), "sha256 " + sum, "expects " + wrong}},
		{plugin: "extra-1", state: StateRefused, checksum: ChecksumUnchecked, want: []string{"not in manifest"}},
		{plugin: "gone-1", state: StateFailed, checksum: ChecksumUnchecked, want: []string{"gone-1", "missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.plugin, func(t *testing.T) {
			p := infoOf(t, h, tt.plugin)
			if p.State != tt.state || p.Checksum != tt.checksum {
				t.Errorf("state %s, checksum %q; want %s, %q", p.State, p.Checksum, tt.state, tt.checksum)
			}
			for _, w := range tt.want {
				if !strings.Contains(p.Error, w) {
					t.Errorf("error %q does not contain %q", p.Error, w)
				}
			}
		})
	}

	// A binary swapped after start is not run again when the plugin
	// restarts.
	good := filepath.Join(dir, "good-1")
	tmp := filepath.Join(dir, ".new")
	if err := os.WriteFile(tmp, []byte("#!/bin/sh\necho pwned\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, good); err != nil {
		t.Fatal(err)
	}
	_, err = h.Dispatch(context.Background(), sdk.ExecuteRequest{Method: "crash", Kind: sdk.StepKindClean})
	pluginError(t, err, "good-1", "exited")
	p := waitSettled(t, h, "good-1")
	if p.State != StateRefused || p.Checksum != ChecksumMismatch || !strings.Contains(p.Error, "expects "+sum) {
		t.Errorf("after the swap: %+v; want refused with a checksum mismatch", p)
	}
}

func TestCrashOrHangRestarts(t *testing.T) {
	tests := []struct {
		name, method string
		want         string
	}{
		{"exits in a step", "crash", "plugin crashy-2 exited while running crash"},
		{"panics in a step", "panic_step", "plugin crashy-2 exited while running panic_step"},
		{"never answers", "hang_step", "plugin crashy-2 did not answer hang_step within 500ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			record := filepath.Join(t.TempDir(), "record")
			h := startHost(t, pluginDir(t, "crashy-2", "low-1"), func(o *Options) {
				o.StepTimeout = 500 * time.Millisecond
				o.Config.KernelParams = map[string]string{"testplugin-record": record}
			})
			pid := pidOf(t, h)
			_, err := h.Dispatch(context.Background(), sdk.ExecuteRequest{Method: tt.method, Kind: sdk.StepKindClean})
			pluginError(t, err, tt.want)
			waitGone(t, pid)

			// The next call reaches the restarted plugin, which keeps its
			// place in the order.
			if again := pidOf(t, h); again == pid {
				t.Errorf("same pid %d after the restart", pid)
			}
			p := infoOf(t, h, "crashy-2")
			if p.State != StateRunning || p.Restarts != 1 || p.Order != 1 || p.PID == pid {
				t.Errorf("after restart: %+v", p)
			}
			// It was evaluated again, with the same host configuration.
			b, err := os.ReadFile(record)
			if err != nil {
				t.Fatal(err)
			}
			var evals []string
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if strings.HasPrefix(l, "crashy ") {
					evals = append(evals, l)
				}
			}
			if len(evals) != 2 || evals[0] != evals[1] {
				t.Errorf("evaluations = %q, want two identical", evals)
			}
		})
	}
}

func TestRepeatedCrashesMarkFailed(t *testing.T) {
	h := startHost(t, pluginDir(t, "crashy-3", "low-1"), func(o *Options) { o.MaxCrashes = 3 })
	ctx := context.Background()
	if _, err := h.Steps(ctx, sdk.StepsRequest{Kind: sdk.StepKindClean}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		_, err := h.Dispatch(ctx, sdk.ExecuteRequest{Method: "crash", Kind: sdk.StepKindClean})
		pluginError(t, err, "crashy-3", "exited")
	}
	p := infoOf(t, h, "crashy-3")
	if p.State != StateFailed || p.Restarts != 2 || !strings.Contains(p.Error, "exited") {
		t.Fatalf("after 3 crashes: %+v; want failed after 2 restarts", p)
	}
	if got := h.Managers(); len(got) != 1 || got[0].Name != "low-1" {
		t.Errorf("managers in service = %v, want low-1 only", got)
	}
	if f := h.Failures(); len(f) != 1 || f[0].Name != "crashy-3" {
		t.Errorf("failures = %+v, want crashy-3", f)
	}
	if _, ok := h.Versions()["crashy_manager"]; !ok {
		t.Errorf("versions %v lost the failed plugin: Ironic's steps would fail as a version mismatch", h.Versions())
	}

	tests := []struct {
		name, method string
		want         string
		wantErr      []string
	}{
		{name: "dispatch skips it", method: "shared_step", want: `"low"`},
		{name: "a step only it has names it", method: "vendor_step", wantErr: []string{"vendor_step", "crashy-3", "out of service", "exited"}},
		{name: "unknown step names it as a suspect", method: "nope", wantErr: []string{"nope", "crashy-3", "may implement"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := h.Dispatch(ctx, sdk.ExecuteRequest{Method: tt.method, Kind: sdk.StepKindClean})
			if tt.wantErr != nil {
				pluginError(t, err, tt.wantErr...)
				return
			}
			if err != nil || string(res) != tt.want {
				t.Errorf("dispatch = %s, %v; want %s", res, err, tt.want)
			}
		})
	}
	steps, err := h.Steps(ctx, sdk.StepsRequest{Kind: sdk.StepKindClean})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(StepSet{"low-1": {{Step: "shared_step", Priority: 10, Interface: "deploy"}}}, steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	inv, err := h.Inventory(ctx)
	if err != nil || inv["hostname"] != "low" {
		t.Errorf("inventory hostname = %v, %v; want low", inv["hostname"], err)
	}
}

func TestCallsDuringRestart(t *testing.T) {
	h := startHost(t, pluginDir(t, "crashy-2"), func(o *Options) { o.MaxCrashes = 10 })
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				_, err := h.Dispatch(ctx, sdk.ExecuteRequest{Method: "pid", Kind: sdk.StepKindClean})
				var ierr *ipa.Error
				if err != nil && (!errors.As(err, &ierr) || ierr.Type != "PluginError") {
					t.Errorf("call during restart: %v, want success or a PluginError", err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 2 {
			_, err := h.Dispatch(ctx, sdk.ExecuteRequest{Method: "crash", Kind: sdk.StepKindClean})
			pluginError(t, err, "crashy-2")
			time.Sleep(20 * time.Millisecond)
		}
	})
	wg.Wait()
	pidOf(t, h)
	if p := infoOf(t, h, "crashy-2"); p.State != StateRunning || p.Restarts != 2 {
		t.Errorf("after two crashes: %+v; want running after 2 restarts", p)
	}
}

func TestCloseDuringRestart(t *testing.T) {
	h := startHost(t, pluginDir(t, "crashy-2"), func(o *Options) { o.RestartBackoff = time.Hour })
	pid := pidOf(t, h)
	_, err := h.Dispatch(context.Background(), sdk.ExecuteRequest{Method: "crash", Kind: sdk.StepKindClean})
	pluginError(t, err, "crashy-2")
	start := time.Now()
	h.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s with a restart pending", d)
	}
	waitGone(t, pid)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := h.Dispatch(ctx, sdk.ExecuteRequest{Method: "pid", Kind: sdk.StepKindClean}); err == nil {
		t.Error("dispatch after Close succeeded")
	}
}
