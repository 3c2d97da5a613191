package generic

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-plugin"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// TestThroughPlugin drives the manager through the SDK's gRPC plugin, as
// the host does: the inventory, steps and errors must survive the process
// boundary.
func TestThroughPlugin(t *testing.T) {
	m := newManager(fixtureSystem(loadFixture(t, "server"), "server1", map[string][]string{
		"bond0":     {"fe80::ae1f:6bff:fe00:1/64", "10.0.0.5/24", "2001:db8::5/64", "10.0.0.6/24"},
		"bond0.100": {"192.0.2.10/24"},
	}), testLogger(t))
	m.open = func(path string) (*os.File, error) {
		t.Errorf("opened %s for writing", path)
		return nil, errors.New("no")
	}
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdk.PluginName: &sdk.GRPCPlugin{Impl: m}})
	defer client.Close()
	defer server.Stop()
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	hm := raw.(sdk.HardwareManager)
	ctx := context.Background()

	if level, err := hm.EvaluateHardwareSupport(ctx, sdk.HostConfig{BootIF: "01-ac-1f-6b-00-00-01"}); err != nil || level != sdk.SupportGeneric {
		t.Fatalf("EvaluateHardwareSupport = %v, %v", level, err)
	}
	inv, err := hm.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(inv)
	var got map[string]any
	json.Unmarshal(b, &got)
	if diff := cmp.Diff(readJSON(t, filepath.Join("testdata", "server", "inventory.golden.json")), got); diff != "" {
		t.Errorf("inventory through the plugin (-want +got):\n%s", diff)
	}

	steps, err := hm.Steps(ctx, sdk.StepsRequest{Kind: sdk.StepKindClean})
	if err != nil || len(steps) != len(cleanSteps) || steps[0].Step != "erase_devices_metadata" || steps[0].Priority != 99 || !steps[0].Abortable {
		t.Errorf("clean steps = %+v, %v", steps, err)
	}

	_, err = hm.Execute(ctx, sdk.ExecuteRequest{Method: "burnin_cpu", Kind: sdk.StepKindClean})
	if !errors.Is(err, sdk.ErrNotSupported) {
		t.Errorf("unknown step: %v, want not supported", err)
	}
	_, err = hm.Execute(ctx, sdk.ExecuteRequest{Method: "erase_devices_metadata", Kind: sdk.StepKindClean})
	if sdk.TypeOf(err) != "BlockDeviceEraseError" {
		t.Errorf("erase on the fixture: %v (%s), want BlockDeviceEraseError", err, sdk.TypeOf(err))
	}

	logsJSON, err := hm.Execute(ctx, sdk.ExecuteRequest{Method: sdk.MethodCollectSystemLogs, Args: json.RawMessage("{}")})
	var logs sdk.SystemLogs
	if err != nil || json.Unmarshal(logsJSON, &logs) != nil || len(logs) != 3 || !strings.Contains(logs["pci-devices.txt"], "0000:3b:00.0 0200: 8086:1521 (rev 01)\n") {
		t.Errorf("collect_system_logs = %s, %v", logsJSON, err)
	}

	res, err := hm.Execute(ctx, sdk.ExecuteRequest{Method: "get_os_install_device", Node: json.RawMessage(`{"instance_info": {"root_device": {"rotational": true}}}`)})
	if err != nil || string(res) != `"/dev/sdb"` {
		t.Errorf("get_os_install_device = %s, %v; want \"/dev/sdb\"", res, err)
	}
	_, err = hm.Execute(ctx, sdk.ExecuteRequest{Method: "get_os_install_device", Node: json.RawMessage(`{"instance_info": {"root_device": {"size": 1}}}`)})
	if sdk.TypeOf(err) != "DeviceNotFound" || sdk.KindOf(err) != sdk.KindHardware {
		t.Errorf("get_os_install_device without a match: %v (%s), want DeviceNotFound", err, sdk.TypeOf(err))
	}
}
