package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ipa"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// buildTestPlugin builds testdata/testplugin once per test binary.
var testPluginPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pluginhost-test")
	if err != nil {
		panic(err)
	}
	testPluginPath = filepath.Join(dir, "testplugin")
	out, err := exec.Command("go", "build", "-o", testPluginPath, "./testdata/testplugin").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		panic("build test plugin: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pluginDir makes a directory holding the test plugin under each name.
func pluginDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(testPluginPath)
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

// testOptions are the options every test starts from.
func testOptions(dirs ...string) Options {
	return Options{
		Dirs: dirs, StartTimeout: 20 * time.Second, CallTimeout: 10 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr}),
	}
}

// startHost starts a host on dir; mods adjust the options.
func startHost(t *testing.T, dir string, mods ...func(*Options)) *Host {
	t.Helper()
	opts := testOptions(dir)
	for _, m := range mods {
		m(&opts)
	}
	h, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func TestStartOrdersBySupportLevel(t *testing.T) {
	dir := pluginDir(t, "generic-1", "vendor-3", "mainline-2", "off-0", "alpha-1")
	// A file that is not a plugin, and one that is not executable.
	if err := os.WriteFile(filepath.Join(dir, "notaplugin"), []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("text"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, dir)
	var got []string
	for _, m := range h.Managers() {
		got = append(got, m.Name)
	}
	want := []string{"vendor-3", "mainline-2", "alpha-1", "generic-1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("manager order (-want +got):\n%s", diff)
	}
	if len(h.Failures()) != 1 || h.Failures()[0].Name != "notaplugin" {
		t.Fatalf("failures = %+v, want only notaplugin", h.Failures())
	}
	if msg := h.Failures()[0].Err.Error(); !strings.Contains(msg, "notaplugin") {
		t.Errorf("failure does not name the file: %s", msg)
	}
	wantVersions := map[string]string{"vendor_manager": "1.3", "mainline_manager": "1.2", "alpha_manager": "1.1", "generic_manager": "1.1"}
	if diff := cmp.Diff(wantVersions, h.Versions()); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
}

func TestDispatchFallsThrough(t *testing.T) {
	h := startHost(t, pluginDir(t, "low-1", "mid-2", "top-3"))
	tests := []struct {
		name, method, node string
		want               string
		wantType           string
	}{
		{"highest answers", "shared_step", `{}`, `"top"`, ""},
		{"top refuses, next answers", "shared_step", `{"x":"refuse-top"}`, `"mid"`, ""},
		{"two refuse", "shared_step", `{"x":"refuse-top refuse-mid"}`, `"low"`, ""},
		{"hardware error is final", "shared_step", `{"x":"fail-top"}`, "", "BlockDeviceError"},
		{"only the vendor has it", "vendor_step", `{}`, `"done by top"`, ""},
		{"nobody has it", "no_such_step", `{}`, "", "HardwareManagerMethodNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := h.Dispatch(context.Background(), sdk.ExecuteRequest{Method: tt.method, Node: json.RawMessage(tt.node)})
			if tt.wantType != "" {
				if got := ipa.From(err, "none").Type; got != tt.wantType {
					t.Fatalf("error type = %q (%v), want %s", got, err, tt.wantType)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(res) != tt.want {
				t.Errorf("result = %s, want %s", res, tt.want)
			}
		})
	}
}

func TestDispatchAll(t *testing.T) {
	h := startHost(t, pluginDir(t, "low-1", "mid-2", "top-3"))
	got, err := h.DispatchAll(context.Background(), sdk.ExecuteRequest{Method: "shared_step", Node: json.RawMessage(`{"x":"refuse-mid"}`)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]json.RawMessage{"low-1": json.RawMessage(`"low"`), "top-3": json.RawMessage(`"top"`)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := h.DispatchAll(context.Background(), sdk.ExecuteRequest{Method: "nope"}); ipa.From(err, "").Type != "HardwareManagerMethodNotFound" {
		t.Errorf("err = %v, want HardwareManagerMethodNotFound", err)
	}
}

func TestStepsMerge(t *testing.T) {
	h := startHost(t, pluginDir(t, "low-1", "top-3"))
	steps, err := h.Steps(context.Background(), sdk.StepsRequest{Kind: sdk.StepKindClean})
	if err != nil {
		t.Fatal(err)
	}
	want := StepSet{"top-3": {
		{Step: "shared_step", Priority: 30, Interface: "deploy"},
		{Step: "vendor_step", Priority: 5, Interface: "raid"},
	}}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}

func TestInventoryFromPlugins(t *testing.T) {
	h := startHost(t, pluginDir(t, "low-1", "top-3"))
	inv, err := h.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if inv["hostname"] != "top" {
		t.Errorf("hostname = %v, want the top plugin's", inv["hostname"])
	}
	disks := inv["disks"].([]any)
	if len(disks) != 1 || disks[0].(map[string]any)["model"] != "top" {
		t.Errorf("disks = %v, want one /dev/sda from top", disks)
	}
}

func TestCrashedPluginFailsTheCall(t *testing.T) {
	h := startHost(t, pluginDir(t, "crashy-2"))
	_, err := h.Dispatch(context.Background(), sdk.ExecuteRequest{Method: "crash"})
	var ierr *ipa.Error
	if !errors.As(err, &ierr) || ierr.Type != "PluginError" || !strings.Contains(ierr.Details, "crashy-2") {
		t.Fatalf("err = %v, want a PluginError naming the plugin", err)
	}
}

func TestNoUsableManager(t *testing.T) {
	_, err := Start(context.Background(), Options{Dirs: []string{pluginDir(t, "off-0")}})
	if err == nil || !strings.Contains(err.Error(), "no hardware manager") {
		t.Fatalf("err = %v, want no usable manager", err)
	}
}

func TestMergeInventories(t *testing.T) {
	tests := []struct {
		name  string
		parts []string
		want  string
	}{
		{"higher component wins", []string{`{"cpu":{"count":8}}`, `{"cpu":{"count":2},"hostname":"x"}`}, `{"cpu":{"count":8},"hostname":"x"}`},
		{"disks merged by name", []string{
			`{"disks":[{"name":"/dev/sda","model":"V","serial":null}]}`,
			`{"disks":[{"name":"/dev/sda","model":"G","serial":"S1","size":10},{"name":"/dev/sdb","size":5}]}`,
		}, `{"disks":[{"name":"/dev/sda","model":"V","serial":"S1","size":10},{"name":"/dev/sdb","size":5}]}`},
		{"lower fills absent list", []string{`{}`, `{"interfaces":[{"name":"eth0"}]}`}, `{"interfaces":[{"name":"eth0"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var parts []map[string]any
			for _, p := range tt.parts {
				var m map[string]any
				if err := json.Unmarshal([]byte(p), &m); err != nil {
					t.Fatal(err)
				}
				parts = append(parts, m)
			}
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, MergeInventories(parts...)); diff != "" {
				t.Errorf("merge (-want +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkPluginStart measures launching one plugin: exec, handshake,
// AutoMTLS, support and version calls.
func BenchmarkPluginStart(b *testing.B) {
	dir := b.TempDir()
	data, _ := os.ReadFile(testPluginPath)
	if err := os.WriteFile(filepath.Join(dir, "bench-1"), data, 0o755); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		h, err := Start(context.Background(), Options{Dirs: []string{dir}})
		if err != nil {
			b.Fatal(err)
		}
		h.Close()
	}
}

func TestLogFieldsReachPlugins(t *testing.T) {
	h := startHost(t, pluginDir(t, "fields-1"))
	log := hclog.New(&hclog.LoggerOptions{Output: io.Discard}).With("node", "n-1", "command_id", "c-7", "request_id", "req-1", "other", "x")
	res, err := h.Dispatch(hclog.WithContext(context.Background(), log), sdk.ExecuteRequest{Method: "log_fields"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"command_id":"c-7","node":"n-1","request_id":"req-1"}`; string(res) != want {
		t.Errorf("plugin saw log fields %s, want %s", res, want)
	}
}
