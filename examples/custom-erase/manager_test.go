package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// testManager returns a manager with the given kernel parameters and
// environment, whose in-use check always passes unless replaced.
func testManager(t *testing.T, params, env map[string]string, allowed ...string) *manager {
	t.Helper()
	m := &manager{
		log:        hclog.New(&hclog.LoggerOptions{Name: "custom-erase", Output: hclog.DefaultOutput, Level: hclog.Warn}),
		getenv:     func(k string) string { return env[k] },
		checkInUse: func(string) error { return nil },
	}
	level, err := m.EvaluateHardwareSupport(context.Background(), sdk.HostConfig{KernelParams: params, AllowedDisks: allowed})
	if err != nil || level != sdk.SupportServiceProvider {
		t.Fatalf("EvaluateHardwareSupport = %v, %v; want %v", level, err, sdk.SupportServiceProvider)
	}
	return m
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name        string
		params, env map[string]string
		models      []string
		devices     []string
	}{
		{"defaults", nil, nil, []string{"QEMU HARDDISK"}, nil},
		{"environment", nil, map[string]string{envModel: "ACME 9000, Other Disk", envDevices: "/dev/loop5"},
			[]string{"ACME 9000", "Other Disk"}, []string{"/dev/loop5"}},
		{"kernel parameters win, percent-decoded",
			map[string]string{paramModel: "ACME%209000", paramDevices: "/dev/loop6,/dev/loop7"},
			map[string]string{envModel: "Other", envDevices: "/dev/loop5"},
			[]string{"ACME 9000"}, []string{"/dev/loop6", "/dev/loop7"}},
		{"empty kernel parameter disables models", map[string]string{paramModel: ""}, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testManager(t, tt.params, tt.env).config()
			if diff := cmp.Diff(tt.models, c.models); diff != "" {
				t.Errorf("models (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.devices, c.devices); diff != "" {
				t.Errorf("devices (-want +got):\n%s", diff)
			}
		})
	}
	m := &manager{log: hclog.NewNullLogger(), getenv: func(string) string { return "" }}
	if _, err := m.EvaluateHardwareSupport(context.Background(), sdk.HostConfig{KernelParams: map[string]string{paramModel: "bad%zz"}}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("bad percent-encoding: %v, want invalid argument", err)
	}
}

func eraseArgs(t *testing.T, dev sdk.BlockDevice) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(map[string]any{"block_device": dev})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFallsThrough checks everything that must reach the next manager:
// other disks and other methods are NotSupported, and nothing is opened.
func TestFallsThrough(t *testing.T) {
	m := testManager(t, map[string]string{paramDevices: "/dev/nonexistent-disk"}, nil)
	m.checkInUse = func(dev string) error {
		t.Errorf("checked %s", dev)
		return nil
	}
	tests := []struct {
		name string
		req  sdk.ExecuteRequest
		want error
	}{
		{"other model", sdk.ExecuteRequest{Method: sdk.MethodEraseBlockDevice, Kind: sdk.StepKindClean,
			Args: eraseArgs(t, sdk.BlockDevice{Name: "/dev/sdb", Model: sdk.Ptr("Other")})}, sdk.ErrNotSupported},
		{"no model", sdk.ExecuteRequest{Method: sdk.MethodEraseBlockDevice,
			Args: eraseArgs(t, sdk.BlockDevice{Name: "/dev/sdb"})}, sdk.ErrNotSupported},
		{"erase_devices", sdk.ExecuteRequest{Method: "erase_devices", Kind: sdk.StepKindClean}, sdk.ErrNotSupported},
		{"erase_devices_metadata", sdk.ExecuteRequest{Method: "erase_devices_metadata", Kind: sdk.StepKindClean}, sdk.ErrNotSupported},
		{"get_os_install_device", sdk.ExecuteRequest{Method: sdk.MethodGetOSInstallDevice}, sdk.ErrNotSupported},
		{"collect_system_logs", sdk.ExecuteRequest{Method: sdk.MethodCollectSystemLogs}, sdk.ErrNotSupported},
		{"no block_device", sdk.ExecuteRequest{Method: sdk.MethodEraseBlockDevice, Args: json.RawMessage(`{}`)}, sdk.ErrInvalidArgument},
		{"bad arguments", sdk.ExecuteRequest{Method: sdk.MethodEraseBlockDevice, Args: json.RawMessage(`[1]`)}, sdk.ErrInvalidArgument},
	}
	for _, tt := range tests {
		if _, err := m.Execute(context.Background(), tt.req); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestManages(t *testing.T) {
	c := testManager(t, map[string]string{paramDevices: "/dev/loop3"}, nil).config()
	tests := []struct {
		dev  sdk.BlockDevice
		want bool
	}{
		{sdk.BlockDevice{Name: "/dev/sda", Model: sdk.Ptr("QEMU HARDDISK")}, true},
		{sdk.BlockDevice{Name: "/dev/sda", Model: sdk.Ptr("  qemu harddisk ")}, true},
		{sdk.BlockDevice{Name: "/dev/sda", Model: sdk.Ptr("QEMU DVD-ROM")}, false},
		{sdk.BlockDevice{Name: "/dev/loop3"}, true},
		{sdk.BlockDevice{Name: "/dev/loop4"}, false},
	}
	for _, tt := range tests {
		if got := c.manages(tt.dev); got != tt.want {
			t.Errorf("manages(%s, %v) = %v, want %v", tt.dev.Name, tt.dev.Model, got, tt.want)
		}
	}
}

func TestRefusals(t *testing.T) {
	m := testManager(t, nil, nil, "/dev/allowed-disk")
	dev := sdk.BlockDevice{Name: "/dev/other-disk", Model: sdk.Ptr("QEMU HARDDISK")}
	_, err := m.Execute(context.Background(), sdk.ExecuteRequest{Method: sdk.MethodEraseBlockDevice, Args: eraseArgs(t, dev)})
	if sdk.TypeOf(err) != "ProtectedDeviceError" {
		t.Errorf("outside the allow-list: %v (%s), want ProtectedDeviceError", err, sdk.TypeOf(err))
	}
	m.checkInUse = func(dev string) error {
		return sdk.HardwareError("ProtectedDeviceError", "refusing to touch %s: it is mounted on /", dev)
	}
	dev.Name = "/dev/allowed-disk"
	_, err = m.Execute(context.Background(), sdk.ExecuteRequest{Method: sdk.MethodEraseBlockDevice, Args: eraseArgs(t, dev)})
	if sdk.TypeOf(err) != "ProtectedDeviceError" {
		t.Errorf("in use: %v (%s), want ProtectedDeviceError", err, sdk.TypeOf(err))
	}
}

// TestThroughPlugin drives the manager through the SDK's gRPC adapter, as
// the host does.
func TestThroughPlugin(t *testing.T) {
	m := testManager(t, nil, nil)
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdk.PluginName: &sdk.GRPCPlugin{Impl: m}})
	defer client.Close()
	defer server.Stop()
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	hm := raw.(sdk.HardwareManager)
	ctx := context.Background()
	level, err := hm.EvaluateHardwareSupport(ctx, sdk.HostConfig{KernelParams: map[string]string{paramModel: "ACME"}})
	if err != nil || level != sdk.SupportServiceProvider {
		t.Fatalf("level %v, %v", level, err)
	}
	if v, err := hm.Version(ctx); err != nil || v != (sdk.Version{Name: Name, Version: Version}) {
		t.Errorf("version %+v, %v", v, err)
	}
	for _, kind := range []sdk.StepKind{sdk.StepKindClean, sdk.StepKindDeploy, sdk.StepKindService} {
		if steps, err := hm.Steps(ctx, sdk.StepsRequest{Kind: kind}); err != nil || len(steps) != 0 {
			t.Errorf("%s steps %v, %v; want none", kind, steps, err)
		}
	}
	inv, err := hm.Inventory(ctx)
	if b, _ := json.Marshal(inv); err != nil || string(b) != "{}" {
		t.Errorf("inventory %s, %v; want {}", b, err)
	}
	_, err = hm.Execute(ctx, sdk.ExecuteRequest{Method: sdk.MethodEraseBlockDevice, Kind: sdk.StepKindClean,
		Args: eraseArgs(t, sdk.BlockDevice{Name: "/dev/sda", Model: sdk.Ptr("QEMU HARDDISK")})})
	if !errors.Is(err, sdk.ErrNotSupported) {
		t.Errorf("a disk of another model: %v, want not supported", err)
	}
}
