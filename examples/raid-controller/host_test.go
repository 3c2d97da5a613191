package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/commands"
	agentconfig "github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/pluginhost"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// disksOnly is a generic-level manager that reports one disk, standing in
// for the generic plugin.
type disksOnly struct{}

func (disksOnly) EvaluateHardwareSupport(context.Context, sdk.HostConfig) (sdk.SupportLevel, error) {
	return sdk.SupportGeneric, nil
}
func (disksOnly) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: "generic_hardware_manager", Version: "1.1"}, nil
}
func (disksOnly) Inventory(context.Context) (*sdk.Inventory, error) {
	return &sdk.Inventory{Disks: []sdk.BlockDevice{{Name: "/dev/sda", Size: 10 << 30}}}, nil
}
func (disksOnly) Steps(context.Context, sdk.StepsRequest) ([]sdk.Step, error) { return nil, nil }
func (disksOnly) Execute(_ context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	return nil, sdk.NotSupported("no %s", req.Method)
}

// TestThroughHost loads the manager into the metalagent host in process,
// next to the host's builtin manager, and checks the merged step lists,
// dispatch and the merged inventory.
func TestThroughHost(t *testing.T) {
	path := newStateFile(t)
	d := &commands.Deps{Config: &agentconfig.Config{}, Logger: hclog.NewNullLogger()}
	h, err := pluginhost.Start(context.Background(), pluginhost.Options{
		Config: sdk.HostConfig{KernelParams: map[string]string{paramState: path}},
		Builtins: []pluginhost.Builtin{
			{Name: "raid-controller", Manager: quietManager()},
			{Name: "generic", Manager: disksOnly{}},
			{Name: commands.BuiltinName, Manager: commands.Builtin(d)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	d.Host = h
	ctx := context.Background()

	names := func(kind sdk.StepKind) map[string][]string {
		set, err := h.Steps(ctx, sdk.StepsRequest{Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for m, steps := range set {
			for _, s := range steps {
				out[m] = append(out[m], s.Step)
			}
		}
		return out
	}
	if diff := cmp.Diff(map[string][]string{
		"raid-controller":    {"create_configuration", "delete_configuration"},
		commands.BuiltinName: {"erase_devices"},
	}, names(sdk.StepKindClean)); diff != "" {
		t.Errorf("clean steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{
		"raid-controller":    {"apply_configuration", "create_configuration", "delete_configuration"},
		commands.BuiltinName: {"write_image"},
	}, names(sdk.StepKindDeploy)); diff != "" {
		t.Errorf("deploy steps (-want +got):\n%s", diff)
	}

	res, err := h.Dispatch(ctx, sdk.ExecuteRequest{Method: stepCreate, Kind: sdk.StepKindClean, Args: json.RawMessage(`{}`),
		Node: json.RawMessage(`{"target_raid_config": {"logical_disks": [{"size_gb": 100, "raid_level": "1", "is_root_volume": true}]}}`)})
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		LogicalDisks []struct {
			RootDeviceHint map[string]string `json:"root_device_hint"`
		} `json:"logical_disks"`
	}
	if err := json.Unmarshal(res, &created); err != nil || len(created.LogicalDisks) != 1 || created.LogicalDisks[0].RootDeviceHint["name"] != "/dev/sdr0" {
		t.Errorf("create_configuration = %s, %v", res, err)
	}

	inv, err := h.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range inv["disks"].([]any) {
		m := d.(map[string]any)
		got = append(got, m["name"].(string)+" "+fmtModel(m["model"]))
	}
	if diff := cmp.Diff([]string{"/dev/sdr0 Simulated RAID", "/dev/sda <nil>"}, got); diff != "" {
		t.Errorf("merged inventory disks (-want +got):\n%s", diff)
	}
}

func fmtModel(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return "<nil>"
}
