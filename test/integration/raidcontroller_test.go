package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/metalagent/metalagent/agent/commands"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// What examples/raid-controller reads (its manager.go).
const (
	raidState  = "raid-controller-state"
	raidCreate = "create_configuration"
)

// raidStateJSON is examples/raid-controller/testdata/state.json: four
// 100 GB and two 500 GB physical disks, no logical disk.
const raidStateJSON = `{
  "controller": "RAID.Integrated.1-1",
  "physical_disks": [
    {"id": "0:1:0", "size_gb": 100},
    {"id": "0:1:1", "size_gb": 100},
    {"id": "0:1:2", "size_gb": 100},
    {"id": "0:1:3", "size_gb": 100},
    {"id": "0:1:4", "size_gb": 500},
    {"id": "0:1:5", "size_gb": 500}
  ],
  "logical_disks": []
}
`

// TestRAIDControllerThroughHost loads the raid-controller plugin into the
// host next to the generic plugin and the host's builtin manager, with its
// state file named by the kernel parameter, and checks the merged step
// lists, dispatch and the merged inventory.
func TestRAIDControllerThroughHost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(raidStateJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := pluginDir(t, "raid-controller", "generic")
	h := startHost(t, dir, nil, map[string]string{raidState: path},
		"raid-controller", "generic", commands.BuiltinName)
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
		"generic":            {"erase_devices_express", "erase_devices_metadata", "erase_pstore"},
		commands.BuiltinName: {"erase_devices"},
	}, names(sdk.StepKindClean)); diff != "" {
		t.Errorf("clean steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{
		"raid-controller":    {"apply_configuration", "create_configuration", "delete_configuration"},
		"generic":            {"erase_devices_metadata"},
		commands.BuiltinName: {"write_image"},
	}, names(sdk.StepKindDeploy)); diff != "" {
		t.Errorf("deploy steps (-want +got):\n%s", diff)
	}

	res, err := h.Dispatch(ctx, sdk.ExecuteRequest{Method: raidCreate, Kind: sdk.StepKindClean, Args: json.RawMessage(`{}`),
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

	// The plugin's logical disk comes first (it is the higher manager),
	// then the disks of this machine as the generic plugin reports them.
	inv, prov, err := h.InventoryWithProvenance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	disks, _ := inv["disks"].([]any)
	if len(disks) == 0 {
		t.Fatalf("merged inventory has no disk: %v", inv["disks"])
	}
	var got []string
	for _, d := range disks {
		m := d.(map[string]any)
		got = append(got, m["name"].(string)+" "+fmtModel(m["model"]))
	}
	if got[0] != "/dev/sdr0 Simulated RAID" {
		t.Errorf("merged inventory disks %q, want /dev/sdr0 Simulated RAID first", got)
	}
	for i, d := range disks {
		name := d.(map[string]any)["name"].(string)
		want := "generic"
		if i == 0 {
			want = "raid-controller"
		}
		if by := prov.Fields["disks"][name]["name"]; by != want {
			t.Errorf("disk %s is from %q, want %q (disks %q)", name, by, want, got)
		}
	}
	if by := prov.Components["cpu"]; by != "generic" {
		t.Errorf("cpu is from %q, want the generic plugin's", by)
	}
	t.Logf("merged inventory disks: %q", got)
}

func fmtModel(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return "<nil>"
}
