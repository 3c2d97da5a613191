package commands

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/pluginhost"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// fakeManager is an in-process manager with one clean step.
type fakeManager struct{ fail bool }

func (f *fakeManager) EvaluateHardwareSupport(context.Context, sdk.HostConfig) (sdk.SupportLevel, error) {
	return sdk.SupportMainline, nil
}
func (f *fakeManager) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: "fake_manager", Version: "2.0"}, nil
}
func (f *fakeManager) Inventory(context.Context) (*sdk.Inventory, error) {
	return &sdk.Inventory{Disks: []sdk.BlockDevice{
		{Name: "/dev/sdb", Size: 8 << 30}, {Name: "/dev/sda", Size: 5 << 30}, {Name: "/dev/sdc", Size: 1 << 30},
	}}, nil
}
func (f *fakeManager) Steps(_ context.Context, req sdk.StepsRequest) ([]sdk.Step, error) {
	if req.Kind != sdk.StepKindClean {
		return nil, nil
	}
	return []sdk.Step{{Step: "wipe", Priority: 42, Interface: "deploy", Abortable: true}}, nil
}
func (f *fakeManager) Execute(_ context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	if req.Method != "wipe" {
		return nil, sdk.NotSupported("no %s", req.Method)
	}
	if f.fail {
		return nil, sdk.HardwareError("BlockDeviceEraseError", "sdb: I/O error")
	}
	return json.RawMessage(`{"wiped":` + string(req.Args) + `}`), nil
}

func newRunner(t *testing.T, fail bool) *Runner {
	t.Helper()
	d := &Deps{Config: &config.Config{}, Logger: hclog.NewNullLogger()}
	h, err := pluginhost.Start(context.Background(), pluginhost.Options{Builtins: []pluginhost.Builtin{
		{Name: "fake", Manager: &fakeManager{fail: fail}},
		{Name: BuiltinName, Manager: Builtin(d)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	d.Host = h
	r := NewRunner(context.Background(), hclog.NewNullLogger())
	RegisterAll(r, d)
	return r
}

func params(t *testing.T, s string) Params {
	t.Helper()
	var p Params
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func roundTrip(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGetCleanSteps(t *testing.T) {
	r := newRunner(t, false)
	res, err := r.Execute(context.Background(), "clean.get_clean_steps", params(t, `{"node":{},"ports":[]}`), false)
	if err != nil {
		t.Fatal(err)
	}
	got := roundTrip(t, res.CommandResult)
	want := map[string]any{
		"clean_steps": map[string]any{
			"fake": []any{map[string]any{
				"step": "wipe", "priority": float64(42), "interface": "deploy", "reboot_requested": false, "abortable": true,
			}},
			BuiltinName: []any{map[string]any{
				"step": "erase_devices", "priority": float64(10), "interface": "deploy", "reboot_requested": false, "abortable": true,
			}},
		},
		"hardware_manager_version": map[string]any{"fake_manager": "2.0", BuiltinName: "1.0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestGetDeployStepsHasWriteImage(t *testing.T) {
	r := newRunner(t, false)
	res, err := r.Execute(context.Background(), "deploy.get_deploy_steps", params(t, `{"node":{},"ports":[]}`), false)
	if err != nil {
		t.Fatal(err)
	}
	steps := roundTrip(t, res.CommandResult)["deploy_steps"].(map[string]any)[BuiltinName].([]any)
	if len(steps) != 1 || steps[0].(map[string]any)["step"] != "write_image" {
		t.Errorf("deploy steps = %v", steps)
	}
}

func TestExecuteCleanStep(t *testing.T) {
	versions := `{"fake_manager":"2.0","` + BuiltinName + `":"1.0"}`
	tests := []struct {
		name       string
		fail       bool
		params     string
		wantStatus Status
		wantErr    string
		wantResult string
	}{
		{"success echoes the step", false,
			`{"step":{"step":"wipe","interface":"deploy","priority":42,"args":{"n":1}},"node":{},"ports":[],"clean_version":` + versions + `}`,
			StatusSucceeded, "", `{"clean_result":{"wiped":{"n":1}},"clean_step":{"step":"wipe","interface":"deploy","priority":42,"args":{"n":1}}}`},
		{"version mismatch", false,
			`{"step":{"step":"wipe","interface":"deploy"},"node":{},"ports":[],"clean_version":{"fake_manager":"1.0"}}`,
			StatusVersionMismatch, "VersionMismatch", ""},
		{"hardware error keeps its class", true,
			`{"step":{"step":"wipe","interface":"deploy"},"node":{},"ports":[]}`,
			StatusFailed, "BlockDeviceEraseError", ""},
		{"unknown step", false,
			`{"step":{"step":"nope","interface":"deploy"},"node":{},"ports":[]}`,
			StatusFailed, "HardwareManagerMethodNotFound", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRunner(t, tt.fail)
			res, err := r.Execute(context.Background(), "clean.execute_clean_step", params(t, tt.params), true)
			if err != nil {
				t.Fatal(err)
			}
			if res.CommandStatus != tt.wantStatus || res.CommandName != "execute_clean_step" {
				t.Fatalf("result = %+v, want status %s", res, tt.wantStatus)
			}
			if tt.wantErr != "" {
				if res.CommandError == nil || res.CommandError.Type != tt.wantErr {
					t.Errorf("error = %+v, want %s", res.CommandError, tt.wantErr)
				}
				return
			}
			b, _ := json.Marshal(res.CommandResult)
			if string(b) != tt.wantResult {
				t.Errorf("result = %s\nwant %s", b, tt.wantResult)
			}
		})
	}
}

func TestExecuteStepValidation(t *testing.T) {
	r := newRunner(t, false)
	_, err := r.Execute(context.Background(), "clean.execute_clean_step", params(t, `{"step":{"interface":"deploy"}}`), false)
	if herr, ok := err.(*HTTPError); !ok || herr.Status != 400 {
		t.Fatalf("err = %v, want HTTP 400", err)
	}
}

func TestChooseDisk(t *testing.T) {
	disks := []any{
		map[string]any{"name": "/dev/sdb", "size": float64(8 << 30), "serial": "B", "rotational": true},
		map[string]any{"name": "/dev/sda", "size": float64(5 << 30), "serial": "A", "rotational": false},
		map[string]any{"name": "/dev/sdc", "size": float64(1 << 30), "serial": "C", "rotational": false},
	}
	tests := []struct {
		name  string
		node  string
		want  string // "" for DeviceNotFound
		disks []any
	}{
		{"smallest of at least 4 GiB", `{}`, "/dev/sda", disks},
		{"no node", ``, "/dev/sda", disks},
		{"name hint", `{"instance_info": {"root_device": {"name": "/dev/sdc"}}}`, "/dev/sdc", disks},
		{"name hint without /dev", `{"instance_info": {"root_device": {"name": "sdb"}}}`, "/dev/sdb", disks},
		{"serial with operator", `{"instance_info": {"root_device": {"serial": "s== B"}}}`, "/dev/sdb", disks},
		{"size in GiB", `{"instance_info": {"root_device": {"size": 8}}}`, "/dev/sdb", disks},
		{"size operator", `{"instance_info": {"root_device": {"size": ">= 6"}}}`, "/dev/sdb", disks},
		{"size and rotational operators", `{"instance_info": {"root_device": {"size": "<= 6", "rotational": "false"}}}`, "/dev/sda", disks},
		{"rotational", `{"instance_info": {"root_device": {"rotational": "false", "size": 1}}}`, "/dev/sdc", disks},
		{"properties hints", `{"properties": {"root_device": {"serial": "C"}}}`, "/dev/sdc", disks},
		{"instance_info preferred", `{"instance_info": {"root_device": {"serial": "A"}}, "properties": {"root_device": {"serial": "C"}}}`, "/dev/sda", disks},
		{"no match", `{"instance_info": {"root_device": {"serial": "Z"}}}`, "", disks},
		{"invalid hints", `{"instance_info": {"root_device": {"colour": "red"}}}`, "", disks},
		{"all too small", `{}`, "", disks[2:]},
		{"no disks", `{}`, "", nil},
		{"disks not block devices", `{}`, "", []any{map[string]any{"name": 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseDisk(tt.disks, json.RawMessage(tt.node))
			if tt.want == "" {
				// The error must be an *ipa.Error, serialised for Ironic
				// as {"type": "DeviceNotFound", ...}.
				var ser struct{ Type string }
				b, _ := json.Marshal(err)
				if err == nil || json.Unmarshal(b, &ser) != nil || ser.Type != "DeviceNotFound" {
					t.Fatalf("got %s, %v (%s); want DeviceNotFound", got, err, b)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %s", got, err, tt.want)
			}
		})
	}
}
