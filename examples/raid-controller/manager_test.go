package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// newStateFile copies testdata/state.json (four 100 GB and two 500 GB
// physical disks, no logical disk) into a temporary directory.
func newStateFile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func quietManager() *manager {
	return &manager{log: hclog.New(&hclog.LoggerOptions{Name: "raid-controller", Level: hclog.Warn})}
}

// client serves a manager through the SDK's gRPC adapter, as the host
// talks to a plugin, and evaluates it with the state file path.
func client(t *testing.T, path string) (sdk.HardwareManager, sdk.SupportLevel, error) {
	t.Helper()
	c, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdk.PluginName: &sdk.GRPCPlugin{Impl: quietManager()}})
	t.Cleanup(func() { c.Close(); server.Stop() })
	raw, err := c.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	hm := raw.(sdk.HardwareManager)
	level, err := hm.EvaluateHardwareSupport(context.Background(), sdk.HostConfig{KernelParams: map[string]string{paramState: path}})
	return hm, level, err
}

func controller(t *testing.T) (sdk.HardwareManager, string) {
	t.Helper()
	path := newStateFile(t)
	hm, level, err := client(t, path)
	if err != nil || level != sdk.SupportMainline {
		t.Fatalf("EvaluateHardwareSupport = %v, %v; want %v", level, err, sdk.SupportMainline)
	}
	return hm, path
}

func exec(t *testing.T, hm sdk.HardwareManager, method, args, node string) (any, error) {
	t.Helper()
	res, err := hm.Execute(context.Background(), sdk.ExecuteRequest{Method: method, Kind: sdk.StepKindClean,
		Args: json.RawMessage(args), Node: json.RawMessage(node)})
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(res, &out); err != nil {
		t.Fatalf("%s result %s: %v", method, res, err)
	}
	return out, nil
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func inventoryDisks(t *testing.T, hm sdk.HardwareManager) string {
	t.Helper()
	inv, err := hm.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(inv.Disks)
	return string(b)
}

func TestSupport(t *testing.T) {
	dir := t.TempDir()
	if _, level, err := client(t, filepath.Join(dir, "missing.json")); err != nil || level != sdk.SupportNone {
		t.Errorf("without a state file: %v, %v; want %v", level, err, sdk.SupportNone)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"physical_disks": [{"id": "a", "size_gb": 1}, {"id": "a", "size_gb": 1}]}`), 0o600)
	if _, _, err := client(t, bad); err == nil {
		t.Error("a state file with duplicate disks was accepted")
	}
	m := quietManager()
	if _, err := m.EvaluateHardwareSupport(context.Background(), sdk.HostConfig{}); err != nil || m.path != defaultState {
		t.Errorf("default state path %q, %v", m.path, err)
	}
}

func TestSteps(t *testing.T) {
	hm, _ := controller(t)
	create := `"argsinfo":{"target_raid_config":{"description":"The RAID configuration to create ({\"logical_disks\": [...]}, Ironic's schema). Default: the node's target_raid_config.","required":false}}`
	tests := []struct {
		kind sdk.StepKind
		want string
	}{
		{sdk.StepKindClean, `[
			{"step":"delete_configuration","priority":0,"interface":"raid","reboot_requested":false,"abortable":true},
			{"step":"create_configuration","priority":0,"interface":"raid","reboot_requested":false,"abortable":true,` + create + `}]`},
		{sdk.StepKindDeploy, `[
			{"step":"delete_configuration","priority":0,"interface":"raid","reboot_requested":false,"abortable":false},
			{"step":"create_configuration","priority":0,"interface":"raid","reboot_requested":false,"abortable":false,` + create + `},
			{"step":"apply_configuration","priority":0,"interface":"raid","reboot_requested":false,"abortable":false,"argsinfo":{
				"raid_config":{"description":"The RAID configuration to apply.","required":true},
				"delete_existing":{"description":"Setting this to 'True' indicates to delete existing RAID configuration prior to creating the new configuration. Default value is 'True'.","required":false}}}]`},
		{sdk.StepKindService, `[]`},
	}
	for _, tt := range tests {
		steps, err := hm.Steps(context.Background(), sdk.StepsRequest{Kind: tt.kind})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(steps)
		if diff := cmp.Diff(decode(t, tt.want), decode(t, string(b))); diff != "" {
			t.Errorf("%s steps (-want +got):\n%s", tt.kind, diff)
		}
	}
	if _, err := hm.Steps(context.Background(), sdk.StepsRequest{Kind: "rescue"}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("unknown kind: %v", err)
	}
}

const rootAndMax = `{"logical_disks": [
	{"size_gb": "MAX", "raid_level": "5"},
	{"size_gb": 100, "raid_level": "1", "is_root_volume": true, "volume_name": "root"}]}`

func TestCreateFromNode(t *testing.T) {
	hm, path := controller(t)
	got, err := exec(t, hm, stepCreate, `{}`, `{"uuid": "n1", "target_raid_config": `+rootAndMax+`}`)
	if err != nil {
		t.Fatal(err)
	}
	// The fixed size goes first, on the two 500 GB disks; MAX takes the
	// most free disks left: 400 GB on each of those and 100 on 0:1:0.
	want := `{"logical_disks": [
		{"size_gb": 200, "raid_level": "5", "volume_name": "sdr0", "controller": "RAID.Integrated.1-1",
		 "physical_disks": ["0:1:4", "0:1:5", "0:1:0"], "root_device_hint": {"name": "/dev/sdr0"}},
		{"size_gb": 100, "raid_level": "1", "volume_name": "root", "controller": "RAID.Integrated.1-1", "is_root_volume": true,
		 "physical_disks": ["0:1:4", "0:1:5"], "root_device_hint": {"name": "/dev/sdr1"}}]}`
	if diff := cmp.Diff(decode(t, want), got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	wantDisks := `[
		{"name":"/dev/sdr0","model":"Simulated RAID","size":214748364800,"rotational":false,"wwn":null,"serial":"RAID.Integrated.1-1-sdr0","vendor":"Simulated","wwn_with_extension":null,"wwn_vendor_extension":null,"hctl":null,"by_path":null},
		{"name":"/dev/sdr1","model":"Simulated RAID","size":107374182400,"rotational":false,"wwn":null,"serial":"RAID.Integrated.1-1-sdr1","vendor":"Simulated","wwn_with_extension":null,"wwn_vendor_extension":null,"hctl":null,"by_path":null}]`
	if diff := cmp.Diff(decode(t, wantDisks), decode(t, inventoryDisks(t, hm))); diff != "" {
		t.Errorf("inventory disks (-want +got):\n%s", diff)
	}
	st, err := loadState(path)
	if err != nil || len(st.LogicalDisks) != 2 || st.LogicalDisks[0].PerDiskGB != 100 || st.LogicalDisks[1].PerDiskGB != 100 {
		t.Errorf("saved state %+v, %v", st, err)
	}
	if free := st.free(); free["0:1:4"] != 300 || free["0:1:0"] != 0 || free["0:1:1"] != 100 {
		t.Errorf("free space %v", free)
	}
}

func TestCreateArgumentsWin(t *testing.T) {
	hm, _ := controller(t)
	got, err := exec(t, hm, stepCreate,
		`{"target_raid_config": {"logical_disks": [{"size_gb": 150, "raid_level": "1+0", "physical_disks": ["0:1:0", "0:1:1", "0:1:2", "0:1:3"]}]}}`,
		`{"target_raid_config": `+rootAndMax+`}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"logical_disks": [{"size_gb": 150, "raid_level": "1+0", "volume_name": "sdr0", "controller": "RAID.Integrated.1-1",
		"physical_disks": ["0:1:0", "0:1:1", "0:1:2", "0:1:3"], "root_device_hint": {"name": "/dev/sdr0"}}]}`
	if diff := cmp.Diff(decode(t, want), got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}

func TestCreateWithoutConfiguration(t *testing.T) {
	hm, _ := controller(t)
	for _, node := range []string{`{}`, `{"target_raid_config": {}}`, ``} {
		got, err := exec(t, hm, stepCreate, `{}`, node)
		if err != nil || !cmp.Equal(got, map[string]any{}) {
			t.Errorf("node %s: %v, %v; want {}", node, got, err)
		}
	}
	if d := inventoryDisks(t, hm); d != "null" {
		t.Errorf("inventory disks %s, want none", d)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name   string
		method string
		args   string
	}{
		{"level", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 10, "raid_level": "10"}]}}`},
		{"level missing", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 10}]}}`},
		{"size missing", stepCreate, `{"target_raid_config": {"logical_disks": [{"raid_level": "1"}]}}`},
		{"size zero", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 0, "raid_level": "1"}]}}`},
		{"size negative", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": -5, "raid_level": "1"}]}}`},
		{"size fraction", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 1.5, "raid_level": "1"}]}}`},
		{"size word", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": "big", "raid_level": "1"}]}}`},
		{"too big", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 501, "raid_level": "1"}]}}`},
		{"too big for the disks named", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 300, "raid_level": "0", "physical_disks": ["0:1:0", "0:1:1"]}]}}`},
		{"unknown physical disk", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 10, "raid_level": "1", "physical_disks": ["0:1:0", "0:1:9"]}]}}`},
		{"physical disk twice", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 10, "raid_level": "1", "physical_disks": ["0:1:0", "0:1:0"]}]}}`},
		{"too few disks", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 10, "raid_level": "5", "physical_disks": ["0:1:0", "0:1:1"]}]}}`},
		{"odd 1+0", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 10, "raid_level": "1+0", "number_of_physical_disks": 5}]}}`},
		{"more disks than the controller has", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 10, "raid_level": "0", "number_of_physical_disks": 7}]}}`},
		{"count does not match", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 10, "raid_level": "1", "number_of_physical_disks": 3, "physical_disks": ["0:1:0", "0:1:1"]}]}}`},
		{"two roots", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 10, "raid_level": "1", "is_root_volume": true}, {"size_gb": 10, "raid_level": "1", "is_root_volume": true}]}}`},
		{"unknown property", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 10, "raid_level": "1", "colour": "red"}]}}`},
		{"no logical disks", stepCreate, `{"target_raid_config": {"logical_disks": []}}`},
		{"not an object", stepCreate, `{"target_raid_config": [1]}`},
		{"mixed controllers", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 10, "raid_level": "1"}, {"size_gb": 10, "raid_level": "1", "controller": "software"}]}}`},
		{"volume name twice", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 10, "raid_level": "1", "volume_name": "v"}, {"size_gb": 10, "raid_level": "1", "volume_name": "v"}]}}`},
		{"second does not fit", stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 400, "raid_level": "1"}, {"size_gb": 200, "raid_level": "1", "physical_disks": ["0:1:4", "0:1:5"]}]}}`},
		{"unexpected argument", stepCreate, `{"raid_config": {}}`},
		{"delete argument", stepDelete, `{"force": true}`},
		{"apply without raid_config", stepApply, `{}`},
		{"apply empty", stepApply, `{"raid_config": {}}`},
		{"apply delete_existing", stepApply, `{"raid_config": {"logical_disks": [{"size_gb": 10, "raid_level": "1"}]}, "delete_existing": "perhaps"}`},
	}
	hm, path := controller(t)
	if _, err := exec(t, hm, stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 50, "raid_level": "0", "volume_name": "keep"}]}}`, `{}`); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := exec(t, hm, tt.method, tt.args, `{}`)
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("error %v, want invalid argument", err)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Errorf("the state changed:\n%s", after)
			}
		})
	}
}

func TestApply(t *testing.T) {
	hm, path := controller(t)
	if _, err := exec(t, hm, stepCreate, `{}`, `{"target_raid_config": `+rootAndMax+`}`); err != nil {
		t.Fatal(err)
	}
	// Replace everything (delete_existing defaults to true).
	got, err := exec(t, hm, stepApply, `{"raid_config": {"logical_disks": [{"size_gb": 500, "raid_level": "1", "is_root_volume": true}]}}`, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"logical_disks": [{"size_gb": 500, "raid_level": "1", "volume_name": "sdr0", "controller": "RAID.Integrated.1-1", "is_root_volume": true,
		"physical_disks": ["0:1:4", "0:1:5"], "root_device_hint": {"name": "/dev/sdr0"}}]}`
	if diff := cmp.Diff(decode(t, want), got); diff != "" {
		t.Errorf("apply (-want +got):\n%s", diff)
	}
	// Add to it.
	got, err = exec(t, hm, stepApply, `{"raid_config": {"logical_disks": [{"size_gb": "MAX", "raid_level": "6"}]}, "delete_existing": false}`, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"logical_disks": [{"size_gb": 200, "raid_level": "6", "volume_name": "sdr1", "controller": "RAID.Integrated.1-1",
		"physical_disks": ["0:1:0", "0:1:1", "0:1:2", "0:1:3"], "root_device_hint": {"name": "/dev/sdr1"}}]}`
	if diff := cmp.Diff(decode(t, want), got); diff != "" {
		t.Errorf("apply without delete (-want +got):\n%s", diff)
	}
	// A second root volume is refused while the first exists.
	before, _ := os.ReadFile(path)
	_, err = exec(t, hm, stepApply, `{"raid_config": {"logical_disks": [{"size_gb": 1, "raid_level": "0", "is_root_volume": true}]}, "delete_existing": "false"}`, `{}`)
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("second root: %v, want invalid argument", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("a refused apply changed the state")
	}
	st, _ := loadState(path)
	if len(st.LogicalDisks) != 2 {
		t.Errorf("logical disks %+v, want sdr0 and sdr1", st.LogicalDisks)
	}
}

func TestDelete(t *testing.T) {
	hm, path := controller(t)
	if _, err := exec(t, hm, stepCreate, `{}`, `{"target_raid_config": `+rootAndMax+`}`); err != nil {
		t.Fatal(err)
	}
	got, err := exec(t, hm, stepDelete, `{}`, `{}`)
	if err != nil || got != nil {
		t.Fatalf("delete_configuration = %v, %v; want null", got, err)
	}
	if d := inventoryDisks(t, hm); d != "null" {
		t.Errorf("inventory disks after delete: %s", d)
	}
	if st, _ := loadState(path); len(st.LogicalDisks) != 0 || st.free()["0:1:4"] != 500 {
		t.Errorf("state after delete: %+v", st)
	}
}

func TestFallsThrough(t *testing.T) {
	hm, _ := controller(t)
	for _, method := range []string{"erase_devices", sdk.MethodEraseBlockDevice, sdk.MethodGetOSInstallDevice, "write_image"} {
		if _, err := exec(t, hm, method, `{}`, `{}`); !errors.Is(err, sdk.ErrNotSupported) {
			t.Errorf("%s: %v, want not supported", method, err)
		}
	}
	// A configuration for another controller (the generic manager's
	// software RAID) is left to the next manager.
	_, err := exec(t, hm, stepCreate, `{"target_raid_config": {"logical_disks": [{"size_gb": 10, "raid_level": "1", "controller": "software"}]}}`, `{}`)
	if !errors.Is(err, sdk.ErrNotSupported) {
		t.Errorf("software RAID: %v, want not supported", err)
	}
}

func TestUnreadableStateInventory(t *testing.T) {
	hm, path := controller(t)
	os.WriteFile(path, []byte("{"), 0o600)
	if d := inventoryDisks(t, hm); d != "null" {
		t.Errorf("inventory disks %s, want none", d)
	}
	if _, err := exec(t, hm, stepDelete, `{}`, `{}`); sdk.TypeOf(err) != "RAIDError" {
		t.Errorf("delete with a broken state: %v (%s), want RAIDError", err, sdk.TypeOf(err))
	}
}
